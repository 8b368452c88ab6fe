package gen

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Fault kinds, the keys of Summary.Faults.
const (
	FaultMalformed    = "malformed"     // truncated JSON line; CSV line with too few columns or a stray quote
	FaultWrongType    = "wrong_type"    // amount "abc" or an object, created_at "yesterday"
	FaultMissingField = "missing_field" // no transaction_id or no created_at
	FaultBadValue     = "bad_value"     // negative amount, currency "EURO", status "pending"
	FaultInvalidUTF8  = "invalid_utf8"  // a raw 0xff byte inside the email
	FaultDuplicate    = "duplicate"     // an earlier row of the same day again, byte for byte
	FaultLate         = "late"          // a valid row whose created_at is 1–3 days before the file's day
	FaultEmptyLine    = "empty_line"    // a blank line before a row; not itself a row
)

// FaultKinds lists the fault kinds in a stable order.
func FaultKinds() []string {
	return []string{FaultMalformed, FaultWrongType, FaultMissingField, FaultBadValue,
		FaultInvalidUTF8, FaultDuplicate, FaultLate, FaultEmptyLine}
}

type faultKind uint8

const (
	faultNone faultKind = iota
	faultMalformed
	faultWrongType
	faultMissingField
	faultBadValue
	faultInvalidUTF8
	faultDuplicate
	faultLate
	faultEmptyLine
	numFaultKinds
)

func (k faultKind) String() string {
	if k == faultNone {
		return "none"
	}
	return FaultKinds()[k-1]
}

// Timestamp renderings of created_at.
const (
	tsRFC3339 uint8 = iota // 2026-01-02T12:34:56.789Z
	tsUnixMs               // 1767357296789 (a JSON number)
	tsSpace                // 2026-01-02 12:34:56
	tsOmit                 // fault: no created_at
	tsWord                 // fault: "yesterday"
)

// Amount renderings.
const (
	amtNumber    uint8 = iota // 12.34
	amtString                 // "12.34"
	amtWord                   // fault: "abc"
	amtObject                 // fault: {"value":12.34,"currency":"EUR"}
	amtBareQuote              // fault (CSV): 12"34
)

// Optional fields that a drift may null, as bits of txn.nulls.
const (
	nullEmail uint8 = 1 << iota
	nullCountry
	nullChannel
	nullCard
	nullCategory
)

var nullBits = map[string]uint8{
	"email": nullEmail, "country": nullCountry, "channel": nullChannel,
	"card_number": nullCard, "merchant_category": nullCategory,
}

// txn is one row with every rendering choice already made, so that
// encoding it twice gives the same bytes (duplicates rely on that).
type txn struct {
	id        uint64
	tsMs      int64
	cents     int64
	currency  string
	country   string
	status    string
	customer  int32
	merchant  int32
	channel   uint8
	tsForm    uint8
	amtForm   uint8
	nulls     uint8
	legacyAmt bool // key "amt" instead of "amount"
	omitID    bool
	badUTF8   bool
}

// dayStats counts what one day's file holds.
type dayStats struct {
	rows      int64
	faults    [numFaultKinds]int64
	fraud     [numFraudKinds]int64
	labelFile File
}

// dayPlan is everything needed to generate one day.
type dayPlan struct {
	pop        *population
	seed       int64
	day        time.Time // UTC midnight
	rows       int
	csv        bool
	faultRate  float64
	drift      *Drift // nil unless the drift applies to this day
	nullRates  [5]float64
	nullMasks  [5]uint8
	countryCum []float64 // cumulative drift country shares
	countryIdx []int
	amtScale   float64
	fraud      *fraudState // nil unless Options.FraudRate > 0
}

func newDayPlan(pop *population, o *Options, day time.Time) *dayPlan {
	p := &dayPlan{pop: pop, seed: o.Seed, day: day, rows: o.RowsPerDay, csv: o.Format == FormatCSV,
		faultRate: o.FaultRate, amtScale: 1}
	if o.FraudRate > 0 {
		p.fraud = newFraudState(o.Seed, day, o.RowsPerDay, o.FraudRate)
	}
	if d := o.Drift; d != nil && !day.Before(d.From) {
		p.drift = d
		if d.AmountScale > 0 {
			p.amtScale = d.AmountScale
		}
		var s float64
		for _, c := range d.Countries {
			s += c.Share
			p.countryCum = append(p.countryCum, s)
			p.countryIdx = append(p.countryIdx, countryIndex(c.Code))
		}
		for i, f := range NullableFields() {
			p.nullRates[i] = d.NullRates[f]
			p.nullMasks[i] = nullBits[f]
		}
	}
	return p
}

