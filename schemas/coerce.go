package schemas

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
	"golang.org/x/text/unicode/norm"
)

// CoerceOptions configures a Coercer.
type CoerceOptions struct {
	// PIIKey is the HMAC-SHA256 key for fields with pii: hash (from
	// $TXLAKE_PII_KEY). It must be non-empty when the schema has such a field.
	PIIKey []byte
}

// Coercer turns raw cells into typed, cleaned values under a schema's rules.
//
// A Coercer is NOT safe for concurrent use: it holds scratch buffers and an
// HMAC state. Create one per worker goroutine with NewCoercer; it is cheap
// (one small allocation per field plus an HMAC state).
type Coercer struct {
	s      *Schema
	fields []fieldRules
	mac    hash.Hash // nil unless some field hashes
	buf    []byte    // scratch for normalisation
	sum    []byte    // scratch for HMAC sums
	hexbuf []byte    // scratch for hex encoding
	list   []byte    // scratch for packing list elements
	jp     fastjson.Parser
}

// fieldRules is a field's rules compiled for coercion.
type fieldRules struct {
	f              *Field
	minI, maxI     int64 // int64 and decimal (unscaled) bounds
	minF, maxF     float64
	hasMin, hasMax bool
	enum           map[string]string // value -> the schema's own copy of it
	// norm is f.Normalize compiled.
	norm []normOp
	// cache maps the raw text of a low-cardinality string field kept as it
	// is (no PII policy: currencies, countries, statuses, merchant ids) to
	// its accepted value. A hit skips the UTF-8 check, normalisation, the
	// enum and pattern checks and the string allocation: one look-up per
	// cell. Rejected values are never cached. A field with memoLimit
	// distinct raw values stops using it.
	cache strCache
	// memo holds the masked forms of a pii: mask field (maskMemo), which
	// repeat far more than its values, while it has fewer than memoLimit.
	memo         strCache
	pattern      *simplePattern // f.Pattern's fast matcher, nil when it has none
	formats      []timeFormat
	maxIntDigits int
	// Preformatted details, so that rejecting a value costs one allocation.
	typeName, minDetail, maxDetail, formatDetail, enumDetail, patternDetail, rangeDetail string
}

type timeFormatKind uint8

const (
	fmtLayout timeFormatKind = iota
	fmtRFC3339
	fmtUnix
	fmtUnixMS
	fmtUnixUS
	fmtUnixNS
	fmtISODate // the layout "2006-01-02", which has a fast path
)

type timeFormat struct {
	kind   timeFormatKind
	layout string
}

// NewCoercer compiles the schema's rules for one worker. It returns a
// *SchemaError (a configuration error, exit 2) when a field has pii: hash and
// o.PIIKey is empty. The schema must not be modified while Coercers of it
// are in use.
func (s *Schema) NewCoercer(o CoerceOptions) (*Coercer, error) {
	c := &Coercer{s: s, fields: make([]fieldRules, len(s.Fields))}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.PII == PIIHash && len(o.PIIKey) == 0 {
			return nil, &SchemaError{File: s.File, Line: f.Line,
				Msg: "schema asks for pii: hash on field " + f.Name + " but $TXLAKE_PII_KEY is not set"}
		}
		r, err := compileRules(f)
		if err != nil {
			return nil, &SchemaError{File: s.File, Line: f.Line, Msg: "field " + strconv.Quote(f.Name) + ": " + err.Error()}
		}
		c.fields[i] = r
	}
	if s.HasPIIHash() || len(o.PIIKey) > 0 {
		c.mac = hmac.New(sha256.New, bytes.Clone(o.PIIKey))
	}
	return c, nil
}

