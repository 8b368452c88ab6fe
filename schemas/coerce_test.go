package schemas

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

const coerceSchema = `table: t
event_time: ts
fields:
  - name: s
    type: string
  - name: cur
    type: string
    required: true
    normalize: [trim, upper]
    pattern: '^[A-Z]{3}$'
  - name: status
    type: string
    normalize: [trim, lower]
    enum: [authorized, captured, refunded, declined]
  - name: n
    type: int64
    min: -5
    max: 1000000
  - name: f
    type: float64
    min: 0
  - name: b
    type: bool
  - name: amount
    type: decimal(18,2)
    min: 0
    max: 1000000
  - name: ts
    type: timestamp
    required: true
    formats: [rfc3339, unix_ms, "2006-01-02 15:04:05"]
  - name: d
    type: date
  - name: email
    type: string
    normalize: [trim, lower]
    pii: hash
  - name: masked
    type: string
    pii: mask
  - name: dropped
    type: string
    pii: drop
  - name: nfc
    type: string
    normalize: [nfc]
  - name: small
    type: decimal(4,4)
  - name: us
    type: timestamp
    formats: [unix, unix_us, unix_ns]
`

var testPIIKey = []byte("secret")

func newTestCoercer(t testing.TB) (*Schema, *Coercer) {
	t.Helper()
	return parseCoercer(t, coerceSchema, testPIIKey)
}

