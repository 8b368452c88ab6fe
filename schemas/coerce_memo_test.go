package schemas

import (
	"fmt"
	"testing"
)

// The string memo must never change a result: values that break the pattern
// keep failing after good values were memoised, and a field with more than
// memoLimit distinct values keeps working after the memo is dropped.
func TestCoerceStringMemo(t *testing.T) {
	s, err := Parse("memo.yaml", []byte(`table: t
event_time: ts
fields:
  - name: ts
    type: timestamp
    required: true
  - name: currency
    type: string
    normalize: [trim, upper]
    pattern: '^[A-Z]{3}$'
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCoercer(CoerceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	str := func(v string) Raw { return Raw{Kind: RawString, Text: []byte(v)} }
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