// dailyCDF is the cumulative share of a day's transactions by minute (UTC):
// few at night, peaks at lunch and in the evening.
var dailyCDF = func() []float64 {
	hourly := [24]float64{0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.35, 0.60, 0.85, 0.95, 1.00, 1.30,
		1.80, 1.60, 1.10, 1.00, 1.05, 1.25, 1.60, 1.90, 1.80, 1.30, 0.80, 0.45}
	cdf := make([]float64, 1441)
	for m := range 1440 {
		// interpolate between hour midpoints
		h := (float64(m)+0.5)/60 - 0.5
		h0 := int(math.Floor(h))
		f := h - float64(h0)
		a, b := hourly[(h0+24)%24], hourly[(h0+1)%24]
		cdf[m+1] = cdf[m] + a + (b-a)*f
	}
	for i := range cdf {
		cdf[i] /= cdf[1440]
	}
	return cdf
}()

// msOfDay maps u in [0,1) to a millisecond of the day along dailyCDF.
func msOfDay(u float64) int64 {
	m := sort.SearchFloat64s(dailyCDF, u) - 1 // dailyCDF[m] < u <= dailyCDF[m+1]
	m = max(0, min(m, 1439))
	lo, hi := dailyCDF[m], dailyCDF[m+1]
	f := 0.0
	if hi > lo {
		f = (u - lo) / (hi - lo)
	}
	return int64((float64(m) + f) * 60000)
}

const msPerDay = 86400000

// dayNumber is the day's index since 1970-01-01.
func dayNumber(day time.Time) int64 { return day.Unix() / 86400 }

// txID derives the transaction id of row i of a day: a bijection of
// (day, row) keyed by the seed, so ids are unique and deterministic.
func txID(seed int64, dayNum int64, row int) uint64 {
	return mix64((uint64(dayNum)<<32 | uint64(uint32(row))) ^ mix64(uint64(seed)+0x7478696473)) // "txids"
}

// generateDay writes one day's lines to w. If kinds is not nil, it receives
// the fault kind of every line written (faultNone for clean rows; the CSV
// header is not a line here).
func generateDay(ctx context.Context, p *dayPlan, w io.Writer, kinds *[]faultKind) (dayStats, error) {
	var st dayStats
	dn := dayNumber(p.day)
	r := rand.New(rand.NewPCG(mix64(uint64(p.seed)), mix64(uint64(dn)^0x646179))) // "day"
	dayStartMs := p.day.UnixMilli()
	pop := p.pop

	buf := make([]byte, 0, 1<<18)
	if p.csv {
		buf = append(buf, csvHeader...)
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	note := func(k faultKind) {
		if kinds != nil {
			*kinds = append(*kinds, k)
		}
	}

	var recent [64]txn // clean rows that a duplicate may repeat
	nRecent := 0
	for i := 0; i < p.rows; i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		if len(buf) >= cap(buf)-4096 {
			if err := flush(); err != nil {
				return st, err
			}
		}
		fk := fraudNone
		if p.fraud != nil {
			fk = p.fraud.slot(p, i)
		}
		fault := faultNone
		if fk == fraudNone && p.faultRate > 0 && r.Float64() < p.faultRate {
			fault = faultKind(1 + r.IntN(int(numFaultKinds)-1))
		}
		if fault == faultDuplicate {
			if nRecent == 0 {
				fault = faultNone
			} else {
				t := &recent[r.IntN(min(nRecent, len(recent)))]
				buf = appendRow(buf, t, pop, p.csv)
				st.rows++
				st.faults[fault]++
				note(fault)
				continue
			}
		}
		if fault == faultEmptyLine {
			buf = append(buf, '\n')
			st.faults[fault]++
			note(fault)
			fault = faultNone
		}

		// Event time: row i sits at quantile (i+U)/N of the daily rhythm, so
		// rows come out in time order apart from up to half a second of jitter.
		u := (float64(i) + r.Float64()) / float64(p.rows)
		ms := msOfDay(u) + int64(r.IntN(1001)) - 500
		ms = max(0, min(ms, msPerDay-1))
		var t txn
		t.tsMs = dayStartMs + ms
		t.id = txID(p.seed, dn, i)
		p.fillRow(r, &t)
		if fk != fraudNone {
			p.fraud.apply(p, fk, &t)
		}

		start := len(buf)
		switch fault {
		case faultMalformed:
			if p.csv && r.IntN(2) == 0 {
				t.amtForm = amtBareQuote
				buf = appendRow(buf, &t, pop, p.csv)
			} else {
				// a line cut short, as by a crashed writer: never valid JSON
				// (no closing brace), and fewer than 12 CSV columns.
				buf = appendRow(buf, &t, pop, p.csv)
				line := buf[start : len(buf)-1]
				cut := 1 + r.IntN(len(line)-2)
				if p.csv {
					cut = lastCommaBefore(line, cut)
				}
				buf = append(buf[:start+cut], '\n')
			}
		case faultWrongType:
			switch r.IntN(3) {
			case 0:
				t.amtForm = amtWord
			case 1:
				t.amtForm = amtObject
				if p.csv {
					t.amtForm = amtWord
				}
			default:
				t.tsForm = tsWord
			}
			buf = appendRow(buf, &t, pop, p.csv)
		case faultMissingField:
			if r.IntN(2) == 0 {
				t.omitID = true
			} else {
				t.tsForm = tsOmit
			}
			buf = appendRow(buf, &t, pop, p.csv)
		case faultBadValue:
			switch r.IntN(3) {
			case 0:
				t.cents = -t.cents
			case 1:
				t.currency = "EURO"
			default:
				t.status = "pending"
			}
			buf = appendRow(buf, &t, pop, p.csv)
		case faultInvalidUTF8:
			t.badUTF8 = true
			t.nulls &^= nullEmail
			buf = appendRow(buf, &t, pop, p.csv)
		case faultLate:
			t.tsMs -= msPerDay + r.Int64N(2*msPerDay+1)
			buf = appendRow(buf, &t, pop, p.csv)
		default:
			buf = appendRow(buf, &t, pop, p.csv)
			if fk == fraudNone { // fraud rows are never repeated
				recent[nRecent%len(recent)] = t
				nRecent++
			}
		}
		st.rows++
		st.faults[fault]++
		note(fault)
	}
	return st, flush()
}

