package gen

import "strconv"

// The encoders below are the hot loop of the generator: they append a row to
// a byte slice with strconv.Append* and hand-written formatting instead of
// encoding/json, encoding/csv and time.Format, which are several times
// slower. Every string they write comes from the generator's own tables, so
// JSON escaping only has to be correct, not fast. BenchmarkGenerate measures
// the result.

const csvHeader = "transaction_id,customer_id,amount,currency,country,merchant_id,merchant_category,channel,status,email,card_number,created_at\n"

// appendRow appends t as one line (JSON or CSV) ending in '\n'.
func appendRow(b []byte, t *txn, pop *population, csv bool) []byte {
	if csv {
		return appendCSV(b, t, pop)
	}
	return appendJSON(b, t, pop)
}

func appendJSON(b []byte, t *txn, pop *population) []byte {
	cust := &pop.customers[t.customer]
	m := &pop.merchants[t.merchant]
	b = append(b, '{')
	if !t.omitID {
		b = append(b, `"transaction_id":"tx_`...)
		b = appendHex16(b, t.id)
		b = append(b, `",`...)
	}
	b = append(b, `"customer_id":"`...)
	b = append(b, cust.id...)
	if t.legacyAmt {
		b = append(b, `","amt":`...)
	} else {
		b = append(b, `","amount":`...)
	}
	switch t.amtForm {
	case amtNumber:
		b = strconv.AppendFloat(b, float64(t.cents)/100, 'f', -1, 64)
	case amtString:
		b = append(b, '"')
		b = appendCents(b, t.cents)
		b = append(b, '"')
	case amtWord:
		b = append(b, `"abc"`...)
	case amtObject:
		b = append(b, `{"value":`...)
		b = appendCents(b, t.cents)
		b = append(b, `,"currency":`...)
		b = appendJSONString(b, t.currency)
		b = append(b, '}')
	}
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, t.currency)
	b = append(b, `,"country":`...)
	if t.nulls&nullCountry != 0 {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, t.country)
	}
	b = append(b, `,"merchant":{"id":"`...)
	b = append(b, m.id...)
	b = append(b, `","category":`...)
	if t.nulls&nullCategory != 0 {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, categories[m.category].name)
	}
	b = append(b, `},"channel":`...)
	if t.nulls&nullChannel != 0 {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, channels[t.channel])
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, t.status)
	b = append(b, `,"email":`...)
	if t.nulls&nullEmail != 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = appendEmail(b, cust.email, t.badUTF8)
		b = append(b, '"')
	}
	b = append(b, `,"card_number":`...)
	if t.nulls&nullCard != 0 {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, cust.card)
	}
	switch t.tsForm {
	case tsOmit:
	case tsUnixMs:
		b = append(b, `,"created_at":`...)
		b = strconv.AppendInt(b, t.tsMs, 10)
	case tsWord:
		b = append(b, `,"created_at":"yesterday"`...)
	default:
		b = append(b, `,"created_at":"`...)
		b = appendTimestamp(b, t.tsMs, t.tsForm)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

func appendCSV(b []byte, t *txn, pop *population) []byte {
	cust := &pop.customers[t.customer]
	m := &pop.merchants[t.merchant]
	if !t.omitID {
		b = append(b, "tx_"...)
		b = appendHex16(b, t.id)
	}
	b = append(b, ',')
	b = append(b, cust.id...)
	b = append(b, ',')
	switch t.amtForm {
	case amtWord, amtObject:
		b = append(b, "abc"...)
	case amtBareQuote:
		c := t.cents
		b = strconv.AppendInt(b, c/100, 10)
		b = append(b, `".`...)
		b = append(b, byte('0'+c%100/10), byte('0'+c%10))
	default:
		b = appendCents(b, t.cents)
	}
	b = append(b, ',')
	b = appendCSVField(b, t.currency)
	b = append(b, ',')
	if t.nulls&nullCountry == 0 {
		b = appendCSVField(b, t.country)
	}
	b = append(b, ',')
	b = append(b, m.id...)
	b = append(b, ',')
	if t.nulls&nullCategory == 0 {
		b = append(b, categories[m.category].name...)
	}
	b = append(b, ',')
	if t.nulls&nullChannel == 0 {
		b = append(b, channels[t.channel]...)
	}
	b = append(b, ',')
	b = appendCSVField(b, t.status)
	b = append(b, ',')
	if t.nulls&nullEmail == 0 {
		b = appendEmail(b, cust.email, t.badUTF8)
	}
	b = append(b, ',')
	if t.nulls&nullCard == 0 {
		b = append(b, cust.card...)
	}
	b = append(b, ',')
	switch t.tsForm {
	case tsOmit:
	case tsUnixMs:
		b = strconv.AppendInt(b, t.tsMs, 10)
	case tsWord:
		b = append(b, "yesterday"...)
	default:
		b = appendTimestamp(b, t.tsMs, t.tsForm)
	}
	return append(b, '\n')
}

// appendEmail writes an email (plain ASCII by construction); with bad set it
// puts a raw 0xff byte just before the '@'.
func appendEmail(b []byte, email string, bad bool) []byte {
	if !bad {
		return append(b, email...)
	}
	for i := 0; i < len(email); i++ {
		if email[i] == '@' {
			b = append(b, 0xff)
		}
		b = append(b, email[i])
	}
	return b
}

// appendCents writes a non-negative or negative amount in cents with exactly
// two decimals.
func appendCents(b []byte, c int64) []byte {
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	b = strconv.AppendInt(b, c/100, 10)
	return append(b, '.', byte('0'+c%100/10), byte('0'+c%10))
}

const hexDigits = "0123456789abcdef"

func appendHex16(b []byte, v uint64) []byte {
	var h [16]byte
	for i := 15; i >= 0; i-- {
		h[i] = hexDigits[v&15]
		v >>= 4
	}
	return append(b, h[:]...)
}

// appendJSONString writes s as a JSON string. Bytes >= 0x80 pass through
// untouched.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendCSVField writes s, quoted if it holds a comma, quote, line break or
// leading or trailing space.
func appendCSVField(b []byte, s string) []byte {
	need := len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ')
	for i := 0; i < len(s) && !need; i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			need = true
		}
	}
	if !need {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendTimestamp writes a Unix millisecond time in UTC as
// 2006-01-02T15:04:05.000Z (tsRFC3339) or 2006-01-02 15:04:05 (tsSpace).
// Times are after 1970 and before year 10000 (Options.Validate ensures it).
func appendTimestamp(b []byte, ms int64, form uint8) []byte {
	days := ms / msPerDay
	rem := ms % msPerDay
	y, mo, d := civilDate(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, mo)
	b = append(b, '-')
	b = append2(b, d)
	if form == tsSpace {
		b = append(b, ' ')
	} else {
		b = append(b, 'T')
	}
	sec := rem / 1000
	b = append2(b, int(sec/3600))
	b = append(b, ':')
	b = append2(b, int(sec/60%60))
	b = append(b, ':')
	b = append2(b, int(sec%60))
	if form == tsSpace {
		return b
	}
	f := rem % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10), 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// civilDate converts days since 1970-01-01 (>= 0) to a proleptic Gregorian
// date (H. Hinnant's days_from_civil, inverted).
func civilDate(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}