func compileRules(f *Field) (fieldRules, error) {
	r := fieldRules{f: f, typeName: f.Type.String(), maxIntDigits: 19}
	if f.Type.Kind == KindDecimal {
		r.maxIntDigits = f.Type.Precision - f.Type.Scale
		r.rangeDetail = "exceeds " + r.typeName
	} else {
		r.rangeDetail = "out of " + r.typeName + " range"
	}
	bound := func(text string) (int64, float64, error) {
		switch f.Type.Kind {
		case KindInt64, KindDecimal:
			scale := 0
			if f.Type.Kind == KindDecimal {
				scale = f.Type.Scale
			}
			v, derr := parseDecimalSlow([]byte(text), scale, r.maxIntDigits)
			if derr != decOK {
				return 0, 0, errors.New("bound " + strconv.Quote(text) + " does not fit " + r.typeName)
			}
			return v, 0, nil
		case KindFloat64:
			v, err := strconv.ParseFloat(text, 64)
			return 0, v, err
		}
		return 0, 0, errors.New("min/max apply only to numeric fields")
	}
	var err error
	if f.MinText != "" {
		r.hasMin = true
		if r.minI, r.minF, err = bound(f.MinText); err != nil {
			return r, err
		}
		r.minDetail = "must be >= " + f.MinText
	}
	if f.MaxText != "" {
		r.hasMax = true
		if r.maxI, r.maxF, err = bound(f.MaxText); err != nil {
			return r, err
		}
		r.maxDetail = "must be <= " + f.MaxText
	}
	for _, op := range f.Normalize {
		switch op {
		case "trim":
			r.norm = append(r.norm, normTrim)
		case "upper":
			r.norm = append(r.norm, normUpper)
		case "lower":
			r.norm = append(r.norm, normLower)
		case "nfc":
			r.norm = append(r.norm, normNFC)
		default:
			return r, errors.New("unknown normalize step " + strconv.Quote(op))
		}
	}
	r.cache.off = f.PII != "" && f.PII != PIIKeep
	if len(f.Enum) > 0 {
		r.enum = make(map[string]string, len(f.Enum))
		for _, e := range f.Enum {
			r.enum[e] = e
		}
		r.enumDetail = "not one of the " + strconv.Itoa(len(f.Enum)) + " allowed values"
	}
	if f.Pattern != nil {
		r.patternDetail = "does not match " + f.PatternText
		r.pattern = compileSimplePattern(f.PatternText)
	}
	for _, fm := range f.Formats {
		tf := timeFormat{kind: fmtLayout, layout: fm}
		switch fm {
		case "rfc3339":
			tf.kind = fmtRFC3339
		case "unix":
			tf.kind = fmtUnix
		case "unix_ms":
			tf.kind = fmtUnixMS
		case "unix_us":
			tf.kind = fmtUnixUS
		case "unix_ns":
			tf.kind = fmtUnixNS
		case "2006-01-02":
			tf.kind = fmtISODate
		}
		r.formats = append(r.formats, tf)
	}
	switch n := len(f.Formats); {
	case n == 1:
		r.formatDetail = "not " + f.Formats[0]
	case n > 1:
		r.formatDetail = "not " + strings.Join(f.Formats[:n-1], ", ") + " or " + f.Formats[n-1]
	}
	return r, nil
}

func (r *fieldRules) fail(rule, detail string) *RuleError {
	return &RuleError{Field: r.f.Name, Rule: rule, Detail: detail}
}