// lastCommaBefore returns the index of the last comma before n, or n if
// there is none, so a cut CSV line ends at a field boundary.
func lastCommaBefore(line []byte, n int) int {
	for j := n - 1; j > 0; j-- {
		if line[j] == ',' {
			return j
		}
	}
	return n
}

// fillRow draws the content and the rendering of a clean row.
func (p *dayPlan) fillRow(r *rand.Rand, t *txn) {
	pop := p.pop
	// customer: low indexes are the most active
	u := r.Float64()
	ci := int32(u * u * float64(len(pop.customers)))
	if p.fraud != nil { // no customer so active that they look like a burst
		ci = int32(u * float64(len(pop.customers)))
	}
	cust := &pop.customers[ci]
	country := int(cust.country)
	drifted := false
	if len(p.countryCum) > 0 {
		v := r.Float64()
		for k, c := range p.countryCum {
			if v < c {
				// a customer from the drift country, at home
				country, drifted = p.countryIdx[k], true
				if l := pop.byCountry[country]; len(l) > 0 {
					ci = l[r.IntN(len(l))]
					cust = &pop.customers[ci]
				}
				break
			}
		}
	}
	if !drifted && p.fraud == nil && r.Float64() < 0.03 { // abroad (with fraud on, only novelty rows are)
		for range 4 {
			if c := pick(r, pop.countryCum); c != country {
				country = c
				break
			}
		}
	}
	t.customer = ci
	ct := &countries[country]
	t.country = ct.code
	t.currency = ct.currency

	cat := pick(r, pop.categoryCum)
	ms := pop.byCategory[cat]
	v := r.Float64()
	t.merchant = ms[int(v*v*float64(len(ms)))]

	c := &categories[cat]
	amt := c.median * math.Exp(c.sigma*r.NormFloat64()) * cust.level * ct.fx * p.amtScale
	if ct.wholeAmt {
		amt = math.Round(amt)
	}
	t.cents = max(1, min(int64(math.Round(amt*100)), 100_000_000))

	if r.Float64() < 0.7 {
		t.channel = cust.channel
	} else {
		t.channel = uint8(r.IntN(3))
	}
	switch s := r.Float64(); {
	case s < 0.82:
		t.status = "captured"
	case s < 0.92:
		t.status = "authorized"
	case s < 0.97:
		t.status = "declined"
	default:
		t.status = "refunded"
	}

	// stray casing and whitespace, for the normalisers
	if r.Float64() < 0.02 {
		t.status = statusVariants[t.status][r.IntN(3)]
	}
	if r.Float64() < 0.02 {
		t.currency = currencyVariant(t.currency, r.IntN(4))
	}
	if p.drift != nil && p.drift.NewCurrency != "" && r.Float64() < newCurrencyShare {
		t.currency = p.drift.NewCurrency
	}

	switch v := r.Float64(); {
	case v < 0.05:
		t.tsForm = tsUnixMs
	case v < 0.08:
		t.tsForm = tsSpace
	default:
		t.tsForm = tsRFC3339
	}
	if r.Float64() < 0.10 {
		t.amtForm = amtString
	}
	t.legacyAmt = r.Float64() < 0.05

	if p.drift != nil {
		for k, rate := range p.nullRates {
			if rate > 0 && r.Float64() < rate {
				t.nulls |= p.nullMasks[k]
			}
		}
	}
}

var statusVariants = map[string][3]string{
	"captured":   {"Captured", "CAPTURED", " captured "},
	"authorized": {"Authorized", "AUTHORIZED", "authorized "},
	"declined":   {"Declined", "DECLINED", " declined"},
	"refunded":   {"Refunded", "REFUNDED", "refunded  "},
}

func currencyVariant(c string, k int) string {
	lower := string([]byte{c[0] | 0x20, c[1] | 0x20, c[2] | 0x20})
	switch k {
	case 0:
		return " " + lower
	case 1:
		return lower
	case 2:
		return string(c[0]) + lower[1:] + " "
	default:
		return c + " "
	}
}
