package ingest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

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

// scanString looks at 8 bytes at a time; it must stop where a byte-by-byte
// loop stops, for stops at every offset and after any bytes (high bytes
// and control characters included, which the word-wise test borrows over).
func TestScanStringMatchesByteLoop(t *testing.T) {
	ref := func(ln []byte, i int) ([]byte, int, bool) {
		if i >= len(ln) || ln[i] != '"' {
			return nil, 0, false
		}
		for j := i + 1; j < len(ln); j++ {
			switch c := ln[j]; {
			case c == '"':
				return ln[i+1 : j], j + 1, true
			case c == '\\' || c < 0x20:
				return nil, 0, false
			}
		}
		return nil, 0, false
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 'Z', '0', ' ', '"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xa9, 0xff}
	for n := range 200_000 {
		ln := make([]byte, 1+rng.IntN(40))
		for k := range ln {
			if rng.IntN(4) == 0 {
				ln[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				ln[k] = byte(rng.IntN(256))
			}
		}
		ln[0] = '"'
		gs, gj, gok, gascii := scanString(ln, 0)
		ws, wj, wok := ref(ln, 0)
		if gok != wok || gj != wj || !bytes.Equal(gs, ws) {
			t.Fatalf("case %d %q: got %q %d %v, want %q %d %v", n, ln, gs, gj, gok, ws, wj, wok)
		}
		if wascii := wok && utf8.Valid(ws) && !bytes.ContainsFunc(ws, func(r rune) bool { return r >= utf8.RuneSelf }); gascii != wascii {
			t.Fatalf("case %d %q: ascii %v, want %v", n, ln, gascii, wascii)
		}
	}
}

// Keys are compared in place when they are the expected next one, unless
// the schema's name would need escapes in JSON.
func TestFastScannerHintedKeys(t *testing.T) {
	s, err := schemas.Parse("s.yaml", []byte(`table: t
event_time: ts
fields:
  - name: ts
    type: timestamp
    required: true
  - name: q
    type: string
    from: ['a"b', 'a\b', plain]
`))
	if err != nil {
		t.Fatal(err)
	}
	fs := newFastScanner(s)
	if fs == nil {
		t.Fatal("no scanner")
	}
	for _, k := range fs.top {
		if want := !strings.ContainsAny(k.name, "\"\\"); k.plain != want {
			t.Errorf("key %q: plain %v", k.name, k.plain)
		}
	}
	for _, ln := range []string{
		`{"ts":1,"a\"b":"x"}`, `{"ts":1,"a\\b":"x"}`, `{"ts":1,"plain":"x"}`, `{"ts":1,"plainx":"x"}`,
		`{"ts":1,"plai":"x"}`, `{"ts":1,"plain":"x","ts":2}`, `{"plain":"y","ts":1}`,
	} {
		fast, slow := decodeBoth(t, s, []byte(ln+"\n"))
		sameBatch(t, fast, slow)
	}
}
