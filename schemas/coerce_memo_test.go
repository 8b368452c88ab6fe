package schemas

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The string memo must never change a result: values that break the pattern
// keep failing after good values were memoised, and a field with more than
// memoLimit distinct values keeps working after the memo is dropped.
func TestCoerceStringMemo(t *testing.T) {
	c := fieldsCoercer(t, `
  - name: currency
    type: string
    normalize: [trim, upper]
    pattern: '^[A-Z]{3}$'
`)
	for i := 0; i < 3; i++ {
		if v, rerr := c.Coerce(1, str(" eur")); rerr != nil || v.S != "EUR" {
			t.Fatalf("round %d: %+v %v", i, v, rerr)
		}
		if _, rerr := c.Coerce(1, str("EURO")); rerr == nil || rerr.Rule != "pattern" {
			t.Fatalf("round %d: EURO accepted: %v", i, rerr)
		}
	}
	for i := 0; i < memoLimit+10; i++ {
		code := fmt.Sprintf("%c%c%c", 'A'+i%26, 'A'+(i/26)%26, 'A'+(i/676)%26)
		if v, rerr := c.Coerce(1, str(code)); rerr != nil || v.S != code {
			t.Fatalf("value %d %q: %+v %v", i, code, v, rerr)
		}
	}
	if _, rerr := c.Coerce(1, str("toolong")); rerr == nil {
		t.Fatal("pattern not applied after the memo was dropped")
	}
}

// Masked values come from the memo of masked forms without changing them,
// also once a field has more than memoLimit of them.
func TestCoerceMaskMemo(t *testing.T) {
	c := fieldsCoercer(t, `
  - name: email
    type: string
    normalize: [trim, lower]
    pii: mask
  - name: card
    type: string
    pii: mask
`)
	for i := 0; i < memoLimit+10; i++ {
		email := fmt.Sprintf(" User%d@Example%d.COM", i, i%3)
		if v, rerr := c.Coerce(1, str(email)); rerr != nil || v.S != fmt.Sprintf("***@example%d.com", i%3) {
			t.Fatalf("%q: %+v %v", email, v, rerr)
		}
		card := fmt.Sprintf("4111-1111-%04d-%04d", i%7, i)
		if v, rerr := c.Coerce(2, str(card)); rerr != nil || v.S != fmt.Sprintf("************%04d", i) {
			t.Fatalf("%q: %+v %v", card, v, rerr)
		}
		if v := maskPII([]byte(card)); v != fmt.Sprintf("************%04d", i) {
			t.Fatalf("maskPII(%q) = %q", card, v)
		}
	}
	for raw, want := range map[string]string{"abc": "***", "jean dupont": "*******pont", "zoë": "***"} {
		if v, rerr := c.Coerce(2, str(raw)); rerr != nil || v.S != want {
			t.Fatalf("%q: %+v %v, want %q", raw, v, rerr, want)
		}
	}
}

// fieldsCoercer returns a coercer of a table of a timestamp ts (field 0)
// and the fields given in YAML.
func fieldsCoercer(t *testing.T, fields string) *Coercer {
	t.Helper()
	_, c := parseCoercer(t, "table: t\nevent_time: ts\nfields:\n  - name: ts\n    type: timestamp\n    required: true\n"+fields, nil)
	return c
}

// The cache of accepted raw texts returns what the rules give, for raw
// variants of one value, and never lets a rejected text through: not a
// pattern or enum failure, not invalid UTF-8, not once it is switched off.
func TestCoerceStringCache(t *testing.T) {
	c := fieldsCoercer(t, `
  - name: status
    type: string
    normalize: [trim, lower]
    enum: [captured, refunded]
  - name: tags
    type: list<string>
    normalize: [upper]
    pattern: '^[A-Z]+$'
`)
	for round := 0; round < 3; round++ {
		for raw, want := range map[string]string{"captured": "captured", " Captured": "captured", "REFUNDED ": "refunded"} {
			if v, rerr := c.Coerce(1, str(raw)); rerr != nil || v.S != want {
				t.Fatalf("round %d %q: %+v %v", round, raw, v, rerr)
			}
		}
		for raw, rule := range map[string]string{"pending": "enum", "capt\xffured": "utf8"} {
			if _, rerr := c.Coerce(1, str(raw)); rerr == nil || rerr.Rule != rule {
				t.Fatalf("round %d %q: %v, want rule %s", round, raw, rerr, rule)
			}
		}
		v, rerr := c.Coerce(2, Raw{Kind: RawComposite, Text: []byte(`["a","b","a"]`)})
		if rerr != nil || v.I != 3 || fmt.Sprint(slices.Collect(v.ListElems())) != "[A B A]" {
			t.Fatalf("round %d list: %+v %v", round, v, rerr)
		}
		if _, rerr := c.Coerce(2, Raw{Kind: RawComposite, Text: []byte(`["a","b1"]`)}); rerr == nil || rerr.Rule != "pattern" {
			t.Fatalf("round %d list: %v, want the pattern rule", round, rerr)
		}
	}
	// Past memoLimit distinct raw texts the cache is off; rules still hold.
	for i := 0; i < memoLimit+10; i++ {
		raw := strings.Repeat(" ", i%64) + "captured" + strings.Repeat(" ", i/64)
		if v, rerr := c.Coerce(1, str(raw)); rerr != nil || v.S != "captured" {
			t.Fatalf("value %d %q: %+v %v", i, raw, v, rerr)
		}
	}
	if !c.fields[1].cache.off {
		t.Fatal("the cache is still on after more than memoLimit raw texts")
	}
	if _, rerr := c.Coerce(1, str(" Pending ")); rerr == nil || rerr.Rule != "enum" {
		t.Fatalf("enum not applied after the cache was switched off: %v", rerr)
	}
}