// Coerce converts one raw cell of field s.Fields[fieldIndex] to its stored
// value, or says which rule it breaks. fieldIndex must be in range.
//
// The contract, per raw kind and field type:
//
//   - Missing (RawMissing) or null (RawNull): a required field fails rule
//     "required" ("missing required field" / "null in required field");
//     otherwise the value is null. For every type except string, a RawString
//     that is empty after trimming white space is null too (rule "required"
//     with "empty value in required field" when required). An empty string
//     in a string field is the empty string, not null.
//   - Text that is not valid UTF-8 fails rule "utf8".
//   - Objects and arrays (RawComposite), and booleans for types other than
//     bool, fail rule "type" ("expected int64, got object").
//   - string: RawString, or RawNumber kept verbatim as written. The normalize
//     steps run in order (trim = strings.TrimSpace, upper = strings.ToUpper,
//     lower = strings.ToLower, nfc = Unicode NFC); then enum (rule "enum"),
//     then pattern (rule "pattern"), both on the normalised value; then the
//     PII policy: keep stores the value; hash stores the lowercase hex
//     HMAC-SHA256 of the normalised value under CoerceOptions.PIIKey; mask
//     stores, for a value with exactly one '@', "***@" + its domain; for a
//     value of only digits, spaces and dashes with at least 12 digits (a card
//     number), one '*' per digit but the last 4, then those 4 digits; for
//     anything else, '*' for each rune but the last 4 (all '*' when it has 4
//     runes or fewer); drop validates the value and returns null (the field
//     is not stored).
//   - int64: an integer literal, RawNumber or (space-trimmed) RawString, with
//     optional sign, fraction of zeros ("12.0") and exponent ("1e3"). A
//     non-zero fraction fails "type" ("expected int64, got a fraction");
//     overflow fails "range".
//   - float64: anything strconv.ParseFloat accepts; NaN and ±Inf fail
//     "type", overflow fails "range".
//   - bool: RawBool; RawString true/false/t/f/1/0/yes/no in any case; RawNumber
//     0 or 1. Stored as Value.I 0 or 1.
//   - decimal(p,s): a number parsed exactly (no floating point): sign,
//     digits, optional fraction, optional exponent. Non-zero digits beyond s
//     decimal places fail "scale" ("more than 2 decimal places"); more than
//     p-s integer digits fail "range" ("exceeds decimal(18,2)"). Value.I is
//     the unscaled integer (123.45 in decimal(18,2) is 12345).
//   - timestamp: the formats are tried in order and the first that parses
//     wins. rfc3339 is strict RFC 3339 with optional fractional seconds (a
//     'T' separator and a zone are required; leap seconds are rejected);
//     unix, unix_ms, unix_us, unix_ns take integers (RawNumber or RawString);
//     any other format is a Go layout read in UTC unless it has a zone.
//     Value.I is microseconds since the epoch, UTC, truncated (floored) below
//     a microsecond. No format matching fails "format" ("not rfc3339,
//     unix_ms or 2006-01-02 15:04:05"); a result outside years 0001..9999 UTC
//     fails "range".
//   - date: the formats are Go layouts tried in order; Value.I is days since
//     1970-01-01 (of the UTC date when the layout has a zone).
//   - list<string>: a JSON array of strings (RawComposite), or a RawString
//     holding one (a CSV cell such as ["a","b"]; an empty cell is null).
//     Anything else fails "type" ("expected list<string> (a JSON array of
//     strings)"); a null or non-string element fails "type" too. Each
//     element goes through the string rules above (normalize, enum,
//     pattern, PII policy; rules fail with the element's position in the
//     detail). An empty array is an empty list, not null. The value is
//     packed as ListValue describes.
//   - min and max (numeric types): the coerced value is compared exactly
//     (decimals in unscaled units): rule "min" ("must be >= 0") or "max"
//     ("must be <= 1000000").
//
// A RuleError always names the field and never contains the value.
//
// Strings: Value.S never aliases raw.Text. It is a fresh allocation, except
// for enum fields, where it is the schema's own copy of the enum value (no
// allocation).
func (c *Coercer) Coerce(fieldIndex int, raw Raw) (Value, *RuleError) {
	r := &c.fields[fieldIndex]
	f := r.f
	switch raw.Kind {
	case RawMissing:
		if f.Required {
			return Value{}, r.fail("required", "missing required field")
		}
		return Value{Null: true}, nil
	case RawNull:
		if f.Required {
			return Value{}, r.fail("required", "null in required field")
		}
		return Value{Null: true}, nil
	case RawComposite:
		got := "object"
		if t := bytes.TrimSpace(raw.Text); len(t) > 0 && t[0] == '[' {
			got = "array"
		}
		if got == "array" && f.Type.Kind == KindStringList {
			return c.coerceList(r, raw.Text)
		}
		return Value{}, r.fail("type", "expected "+r.typeName+", got "+got)
	case RawBool:
		if f.Type.Kind != KindBool {
			return Value{}, r.fail("type", "expected "+r.typeName+", got bool")
		}
		if raw.Bool {
			return Value{I: 1}, nil
		}
		return Value{I: 0}, nil
	case RawString, RawNumber:
	default:
		return Value{}, r.fail("type", "expected "+r.typeName)
	}
	if f.Type.Kind == KindString {
		return c.coerceStringCached(r, raw.Text, raw.ASCII)
	}
	if !raw.ASCII && !utf8.Valid(raw.Text) {
		return Value{}, r.fail("utf8", "invalid UTF-8")
	}
	text := bytes.TrimSpace(raw.Text)
	if len(text) == 0 {
		if f.Required {
			return Value{}, r.fail("required", "empty value in required field")
		}
		return Value{Null: true}, nil
	}
	switch f.Type.Kind {
	case KindInt64:
		v, derr := parseDecimal(text, 0, 19)
		switch derr {
		case decSyntax:
			return Value{}, r.fail("type", "expected int64")
		case decScale:
			return Value{}, r.fail("type", "expected int64, got a fraction")
		case decRange:
			return Value{}, r.fail("range", r.rangeDetail)
		}
		return r.checkInt(v)
	case KindDecimal:
		v, derr := parseDecimal(text, f.Type.Scale, r.maxIntDigits)
		switch derr {
		case decSyntax:
			return Value{}, r.fail("type", "expected "+r.typeName)
		case decScale:
			return Value{}, r.fail("scale", "more than "+strconv.Itoa(f.Type.Scale)+" decimal places")
		case decRange:
			return Value{}, r.fail("range", r.rangeDetail)
		}
		return r.checkInt(v)
	case KindFloat64:
		// unsafe.String: ParseFloat neither keeps nor returns its input
		// (errors carry a copy), and text is not modified during the call.
		v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return Value{}, r.fail("range", r.rangeDetail)
			}
			return Value{}, r.fail("type", "expected float64")
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Value{}, r.fail("type", "expected a finite float64")
		}
		if r.hasMin && v < r.minF {
			return Value{}, r.fail("min", r.minDetail)
		}
		if r.hasMax && v > r.maxF {
			return Value{}, r.fail("max", r.maxDetail)
		}
		return FloatValue(v), nil
	case KindBool:
		if raw.Kind == RawNumber {
			switch string(text) {
			case "0":
				return Value{I: 0}, nil
			case "1":
				return Value{I: 1}, nil
			}
			return Value{}, r.fail("type", "expected bool")
		}
		switch {
		case asciiFoldEq(text, "true"), asciiFoldEq(text, "t"), asciiFoldEq(text, "1"), asciiFoldEq(text, "yes"):
			return Value{I: 1}, nil
		case asciiFoldEq(text, "false"), asciiFoldEq(text, "f"), asciiFoldEq(text, "0"), asciiFoldEq(text, "no"):
			return Value{I: 0}, nil
		}
		return Value{}, r.fail("type", "expected bool")
	case KindTimestamp:
		return r.coerceTimestamp(text)
	case KindDate:
		return r.coerceDate(text)
	case KindStringList:
		if raw.Kind == RawNumber {
			return Value{}, r.fail("type", "expected list<string>, got number")
		}
		return c.coerceList(r, text)
	}
	return Value{}, r.fail("type", "unsupported type "+r.typeName)
}