// parseCoercer parses a schema and compiles its Coercer with the PII key.
func parseCoercer(t testing.TB, yaml string, piiKey []byte) (*Schema, *Coercer) {
	t.Helper()
	s, err := Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCoercer(CoerceOptions{PIIKey: piiKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// coerceRows coerces each input (absent fields are RawMissing) into a row
// of values, failing the test on a rejected value.
func coerceRows(t *testing.T, s *Schema, c *Coercer, inputs ...map[string]Raw) [][]Value {
	t.Helper()
	var out [][]Value
	for _, in := range inputs {
		vals := make([]Value, len(s.Fields))
		for i, f := range s.Fields {
			v, rerr := c.Coerce(i, in[f.Name])
			if rerr != nil {
				t.Fatalf("%s: %v", f.Name, rerr)
			}
			vals[i] = v
		}
		out = append(out, vals)
	}
	return out
}

func str(s string) Raw   { return Raw{Kind: RawString, Text: []byte(s)} }
func num(s string) Raw   { return Raw{Kind: RawNumber, Text: []byte(s)} }
func boolean(b bool) Raw { return Raw{Kind: RawBool, Bool: b} }

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func hmacHex(v string) string {
	h := hmac.New(sha256.New, testPIIKey)
	h.Write([]byte(v))
	return hex.EncodeToString(h.Sum(nil))
}

func TestCoerce(t *testing.T) {
	s, c := newTestCoercer(t)
	null := Value{Null: true}
	tests := []struct {
		field  string
		raw    Raw
		want   Value
		rule   string // expected RuleError rule, "" for success
		detail string // substring of the detail
	}{
		// null handling
		{"s", Raw{Kind: RawMissing}, null, "", ""},
		{"s", Raw{Kind: RawNull}, null, "", ""},
		{"s", str(""), Value{S: ""}, "", ""},
		{"cur", Raw{Kind: RawMissing}, Value{}, "required", "missing required field"},
		{"cur", Raw{Kind: RawNull}, Value{}, "required", "null in required field"},
		{"n", str("  "), null, "", ""},
		{"ts", str(""), Value{}, "required", "empty value in required field"},
		// utf8 and types
		{"s", str("a\xffb"), Value{}, "utf8", "invalid UTF-8"},
		{"n", str("1\xff"), Value{}, "utf8", ""},
		{"s", boolean(true), Value{}, "type", "expected string, got bool"},
		{"s", Raw{Kind: RawComposite, Text: []byte(`{"a":1}`)}, Value{}, "type", "expected string, got object"},
		{"s", Raw{Kind: RawComposite, Text: []byte(`[1]`)}, Value{}, "type", "got array"},
		{"s", num("1.50e3"), Value{S: "1.50e3"}, "", ""},
		// normalize, enum, pattern
		{"cur", str(" eur "), Value{S: "EUR"}, "", ""},
		{"cur", str("euro"), Value{}, "pattern", "does not match ^[A-Z]{3}$"},
		{"status", str(" Captured"), Value{S: "captured"}, "", ""},
		{"status", str("void"), Value{}, "enum", "not one of the 4 allowed values"},
		{"cur", str("éur"), Value{}, "pattern", ""},
		{"nfc", str("e\u0301"), Value{S: "\u00e9"}, "", ""},
		// int64
		{"n", num("12"), Value{I: 12}, "", ""},
		{"n", num("12.0"), Value{I: 12}, "", ""},
		{"n", str(" 12 "), Value{I: 12}, "", ""},
		{"n", num("1e3"), Value{I: 1000}, "", ""},
		{"n", num("12.5"), Value{}, "type", "expected int64, got a fraction"},
		{"n", num("abc"), Value{}, "type", "expected int64"},
		{"n", num("99999999999999999999"), Value{}, "range", "out of int64 range"},
		{"n", num("-6"), Value{}, "min", "must be >= -5"},
		{"n", num("1000001"), Value{}, "max", "must be <= 1000000"},
		{"n", boolean(true), Value{}, "type", "expected int64, got bool"},
		// float64
		{"f", num("1.5"), FloatValue(1.5), "", ""},
		{"f", str(" 2e3 "), FloatValue(2000), "", ""},
		{"f", str("NaN"), Value{}, "type", "finite"},
		{"f", str("inf"), Value{}, "type", ""},
		{"f", num("1e400"), Value{}, "range", ""},
		{"f", num("-0.1"), Value{}, "min", "must be >= 0"},
		{"f", str("x"), Value{}, "type", "expected float64"},
		// bool
		{"b", boolean(true), Value{I: 1}, "", ""},
		{"b", boolean(false), Value{I: 0}, "", ""},
		{"b", str("YES"), Value{I: 1}, "", ""},
		{"b", str(" f "), Value{I: 0}, "", ""},
		{"b", str("False"), Value{I: 0}, "", ""},
		{"b", num("1"), Value{I: 1}, "", ""},
		{"b", num("2"), Value{}, "type", "expected bool"},
		{"b", str("maybe"), Value{}, "type", "expected bool"},
		// decimal
		{"amount", num("123.45"), Value{I: 12345}, "", ""},
		{"amount", num("123"), Value{I: 12300}, "", ""},
		{"amount", str("7.5"), Value{I: 750}, "", ""},
		{"amount", num("-0.00"), Value{I: 0}, "", ""},
		{"amount", num("1e2"), Value{I: 10000}, "", ""},
		{"amount", num("1.2345E2"), Value{I: 12345}, "", ""},
		{"amount", num("0.100"), Value{I: 10}, "", ""},
		{"amount", num("0.105"), Value{}, "scale", "more than 2 decimal places"},
		{"amount", num("1000000.01"), Value{}, "max", "must be <= 1000000"},
		{"amount", num("-0.01"), Value{}, "min", "must be >= 0"},
		{"amount", num("1e17"), Value{}, "range", "exceeds decimal(18,2)"},
		{"amount", num("1e999999999999"), Value{}, "range", ""},
		{"amount", num("0e999999999999"), Value{I: 0}, "", ""},
		{"amount", num("1e-999999999999"), Value{}, "scale", ""},
		{"amount", num("1.2.3"), Value{}, "type", "expected decimal(18,2)"},
		{"amount", num("."), Value{}, "type", ""},
		{"amount", num("-"), Value{}, "type", ""},
		{"amount", num("1e"), Value{}, "type", ""},
		{"small", num("0.1234"), Value{I: 1234}, "", ""},
		{"small", num("1"), Value{}, "range", "exceeds decimal(4,4)"},
		{"small", num("-0.9999"), Value{I: -9999}, "", ""},
		// timestamp
		{"ts", str("2026-01-01T00:00:00Z"), Value{I: micros("2026-01-01T00:00:00Z")}, "", ""},
		{"ts", str("2026-01-01T00:00:00+02:00"), Value{I: micros("2025-12-31T22:00:00Z")}, "", ""},
		{"ts", str("2026-01-01T00:00:00.1234567-01:30"), Value{I: micros("2026-01-01T01:30:00.123456Z")}, "", ""},
		{"ts", str("2016-12-31T23:59:60Z"), Value{}, "format", "not rfc3339, unix_ms or 2006-01-02 15:04:05"},
		{"ts", str("2026-02-30T00:00:00Z"), Value{}, "format", ""},
		{"ts", str("2026-01-01 10:00:00"), Value{I: micros("2026-01-01T10:00:00Z")}, "", ""},
		{"ts", str("2026-01-01t10:00:00z"), Value{}, "format", ""},
		{"ts", num("1767225600000"), Value{I: micros("2026-01-01T00:00:00Z")}, "", ""},
		{"ts", str("1767225600000"), Value{I: micros("2026-01-01T00:00:00Z")}, "", ""},
		{"ts", num("-1000"), Value{I: -1_000_000}, "", ""},
		{"ts", num("-62135596800001"), Value{}, "range", "outside years 0001..9999"},
		{"ts", str("0000-12-31T23:00:00-02:00"), Value{I: micros("0001-01-01T01:00:00Z")}, "", ""},
		{"ts", str("0001-01-01T00:00:00+01:00"), Value{}, "range", ""},
		{"ts", num("99999999999999999999"), Value{}, "range", ""},
		{"ts", boolean(true), Value{}, "type", "expected timestamp, got bool"},
		{"us", num("1"), Value{I: 1_000_000}, "", ""},
		{"us", str("1.5"), Value{}, "format", "not unix, unix_us or unix_ns"},
		{"us", num("-1"), Value{I: -1_000_000}, "", ""},
		{"us", num("9223372036854775807"), Value{}, "range", ""},
		// date
		{"d", str("2026-01-02"), Value{I: 20455}, "", ""},
		{"d", str("1969-12-31"), Value{I: -1}, "", ""},
		{"d", str("2026-13-01"), Value{}, "format", "not 2006-01-02"},
		{"d", str("0000-01-01"), Value{}, "range", ""},
		// pii
		{"email", str(" Ann@Example.com"), Value{S: hmacHex("ann@example.com")}, "", ""},
		{"masked", str("ann@example.com"), Value{S: "***@example.com"}, "", ""},
		{"masked", str("4111 1111-1111 1111"), Value{S: "************1111"}, "", ""},
		{"masked", str("123456789012"), Value{S: "********9012"}, "", ""},
		{"masked", str("a@b@c"), Value{S: "*@b@c"}, "", ""},
		{"masked", str("Zoë Müller"), Value{S: "******ller"}, "", ""},
		{"masked", str("abcd"), Value{S: "****"}, "", ""},
		{"masked", str("héé"), Value{S: "***"}, "", ""},
		{"dropped", str("anything"), null, "", ""},
		{"dropped", boolean(true), Value{}, "type", ""},
	}
	for _, tt := range tests {
		i := s.index(tt.field)
		if i < 0 {
			t.Fatalf("no field %s", tt.field)
		}
		t.Run(tt.field+"/"+string(tt.raw.Text), func(t *testing.T) {
			got, rerr := c.Coerce(i, tt.raw)
			if tt.rule != "" {
				if rerr == nil {
					t.Fatalf("got %+v, want rule %s", got, tt.rule)
				}
				if rerr.Rule != tt.rule || !strings.Contains(rerr.Detail, tt.detail) || rerr.Field != tt.field {
					t.Fatalf("got %v, want rule %s detail %q", rerr, tt.rule, tt.detail)
				}
				if len(tt.raw.Text) > 2 && strings.Contains(rerr.Error(), string(tt.raw.Text)) {
					t.Fatalf("error %q contains the value", rerr)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("unexpected %v", rerr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCoerceStringDoesNotAlias(t *testing.T) {
	s, c := newTestCoercer(t)
	buf := []byte("abc")
	v, _ := c.Coerce(s.index("s"), Raw{Kind: RawString, Text: buf})
	v2, _ := c.Coerce(s.index("cur"), Raw{Kind: RawString, Text: []byte("usd")})
	copy(buf, "xyz")
	_, _ = c.Coerce(s.index("cur"), Raw{Kind: RawString, Text: []byte("gbp")})
	if v.S != "abc" || v2.S != "USD" {
		t.Fatalf("aliased: %q %q", v.S, v2.S)
	}
}

func TestNewCoercerNeedsPIIKey(t *testing.T) {
	s, err := Parse("c.yaml", []byte(coerceSchema))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewCoercer(CoerceOptions{})
	var se *SchemaError
	if !errors.As(err, &se) || !se.ConfigError() ||
		!strings.Contains(se.Msg, "schema asks for pii: hash on field email but $TXLAKE_PII_KEY is not set") {
		t.Fatalf("got %v", err)
	}
}

func TestDecimalFastMatchesSlow(t *testing.T) {
	inputs := []string{"0", "-0", "1", "12.5", "123.45", "123.456", "0.00", "-0.01", "999999999999999999",
		"9999999999999999.99", "99999999999999999.9", "00000000000000000000001.5", "1.", ".5", "-", "", "1.2.3",
		"12.10", "12.100", "9223372036854775807", "-9223372036854775808", "9223372036854775808"}
	for _, in := range inputs {
		for _, sc := range []struct{ scale, maxInt int }{{2, 16}, {0, 19}, {4, 0}, {0, 18}} {
			fv, ok := parseDecimalFast([]byte(in), sc.scale, sc.maxInt)
			sv, serr := parseDecimalSlow([]byte(in), sc.scale, sc.maxInt)
			if ok && (serr != decOK || sv != fv) {
				t.Errorf("%q %v: fast %d, slow %d %v", in, sc, fv, sv, serr)
			}
		}
	}
}

func FuzzCoerce(f *testing.F) {
	s, c := newTestCoercer(f)
	f.Add(uint8(0), uint8(RawString), []byte("abc"))
	f.Add(uint8(6), uint8(RawNumber), []byte("123.45"))
	f.Add(uint8(7), uint8(RawString), []byte("2026-01-01T00:00:00.5+01:00"))
	f.Add(uint8(3), uint8(RawNumber), []byte("-1e18"))
	f.Add(uint8(8), uint8(RawString), []byte("2026-02-28"))
	f.Add(uint8(10), uint8(RawString), []byte("1234 5678 9012 3456"))
	f.Fuzz(func(t *testing.T, field, kind uint8, text []byte) {
		i := int(field) % len(s.Fields)
		raw := Raw{Kind: RawKind(kind % 6), Text: text, Bool: len(text)%2 == 0}
		orig := bytes.Clone(text)
		v, rerr := c.Coerce(i, raw)
		if rerr != nil {
			if rerr.Field != s.Fields[i].Name || rerr.Rule == "" {
				t.Fatalf("rule error %+v does not name field %s", rerr, s.Fields[i].Name)
			}
			return
		}
		if !bytes.Equal(text, orig) {
			t.Fatal("Coerce modified raw.Text")
		}
		if !v.Null && s.Fields[i].Type.Kind == KindTimestamp && (v.I < minMicros || v.I > maxMicros) {
			t.Fatalf("timestamp %d out of range", v.I)
		}
	})
}

func BenchmarkCoerceDecimal(b *testing.B) {
	s, c := newTestCoercer(b)
	i := s.index("amount")
	raws := []Raw{num("123.45"), num("99"), str("0.5"), num("1e2")}
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		if _, err := c.Coerce(i, raws[n%len(raws)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoerceTimestamp(b *testing.B) {
	s, c := newTestCoercer(b)
	i := s.index("ts")
	raw := str("2026-01-02T15:04:05.123Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Coerce(i, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoerceEnum(b *testing.B) {
	s, c := newTestCoercer(b)
	i := s.index("status")
	raw := str(" Captured ")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Coerce(i, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIsASCII(t *testing.T) {
	for n := range 40 {
		b := bytes.Repeat([]byte{'a'}, n)
		if !IsASCII(b) {
			t.Fatalf("%q: not ASCII", b)
		}
		for k := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b[k] = c
				if IsASCII(b) {
					t.Fatalf("%q: ASCII", b)
				}
			}
			b[k] = 0x7f
		}
	}
}
