package ingest

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/schemas"
)

// scanCases are JSON lines at the edges of what the fast scanner accepts.
var scanCases = []string{
	`{}`, ` { } `, `{"transaction_id":"tx_0123456789abcdef"}`,
	`{"merchant":{"id":"m1","category":"fuel"},"merchant_id":"m2"}`,
	`{"merchant_id":"m2","merchant":{"id":"m1"}}`,
	`{"merchant":{"id":"m1","id":"m3"}}`,
	`{"merchant":{"category":"fuel"},"merchant":{"id":"m1"}}`,
	`{"merchant":"m1","merchant_id":"m2"}`,
	`{"merchant":{"id":{"x":1}}}`, `{"merchant":{}}`, `{"merchant":null}`, `{"merchant":[1]}`,
	`{"amount":1,"amount":2}`, `{"amount":1,"amt":2}`, `{"amt":"2","amount":null}`,
	`{"amount":-0.5e+3}`, `{"amount":01}`, `{"amount":1.}`, `{"amount":.5}`, `{"amount":-}`, `{"amount":1e}`,
	`{"amount":1x}`, `{"amount":NaN}`, `{"amount":true}`, `{"amount":false}`, `{"amount":nul}`, `{"amount":nullx}`,
	`{"email":"a\"b"}`, `{"email":"a\u0041"}`, "{\"email\":\"a\tb\"}", "{\"email\":\"\xff\xfe\"}",
	`{"x":1,"y":"z","x":2}`, `{"x":{"a":1}}`, `{"x":[1,2]}`, `{"x\"y":1}`,
	`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":1}}`, `{"a":1} x`, `{"a":1`, `{"a`, `{`, `}`, `[]`, `"s"`, `1`,
	"{\"a\":1}\t", "\t{\r\"channel\" :\n\"web\" }",
	`{"created_at":1767323045000,"status":"captured"}`,
}

// decodeBoth decodes data with and without the fast scanner.
func decodeBoth(t testing.TB, s *schemas.Schema, data []byte) (fast, slow *batch) {
	for _, on := range []bool{true, false} {
		c, err := s.NewCoercer(schemas.CoerceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := newDecoder(s, c, 1<<20, nil)
		if !on {
			d.fast = nil
		}
		b := d.decode(&chunk{data: data, firstLine: 1, bytes: int64(len(data))}, FormatJSONL)
		if on {
			fast = b
		} else {
			slow = b
		}
	}
	return fast, slow
}

func sameBatch(t testing.TB, fast, slow *batch) {
	t.Helper()
	if !reflect.DeepEqual(fast.vals, slow.vals) || !reflect.DeepEqual(fast.days, slow.days) ||
		!reflect.DeepEqual(fast.keys, slow.keys) || fast.read != slow.read || fast.empty != slow.empty {
		t.Fatalf("rows differ:\nfast %v\nslow %v", fast.vals, slow.vals)
	}
	if !reflect.DeepEqual(fast.q, slow.q) {
		t.Fatalf("quarantine differs:\nfast %+v\nslow %+v", fast.q, slow.q)
	}
	if len(fast.unknown)+len(slow.unknown) > 0 && !reflect.DeepEqual(fast.unknown, slow.unknown) {
		t.Fatalf("unknown fields differ: fast %v, slow %v", fast.unknown, slow.unknown)
	}
}

// TestFastScannerMatchesFastjson checks that the fast JSON scanner and the
// fastjson path give the same rows, quarantine records and unknown-field
// counts: on edge cases, the fuzz seeds and a generated day with faults.
func TestFastScannerMatchesFastjson(t *testing.T) {
	s := loadSchema(t)
	if newFastScanner(s) == nil {
		t.Fatal("the transactions schema should use the fast scanner")
	}
	lines := append(append([]string{}, scanCases...), fuzzJSONSeeds...)
	for _, ln := range lines {
		fast, slow := decodeBoth(t, s, []byte(ln+"\n"))
		sameBatch(t, fast, slow)
		// and inside a valid row's context
		fast, slow = decodeBoth(t, s, []byte(strings.Replace(validJSON, `{`, ln[:0]+`{"extra":1,`, 1)+"\n"+ln+"\n"))
		sameBatch(t, fast, slow)
	}
	sum, err := gen.Generate(t.Context(), gen.Options{OutDir: t.TempDir(), Start: genStart, Days: 1, RowsPerDay: 20000, Seed: 3, FaultRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sum.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := decodeBoth(t, s, data)
	sameBatch(t, fast, slow)
	if len(fast.days) < 18000 {
		t.Fatalf("only %d good rows of 20000", len(fast.days))
	}
}

func FuzzFastScanner(f *testing.F) {
	for _, ln := range append(append([]string{}, scanCases...), fuzzJSONSeeds...) {
		f.Add([]byte(ln))
	}
	s := loadSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.IndexByte(data, '\n') >= 0 {
			return
		}
		fast, slow := decodeBoth(t, s, append(data, '\n'))
		sameBatch(t, fast, slow)
	})
}