func (r *fieldRules) checkInt(v int64) (Value, *RuleError) {
	if r.hasMin && v < r.minI {
		return Value{}, r.fail("min", r.minDetail)
	}
	if r.hasMax && v > r.maxI {
		return Value{}, r.fail("max", r.maxDetail)
	}
	return Value{I: v}, nil
}

func asciiFoldEq(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// IsASCII reports whether b is all ASCII, 8 bytes at a time (the
// normalize steps and the CSV decoder call it per cell and per line).
func IsASCII(b []byte) bool {
	var seen uint64
	for len(b) >= 8 {
		seen |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		seen |= uint64(c)
	}
	return seen&0x8080808080808080 == 0
}

// normOp is one normalize step.
type normOp uint8

const (
	normTrim normOp = iota
	normUpper
	normLower
	normNFC
)

// coerceStringCached is coerceString behind the field's cache of accepted
// raw texts, and the UTF-8 check (a cached text was valid when it was
// cached). ascii says b is known to be ASCII.
func (c *Coercer) coerceStringCached(r *fieldRules, b []byte, ascii bool) (Value, *RuleError) {
	if v, ok := r.cache.get(b); ok {
		return Value{S: v}, nil
	}
	if !ascii && !utf8.Valid(b) {
		return Value{}, r.fail("utf8", "invalid UTF-8")
	}
	v, rerr := c.coerceString(r, b, ascii)
	if rerr != nil || r.cache.off || v.Null {
		return v, rerr
	}
	key := v.S
	if key != string(b) { // no allocation for the comparison
		key = string(b)
	}
	r.cache.add(key, v.S)
	return v, nil
}

// coerceString applies the string rules to b, which must be valid UTF-8
// (ascii: known to be ASCII).
func (c *Coercer) coerceString(r *fieldRules, b []byte, ascii bool) (Value, *RuleError) {
	owned := false // b is in c.buf and may be changed in place
	for _, op := range r.norm {
		switch op {
		case normTrim:
			b = bytes.TrimSpace(b)
		case normUpper, normLower:
			if !ascii && !IsASCII(b) {
				if op == normUpper {
					b = bytes.ToUpper(b)
				} else {
					b = bytes.ToLower(b)
				}
				owned = false // a fresh slice, but not c.buf
				continue
			}
			if !owned {
				c.buf = append(c.buf[:0], b...)
				b, owned = c.buf, true
			}
			if op == normUpper {
				for i, ch := range b {
					if 'a' <= ch && ch <= 'z' {
						b[i] = ch - ('a' - 'A')
					}
				}
			} else {
				for i, ch := range b {
					if 'A' <= ch && ch <= 'Z' {
						b[i] = ch + ('a' - 'A')
					}
				}
			}
		case normNFC:
			if norm.NFC.QuickSpan(b) != len(b) {
				b, owned = norm.NFC.Bytes(b), false
			}
		}
	}
	var canonical string
	if r.enum != nil {
		v, ok := r.enum[string(b)] // no allocation for a map lookup
		if !ok {
			return Value{}, r.fail("enum", r.enumDetail)
		}
		canonical = v
	}
	if r.f.Pattern != nil && !r.matchPattern(b) {
		return Value{}, r.fail("pattern", r.patternDetail)
	}
	switch r.f.PII {
	case PIIHash:
		c.mac.Reset()
		c.mac.Write(b)
		c.sum = c.mac.Sum(c.sum[:0])
		c.hexbuf = hex.AppendEncode(c.hexbuf[:0], c.sum)
		return Value{S: string(c.hexbuf)}, nil
	case PIIMask:
		// The masked forms (an e-mail's domain, a card's last digits) repeat
		// far more than the values: they are memoised, the values never are.
		c.hexbuf = appendMaskPII(c.hexbuf[:0], b)
		return Value{S: r.maskMemo(c.hexbuf)}, nil
	case PIIDrop:
		return Value{Null: true}, nil
	}
	if r.enum != nil {
		return Value{S: canonical}, nil
	}
	return Value{S: string(b)}, nil
}

func (r *fieldRules) matchPattern(b []byte) bool {
	if r.pattern != nil {
		return r.pattern.match(b)
	}
	return r.f.Pattern.Match(b)
}

// memoLimit is the number of distinct values a string field may have and
// still be memoised.
const memoLimit = 4096

// maskMemo returns masked as a string, from the field's memo of masked
// forms while it has fewer than memoLimit of them.
func (r *fieldRules) maskMemo(masked []byte) string {
	if v, ok := r.memo.get(masked); ok {
		return v
	}
	v := string(masked)
	r.memo.add(v, v)
	return v
}

// maskPII applies the mask policy documented on Coerce.
func maskPII(b []byte) string { return string(appendMaskPII(nil, b)) }

// appendMaskPII appends the masked form of b to dst.
func appendMaskPII(dst, b []byte) []byte {
	if at := bytes.IndexByte(b, '@'); at >= 0 && bytes.IndexByte(b[at+1:], '@') < 0 {
		return append(append(dst, "***@"...), b[at+1:]...)
	}
	digits, cardLike := 0, true
	for _, ch := range b {
		switch {
		case ch >= '0' && ch <= '9':
			digits++
		case ch == ' ' || ch == '-':
		default:
			cardLike = false
		}
	}
	if cardLike && digits >= 12 {
		for range digits - 4 {
			dst = append(dst, '*')
		}
		var last [4]byte
		k := 4
		for i := len(b) - 1; i >= 0 && k > 0; i-- {
			if b[i] >= '0' && b[i] <= '9' {
				k--
				last[k] = b[i]
			}
		}
		return append(dst, last[:]...)
	}
	n := utf8.RuneCount(b)
	if n <= 4 {
		return append(dst, strings.Repeat("*", n)...)
	}
	// Keep the last 4 runes.
	cut := len(b)
	for range 4 {
		_, size := utf8.DecodeLastRune(b[:cut])
		cut -= size
	}
	return append(append(dst, strings.Repeat("*", n-4)...), b[cut:]...)
}

func (r *fieldRules) coerceTimestamp(text []byte) (Value, *RuleError) {
	for _, tf := range r.formats {
		var us int64
		switch tf.kind {
		case fmtRFC3339:
			v, ok := parseRFC3339Fast(text)
			if !ok {
				// time.Parse only for what it could take: its layout fixes
				// the 'T' at index 10, and its errors cost more than a
				// match (the other formats' values come here first).
				if len(text) < 20 || (text[10] != 'T' && text[10] != 't') {
					continue
				}
				t, err := time.Parse(time.RFC3339Nano, string(text))
				if err != nil {
					continue
				}
				v = t.UnixMicro()
				if t.Year() < 1 || t.Year() > 9999 { // UnixMicro is only defined within ±292,000 years
					return Value{}, r.fail("range", "outside years 0001..9999")
				}
			}
			us = v
		case fmtUnix, fmtUnixMS, fmtUnixUS, fmtUnixNS:
			n, derr := parseDecimal(text, 0, 19)
			if derr == decSyntax || derr == decScale {
				continue
			}
			if derr == decRange {
				return Value{}, r.fail("range", "outside years 0001..9999")
			}
			var ok bool
			switch tf.kind {
			case fmtUnix:
				us, ok = mulCheck(n, microsPerSecond)
			case fmtUnixMS:
				us, ok = mulCheck(n, 1000)
			case fmtUnixUS:
				us, ok = n, true
			case fmtUnixNS:
				us, ok = floorDiv(n, 1000), true
			}
			if !ok {
				return Value{}, r.fail("range", "outside years 0001..9999")
			}
		default: // Go layouts, including "2006-01-02"
			t, err := time.ParseInLocation(tf.layout, string(text), time.UTC)
			if err != nil {
				continue
			}
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				return Value{}, r.fail("range", "outside years 0001..9999")
			}
			us = t.UnixMicro()
		}
		if us < minMicros || us > maxMicros {
			return Value{}, r.fail("range", "outside years 0001..9999")
		}
		return Value{I: us}, nil
	}
	return Value{}, r.fail("format", r.formatDetail)
}

