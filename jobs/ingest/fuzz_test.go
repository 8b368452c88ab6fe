package ingest

import (
	"bytes"
	"github.com/txlake/txlake/schemas"
	"strings"
	"testing"
)

// fuzzSeeds are JSON lines and CSV rows of the shapes the generator and real
// producers write, plus broken ones.
var fuzzJSONSeeds = []string{
	validJSON,
	validJSON + "\r\n" + validJSON,
	"\xef\xbb\xbf" + validJSON,
	strings.Replace(validJSON, `"amount":12.5`, `"amt":"7.25"`, 1),
	strings.Replace(validJSON, `"amount":12.5`, `"amount":{"value":1}`, 1),
	strings.Replace(validJSON, `A@Example.com`, "A\xff@Example.com", 1),
	strings.Replace(validJSON, "2026-01-02T03:04:05Z", "1767323045000", 1),
	strings.Replace(validJSON, `"created_at":"2026-01-02T03:04:05Z"`, `"created_at":1767323045000`, 1),
	`{"transaction_id":"tx_0123456789abcdef","amount":1`,
	"[1,2,3]",
	"null",
	"",
	"\n\n  \n",
	`{"merchant":{"id":null}}`,
	`{"a":"\u00ff\ud800"}`,
}

var fuzzCSVSeeds = []string{
	`tx_0123456789abcdef,c1,12.50,EUR,DE,m1,grocery,web,captured,a@b.com,4111111111111111,2026-01-02T03:04:05Z`,
	`"tx_0123456789abcdef","c""1",12.50,EUR,DE,"m,1",grocery,web,captured,a@b.com,4111,2026-01-02 03:04:05`,
	`tx_0123456789abcdef,c1,12.50,EUR,,m1,,,captured,,,1767323045000`,
	`tx_0123456789abcdef,c1,12".50,EUR,DE,m1,grocery,web,captured,a@b.com,4111,2026-01-02T03:04:05Z`,
	`tx_0123456789abcdef,c1,12.50`,
	`"unterminated,x`,
	",,,,,,,,,,,",
	"a\xffb,c\r\n\n,",
}

// fuzzDecode runs data through decoders with a generous and a tiny line
// limit and checks the batch invariants.
func fuzzDecode(t *testing.T, s *schemas.Schema, data []byte, format Format, h *csvHeader) {
	for _, maxLine := range []int{1 << 20, 64} {
		d := newTestDecoder(t, s, maxLine)
		orig := bytes.Clone(data)
		b := d.decode(&chunk{data: data, firstLine: 1, header: h, bytes: int64(len(data))}, format)
		checkBatch(t, b, len(s.Fields))
		if !bytes.Equal(orig, data) {
			t.Fatal("decode modified its input")
		}
		// Every non-blank line is either a row or quarantined.
		var lines int64
		for i, ln := range bytes.Split(data, []byte{'\n'}) {
			if i == 0 {
				ln = bytes.TrimPrefix(ln, []byte("\xef\xbb\xbf"))
			}
			if len(bytes.TrimSpace(bytes.TrimSuffix(ln, []byte{'\r'}))) > 0 {
				lines++
			}
		}
		if b.read != lines {
			t.Fatalf("read %d rows from %d non-blank lines", b.read, lines)
		}
		for _, q := range b.q {
			if q.line < 1 || q.offset < 0 || q.offset > int64(len(data)) {
				t.Fatalf("quarantined row at line %d offset %d of %d bytes", q.line, q.offset, len(data))
			}
			at := data[q.offset:]
			if q.offset == 0 {
				at = bytes.TrimPrefix(at, []byte("\xef\xbb\xbf"))
			}
			if !bytes.HasPrefix(at, q.raw) {
				t.Fatalf("raw %q is not the input at offset %d", q.raw, q.offset)
			}
		}
	}
}

func FuzzDecodeJSONLine(f *testing.F) {
	for _, s := range fuzzJSONSeeds {
		f.Add([]byte(s))
	}
	s := loadSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, s, data, FormatJSONL, nil)
	})
}

func FuzzDecodeCSVLine(f *testing.F) {
	for _, s := range fuzzCSVSeeds {
		f.Add([]byte(s))
	}
	s := loadSchema(f)
	h, err := parseCSVHeader([]byte(genCSVHeader), s)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, s, data, FormatCSV, h)
	})
}

func FuzzSplitCSV(f *testing.F) {
	for _, s := range fuzzCSVSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`"a""b",""`))
	f.Fuzz(func(t *testing.T, line []byte) {
		cells, err := splitCSV(line, nil)
		if err != nil {
			if cells != nil {
				t.Fatalf("cells %q with error %v", cells, err)
			}
			return
		}
		if bytes.IndexByte(line, '"') < 0 {
			want := bytes.Split(line, []byte{','})
			if len(cells) != len(want) {
				t.Fatalf("splitCSV(%q) = %q, want %q", line, cells, want)
			}
			for i := range want {
				if !bytes.Equal(cells[i], want[i]) {
					t.Fatalf("splitCSV(%q) = %q, want %q", line, cells, want)
				}
			}
			return
		}
		// Quoting the cells back gives a line that splits the same way.
		var b bytes.Buffer
		for i, c := range cells {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.Write(bytes.ReplaceAll(c, []byte(`"`), []byte(`""`)))
			b.WriteByte('"')
		}
		again, err := splitCSV(b.Bytes(), nil)
		if err != nil || len(again) != len(cells) {
			t.Fatalf("re-quoted %q: %q, %v; want %q", b.Bytes(), again, err, cells)
		}
		for i := range cells {
			if !bytes.Equal(again[i], cells[i]) {
				t.Fatalf("re-quoted %q: %q, want %q", b.Bytes(), again, cells)
			}
		}
	})
}
