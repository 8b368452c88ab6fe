package schemas

import (
	"fmt"
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