func mulCheck(a, b int64) (int64, bool) {
	if a > math.MaxInt64/b || a < math.MinInt64/b {
		return 0, false
	}
	return a * b, true
}

func (r *fieldRules) coerceDate(text []byte) (Value, *RuleError) {
	for _, tf := range r.formats {
		days, ok := int64(0), false
		if tf.kind == fmtISODate {
			days, ok = parseISODateFast(text)
		}
		if !ok {
			t, err := time.ParseInLocation(tf.layout, string(text), time.UTC)
			if err != nil {
				continue
			}
			t = t.UTC()
			if y := t.Year(); y < 1 || y > 9999 {
				return Value{}, r.fail("range", "outside years 0001..9999")
			}
			days = floorDiv(t.Unix(), secondsPerDay)
		}
		if days < minDay || days > maxDay {
			return Value{}, r.fail("range", "outside years 0001..9999")
		}
		return Value{I: days}, nil
	}
	return Value{}, r.fail("format", r.formatDetail)
}

// Redaction modes for raw lines in quarantine (ingest --quarantine-redact).
const (
	RedactMask = "mask"
	RedactHash = "hash"
)

// IsPIIField reports whether field i holds personal data: a pii tag, or a
// PII policy other than keep.
func (s *Schema) IsPIIField(i int) bool {
	f := &s.Fields[i]
	if f.PII != "" && f.PII != PIIKeep {
		return true
	}
	for _, t := range f.Tags {
		if t == "pii" || strings.HasPrefix(t, "pii:") {
			return true
		}
	}
	return false
}

