package schemas

// Timestamp and date parsing. RFC 3339 ("2026-01-02T15:04:05.123Z") and
// ISO dates ("2026-01-02") are what nearly every log line holds, so they have
// allocation-free fast paths here (BenchmarkCoerceTimestamp). The fast paths
// only ever accept; whenever one declines, time.Parse decides, so their
// results are by construction those of the standard library.

const (
	microsPerSecond = 1_000_000
	secondsPerDay   = 86_400
	microsPerDay    = secondsPerDay * microsPerSecond
)

// The storable range: years 0001 to 9999, UTC.
var (
	minDay    = daysFromCivil(1, 1, 1)
	maxDay    = daysFromCivil(9999, 12, 31)
	minMicros = minDay * microsPerDay
	maxMicros = (maxDay+1)*microsPerDay - 1
)

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digits2 and digits4 read fixed-width decimal numbers; ok is false if a byte
// is not a digit.
func digits2(b []byte) (int64, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	return int64(d0)*10 + int64(d1), d0 <= 9 && d1 <= 9
}

func digits4(b []byte) (int64, bool) {
	hi, ok1 := digits2(b)
	lo, ok2 := digits2(b[2:])
	return hi*100 + lo, ok1 && ok2
}

// parseISODateFast parses exactly "YYYY-MM-DD" into days since the epoch.
func parseISODateFast(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits4(b)
	m, ok2 := digits2(b[5:])
	d, ok3 := digits2(b[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// parseRFC3339Fast parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)" into
// microseconds since the epoch, truncating below a microsecond.
func parseRFC3339Fast(b []byte) (int64, bool) {
	if len(b) < 20 || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	days, ok := parseISODateFast(b[:10])
	if !ok {
		return 0, false
	}
	hh, ok1 := digits2(b[11:])
	mi, ok2 := digits2(b[14:])
	ss, ok3 := digits2(b[17:])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mi > 59 || ss > 59 {
		return 0, false
	}
	i := 19
	var frac int64
	if b[i] == '.' {
		i++
		nd := 0
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if nd < 6 {
				frac = frac*10 + int64(b[i]-'0')
			}
			nd++
		}
		if nd == 0 || nd > 9 {
			return 0, false
		}
		for ; nd < 6; nd++ {
			frac *= 10
		}
	}
	var off int64
	switch {
	case i < len(b) && b[i] == 'Z':
		i++
	case i+6 <= len(b) && (b[i] == '+' || b[i] == '-') && b[i+3] == ':':
		oh, ok1 := digits2(b[i+1:])
		om, ok2 := digits2(b[i+4:])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = oh*3600 + om*60
		if b[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	secs := days*secondsPerDay + hh*3600 + mi*60 + ss - off
	return secs*microsPerSecond + frac, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