// Redact returns the redacted form of a raw PII value: mode RedactMask
// applies the mask policy's rules, RedactHash the hex HMAC-SHA256 under
// CoerceOptions.PIIKey (NewCoercer's caller must have given one). It never
// fails and never returns the value itself, except that masking keeps what
// the mask policy keeps (an email's domain, a card's last 4 digits).
func (c *Coercer) Redact(value []byte, mode string) string {
	if mode == RedactHash && c.mac != nil {
		c.mac.Reset()
		c.mac.Write(value)
		c.sum = c.mac.Sum(c.sum[:0])
		return hex.EncodeToString(c.sum)
	}
	return maskPII(value)
}

// coerceList parses text as a JSON array of strings and coerces each element
// under the field's string rules.
func (c *Coercer) coerceList(r *fieldRules, text []byte) (Value, *RuleError) {
	if !utf8.Valid(text) {
		return Value{}, r.fail("utf8", "invalid UTF-8")
	}
	jv, err := c.jp.ParseBytes(text)
	if err != nil || jv.Type() != fastjson.TypeArray {
		return Value{}, r.fail("type", "expected list<string> (a JSON array of strings)")
	}
	elems, _ := jv.Array()
	c.list = c.list[:0]
	for i, e := range elems {
		switch e.Type() {
		case fastjson.TypeString:
		case fastjson.TypeNull:
			return Value{}, r.fail("type", "element "+strconv.Itoa(i)+" is null (list<string> elements must be strings)")
		default:
			return Value{}, r.fail("type", "element "+strconv.Itoa(i)+" is "+e.Type().String()+" (list<string> elements must be strings)")
		}
		b := e.GetStringBytes()
		v, rerr := c.coerceStringCached(r, b, false) // checks UTF-8 (defensive: unescaping valid text gives valid text)
		if rerr != nil {
			rerr.Detail = "element " + strconv.Itoa(i) + ": " + rerr.Detail
			return Value{}, rerr
		}
		c.list = binary.AppendUvarint(c.list, uint64(len(v.S)))
		c.list = append(c.list, v.S...)
	}
	if r.f.PII == PIIDrop {
		return Value{Null: true}, nil
	}
	return Value{I: int64(len(elems)), S: string(c.list)}, nil
}
