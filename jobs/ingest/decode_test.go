package ingest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/mem"
)

const genCSVHeader = "transaction_id,customer_id,amount,currency,country,merchant_id,merchant_category,channel,status,email,card_number,created_at"

func TestSplitCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  string // substring of the error; "" for none
	}{
		{"plain", "a,b,c", []string{"a", "b", "c"}, ""},
		{"single", "abc", []string{"abc"}, ""},
		{"empty line", "", []string{""}, ""},
		{"empty cells", ",,", []string{"", "", ""}, ""},
		{"empty middle", "a,,c", []string{"a", "", "c"}, ""},
		{"trailing comma", "a,b,", []string{"a", "b", ""}, ""},
		{"leading comma", ",a", []string{"", "a"}, ""},
		{"quoted", `"a","b c",d`, []string{"a", "b c", "d"}, ""},
		{"quoted comma", `"a,b",c`, []string{"a,b", "c"}, ""},
		{"quoted empty", `"",x`, []string{"", "x"}, ""},
		{"escaped quote", `"a""b",c`, []string{`a"b`, "c"}, ""},
		{"escaped quotes only", `""""`, []string{`"`}, ""},
		{"many escapes", `"x""""y""",z`, []string{`x""y"`, "z"}, ""},
		{"escape at start and end", `"""a"""`, []string{`"a"`}, ""},
		{"quoted then trailing comma", `"a",`, []string{"a", ""}, ""},
		{"quoted last", `a,"b"`, []string{"a", "b"}, ""},
		{"spaces kept", ` a , b `, []string{" a ", " b "}, ""},
		{"bare quote", `12"34,x`, nil, "bare quote"},
		{"bare quote last field", `x,12"34`, nil, "bare quote in unquoted field 2"},
		{"unterminated", `"abc`, nil, "unterminated"},
		{"unterminated after escape", `"ab""`, nil, "unterminated"},
		{"unterminated second", `a,"b`, nil, "unterminated"},
		{"text after closing quote", `"a"b,c`, nil, "after closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := splitCSV([]byte(tt.in), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("splitCSV(%q) = %q, %v; want error containing %q", tt.in, cells, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("splitCSV(%q): %v", tt.in, err)
			}
			got := make([]string, len(cells))
			for i, c := range cells {
				got[i] = string(c)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitCSV(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitCSVReusesCells(t *testing.T) {
	cells, err := splitCSV([]byte("a,b,c,d"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cells, err = splitCSV([]byte(`x,"y"`), cells)
	if err != nil || len(cells) != 2 || string(cells[0]) != "x" || string(cells[1]) != "y" {
		t.Fatalf("reused cells = %q, %v", cells, err)
	}
}

func fieldIndex(t *testing.T, s *schemas.Schema, name string) int {
	t.Helper()
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	t.Fatalf("no field %q", name)
	return -1
}

func TestParseCSVHeader(t *testing.T) {
	s := loadSchema(t)
	t.Run("generator header", func(t *testing.T) {
		h, err := parseCSVHeader([]byte(genCSVHeader+"\r\n"), s)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.unknown) != 0 {
			t.Errorf("unknown columns %v", h.unknown)
		}
		for i, f := range s.Fields {
			if h.fieldCol[i] < 0 || h.columns[h.fieldCol[i]] != f.Name {
				t.Errorf("field %s maps to column %d", f.Name, h.fieldCol[i])
			}
		}
	})
	t.Run("aliases, missing and unknown columns", func(t *testing.T) {
		h, err := parseCSVHeader([]byte(` created_at ,amt,transaction_id,extra,merchant_id,"quoted col"`), s)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"created_at": 0, "amount": 1, "transaction_id": 2, "merchant_id": 4, "customer_id": -1, "currency": -1, "email": -1}
		for name, col := range want {
			if got := h.fieldCol[fieldIndex(t, s, name)]; got != col {
				t.Errorf("field %s -> column %d, want %d", name, got, col)
			}
		}
		if !slices.Equal(h.unknown, []string{"extra", "quoted col"}) {
			t.Errorf("unknown = %v", h.unknown)
		}
		// A row decodes the missing columns as RawMissing, and a required
		// missing one quarantines the row.
		d := newTestDecoder(t, s, 1<<20)
		b := d.decode(&chunk{data: []byte("2026-01-01T00:00:00Z,1.5,tx_0123456789abcdef,zz,m1,q\n"), firstLine: 2, header: h}, FormatCSV)
		if b.read != 1 || len(b.q) != 1 || b.q[0].rule != "required" || b.q[0].field != "customer_id" {
			t.Fatalf("batch read %d, quarantined %+v; want customer_id required", b.read, b.q)
		}
		if d.raws[fieldIndex(t, s, "customer_id")].Kind != schemas.RawMissing || d.raws[fieldIndex(t, s, "country")].Kind != schemas.RawMissing {
			t.Errorf("missing columns are not RawMissing: %+v", d.raws)
		}
		if r := d.raws[fieldIndex(t, s, "amount")]; r.Kind != schemas.RawString || string(r.Text) != "1.5" {
			t.Errorf("amt column -> %+v", r)
		}
	})
	t.Run("from order: merchant.id is not a CSV column name", func(t *testing.T) {
		h, err := parseCSVHeader([]byte("merchant.id,merchant_id"), s)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.fieldCol[fieldIndex(t, s, "merchant_id")]; got != 0 {
			t.Errorf("merchant_id -> column %d, want 0 (the first from name present)", got)
		}
		if !slices.Equal(h.unknown, []string{"merchant_id"}) {
			t.Errorf("unknown = %v", h.unknown)
		}
	})
	for _, bad := range []struct{ name, line, err string }{
		{"duplicate column", "a,b,a", "twice"},
		{"empty column", "a,,b", "empty name"},
		{"blank column", "a, ,b", "empty name"},
		{"bad quoting", `a,"b`, "unterminated"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := parseCSVHeader([]byte(bad.line), s); err == nil || !strings.Contains(err.Error(), bad.err) {
				t.Errorf("parseCSVHeader(%q) = %v, want an error containing %q", bad.line, err, bad.err)
			}
		})
	}
}

func newTestDecoder(t testing.TB, s *schemas.Schema, maxLine int) *decoder {
	t.Helper()
	c, err := s.NewCoercer(schemas.CoerceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return newDecoder(s, c, maxLine, nil)
}

// validJSON is a row that passes every rule of the shipped schema.
const validJSON = `{"transaction_id":"tx_0123456789abcdef","customer_id":"c1","amount":12.5,"currency":" eur","country":"de","merchant":{"id":"m1","category":"Grocery"},"channel":"WEB","status":"Captured","email":"A@Example.com","card_number":"4111111111111111","created_at":"2026-01-02T03:04:05Z"}`

func TestDecodeJSON(t *testing.T) {
	s := loadSchema(t)
	valid := validJSON
	tests := []struct {
		name        string
		data        string
		offset      int64
		maxLine     int
		good        int
		empty       int64
		rule, field string // of the first quarantined row
		reason      string // substring of its reason
		check       func(t *testing.T, d *decoder, b *batch)
	}{
		{name: "valid", data: valid + "\n", good: 1, check: func(t *testing.T, d *decoder, b *batch) {
			row := b.vals[:len(s.Fields)]
			want := map[string]string{"transaction_id": "tx_0123456789abcdef", "currency": "EUR", "country": "DE",
				"merchant_id": "m1", "merchant_category": "grocery", "channel": "web", "status": "captured", "email": "***@example.com"}
			for name, v := range want {
				if got := row[fieldIndex(t, s, name)].S; got != v {
					t.Errorf("%s = %q, want %q", name, got, v)
				}
			}
			if got := row[fieldIndex(t, s, "amount")].I; got != 1250 {
				t.Errorf("amount = %d, want 1250 cents", got)
			}
			if b.days[0] != 20455 { // 2026-01-02
				t.Errorf("day = %d", b.days[0])
			}
			if len(b.keys) != 1 {
				t.Errorf("keys = %v", b.keys)
			}
		}},
		{name: "no final newline", data: valid, good: 1},
		{name: "crlf", data: valid + "\r\n" + valid + "\r\n", good: 2},
		{name: "malformed", data: `{"transaction_id":"tx_0123456789abcdef","amount":1` + "\n", rule: "json", reason: "malformed"},
		{name: "trailing garbage", data: valid + " x\n", rule: "json", reason: "malformed"},
		{name: "array", data: "[1,2]\n", rule: "json", reason: "not a JSON object"},
		{name: "string", data: `"hello"` + "\n", rule: "json", reason: "not a JSON object"},
		{name: "number", data: "42\n", rule: "json", reason: "not a JSON object"},
		{name: "null", data: "null\n", rule: "json", reason: "not a JSON object"},
		{name: "nested merchant.id", data: strings.Replace(valid, `"merchant":{"id":"m1","category":"Grocery"}`, `"merchant":{"id":"deep"},"merchant_id":"flat"`, 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if got := b.vals[fieldIndex(t, s, "merchant_id")].S; got != "deep" {
					t.Errorf("merchant_id = %q, want the nested merchant.id", got)
				}
			}},
		{name: "flat merchant_id", data: strings.Replace(valid, `"merchant":{"id":"m1","category":"Grocery"}`, `"merchant_id":"flat"`, 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if got := b.vals[fieldIndex(t, s, "merchant_id")].S; got != "flat" {
					t.Errorf("merchant_id = %q", got)
				}
			}},
		{name: "merchant not an object", data: strings.Replace(valid, `"merchant":{"id":"m1","category":"Grocery"}`, `"merchant":"m1"`, 1) + "\n",
			rule: "required", field: "merchant_id", reason: "missing"},
		{name: "amt alias", data: strings.Replace(valid, `"amount":12.5`, `"amt":"7.25"`, 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if got := b.vals[fieldIndex(t, s, "amount")].I; got != 725 {
					t.Errorf("amount = %d, want 725", got)
				}
			}},
		{name: "amount wins over amt", data: strings.Replace(valid, `"amount":12.5`, `"amt":"abc","amount":1`, 1) + "\n", good: 1},
		{name: "null optional", data: strings.Replace(valid, `"country":"de"`, `"country":null`, 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if d.raws[fieldIndex(t, s, "country")].Kind != schemas.RawNull || !b.vals[fieldIndex(t, s, "country")].Null {
					t.Errorf("country null -> raw %+v value %+v", d.raws[fieldIndex(t, s, "country")], b.vals[fieldIndex(t, s, "country")])
				}
			}},
		{name: "missing optional", data: strings.Replace(valid, `"country":"de",`, ``, 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if d.raws[fieldIndex(t, s, "country")].Kind != schemas.RawMissing || !b.vals[fieldIndex(t, s, "country")].Null {
					t.Errorf("country missing -> raw %+v", d.raws[fieldIndex(t, s, "country")])
				}
			}},
		{name: "null required", data: strings.Replace(valid, `"customer_id":"c1"`, `"customer_id":null`, 1) + "\n",
			rule: "required", field: "customer_id", reason: "null"},
		{name: "missing required", data: strings.Replace(valid, `"customer_id":"c1",`, ``, 1) + "\n",
			rule: "required", field: "customer_id", reason: "missing"},
		{name: "wrong type", data: strings.Replace(valid, `"amount":12.5`, `"amount":{"v":1}`, 1) + "\n", rule: "type", field: "amount"},
		{name: "bool for string", data: strings.Replace(valid, `"customer_id":"c1"`, `"customer_id":true`, 1) + "\n", rule: "type", field: "customer_id"},
		{name: "invalid utf8", data: strings.Replace(valid, `A@Example.com`, "A\xff@Example.com", 1) + "\n", rule: "utf8", field: "email"},
		{name: "invalid utf8 escaped field", data: strings.Replace(valid, `"customer_id":"c1"`, "\"customer_id\":\"c\xc3\"", 1) + "\n", rule: "utf8", field: "customer_id"},
		{name: "bom on first line", data: "\xef\xbb\xbf" + valid + "\n" + valid + "\n", good: 2},
		{name: "bom not at stream start", data: "\xef\xbb\xbf" + valid + "\n", offset: 100, rule: "json"},
		{name: "empty and blank lines", data: "\n   \n\t\r\n" + valid + "\n\n", good: 1, empty: 4},
		{name: "only blank lines", data: "\n \n\r\n", empty: 3},
		{name: "line too long", data: valid + "\n", maxLine: 100, rule: "line_too_long", reason: "line too long"},
		{name: "line at the limit", data: valid + "\r\n", maxLine: len(valid), good: 1},
		{name: "window", data: strings.Replace(valid, "2026-01-02T03:04:05Z", "1969-12-31T23:59:59Z", 1) + "\n", good: 1,
			check: func(t *testing.T, d *decoder, b *batch) {
				if b.days[0] != -1 {
					t.Errorf("day of 1969-12-31T23:59:59Z = %d, want -1", b.days[0])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxLine := tt.maxLine
			if maxLine == 0 {
				maxLine = 1 << 20
			}
			d := newTestDecoder(t, s, maxLine)
			b := d.decode(&chunk{data: []byte(tt.data), firstLine: 7, firstOffset: tt.offset, bytes: int64(len(tt.data))}, FormatJSONL)
			checkBatch(t, b, len(s.Fields))
			if len(b.days) != tt.good {
				t.Errorf("good rows %d, want %d (quarantined %+v)", len(b.days), tt.good, b.q)
			}
			if b.empty != tt.empty {
				t.Errorf("empty lines %d, want %d", b.empty, tt.empty)
			}
			if tt.rule == "" {
				if len(b.q) != 0 {
					t.Errorf("quarantined %+v", b.q)
				}
			} else {
				if len(b.q) != 1 {
					t.Fatalf("quarantined %d rows, want 1: %+v", len(b.q), b.q)
				}
				q := b.q[0]
				if q.rule != tt.rule || q.field != tt.field || !strings.Contains(q.reason, tt.reason) {
					t.Errorf("quarantined %s/%s %q, want %s/%s containing %q", q.rule, q.field, q.reason, tt.rule, tt.field, tt.reason)
				}
				if q.line != 7 || q.offset != tt.offset {
					t.Errorf("quarantined at line %d offset %d, want 7 @%d", q.line, q.offset, tt.offset)
				}
				wantRaw := []byte(strings.TrimSuffix(strings.TrimSuffix(tt.data, "\n"), "\r"))
				if tt.rule == "line_too_long" {
					if q.length != int64(len(wantRaw)) || !bytes.HasPrefix(wantRaw, q.raw) || len(q.raw) == 0 {
						t.Errorf("long line raw %d bytes, length %d; line has %d", len(q.raw), q.length, len(wantRaw))
					}
				} else if !bytes.Equal(q.raw, wantRaw) || q.length != int64(len(wantRaw)) {
					t.Errorf("raw %q, want the line exactly %q", q.raw, wantRaw)
				}
				if strings.Contains(q.reason, "Example") || strings.Contains(q.reason, "c1") {
					t.Errorf("reason %q contains a field value", q.reason)
				}
			}
			if tt.check != nil && len(b.days) > 0 {
				tt.check(t, d, b)
			}
		})
	}
}

// checkBatch checks the invariants of any decoded batch.
func checkBatch(t testing.TB, b *batch, nf int) {
	t.Helper()
	if b.read != int64(len(b.days))+int64(len(b.q)) {
		t.Fatalf("batch read %d != good %d + quarantined %d", b.read, len(b.days), len(b.q))
	}
	if len(b.vals) != len(b.days)*nf {
		t.Fatalf("batch has %d values for %d rows of %d fields", len(b.vals), len(b.days), nf)
	}
	if len(b.keys) != len(b.days) {
		t.Fatalf("batch has %d keys for %d rows", len(b.keys), len(b.days))
	}
	for _, q := range b.q {
		if q.rule == "" || q.reason == "" {
			t.Fatalf("quarantined row without a reason: %+v", q)
		}
		if q.length < int64(len(q.raw)) || len(q.raw) > max(quarantineHeadBytes, int(q.length)) {
			t.Fatalf("quarantined raw of %d bytes, length %d", len(q.raw), q.length)
		}
	}
}

func TestDecodeLongChunk(t *testing.T) {
	s := loadSchema(t)
	d := newTestDecoder(t, s, 4999)
	head := bytes.Repeat([]byte("h"), quarantineHeadBytes)
	b := d.decode(&chunk{long: &longLine{head: head, length: 123456}, firstLine: 9, firstOffset: 4242, bytes: 123457}, FormatJSONL)
	checkBatch(t, b, len(s.Fields))
	if b.read != 1 || len(b.q) != 1 {
		t.Fatalf("batch %+v", b)
	}
	q := b.q[0]
	if q.rule != "line_too_long" || q.line != 9 || q.offset != 4242 || q.length != 123456 || !bytes.Equal(q.raw, head) {
		t.Errorf("quarantined %+v", q)
	}
	if !strings.Contains(q.reason, "123456") || !strings.Contains(q.reason, "4999") {
		t.Errorf("reason %q does not give the length and the limit", q.reason)
	}
}

func TestDecodeLineTooLongRecords(t *testing.T) {
	// Lines over --max-line-bytes but inside one chunk: the head kept is at
	// most 4 KiB and never more than the line.
	s := loadSchema(t)
	for _, n := range []int{101, 4095, 4096, 5000, 20000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := newTestDecoder(t, s, 100)
			line := bytes.Repeat([]byte("z"), n)
			b := d.decode(&chunk{data: append(line, '\n'), firstLine: 1}, FormatJSONL)
			checkBatch(t, b, len(s.Fields))
			if len(b.q) != 1 || b.q[0].rule != "line_too_long" {
				t.Fatalf("quarantined %+v", b.q)
			}
			q := b.q[0]
			if want := min(n, quarantineHeadBytes); len(q.raw) != want || q.length != int64(n) {
				t.Errorf("raw %d bytes, length %d; want %d, %d", len(q.raw), q.length, want, n)
			}
			if !strings.Contains(q.reason, fmt.Sprintf("first %d bytes kept", len(q.raw))) {
				t.Errorf("reason %q", q.reason)
			}
		})
	}
}

func TestDecodeUnknownFields(t *testing.T) {
	s := loadSchema(t)
	d := newTestDecoder(t, s, 1<<20)
	line := strings.Replace(validJSON, `{`, `{"extra":1,"other":{"x":1},`, 1)
	b := d.decode(&chunk{data: []byte(line + "\n" + line + "\n")}, FormatJSONL)
	checkBatch(t, b, len(s.Fields))
	if b.unknown["extra"] != 2 || b.unknown["other"] != 2 || len(b.unknown) != 2 {
		t.Errorf("unknown = %v, want extra and other twice", b.unknown)
	}
}

func TestDecodeCSV(t *testing.T) {
	s := loadSchema(t)
	h, err := parseCSVHeader([]byte(genCSVHeader), s)
	if err != nil {
		t.Fatal(err)
	}
	good := `tx_0123456789abcdef,c1,12.50,EUR,DE,m1,grocery,web,captured,a@b.com,4111111111111111,2026-01-02T03:04:05Z`
	tests := []struct {
		name        string
		line        string
		rule, field string
		check       func(t *testing.T, d *decoder, b *batch)
	}{
		{name: "valid", line: good},
		{name: "quoted cells", line: `"tx_0123456789abcdef","c""1",12.50,EUR,DE,"m,1",grocery,web,captured,a@b.com,4111111111111111,2026-01-02 03:04:05`,
			check: func(t *testing.T, d *decoder, b *batch) {
				if got := b.vals[fieldIndex(t, s, "customer_id")].S; got != `c"1` {
					t.Errorf("customer_id = %q", got)
				}
				if got := b.vals[fieldIndex(t, s, "merchant_id")].S; got != "m,1" {
					t.Errorf("merchant_id = %q", got)
				}
			}},
		{name: "empty optional cells are null", line: `tx_0123456789abcdef,c1,12.50,EUR,,m1,,,captured,,,1767323045000`,
			check: func(t *testing.T, d *decoder, b *batch) {
				for _, f := range []string{"country", "merchant_category", "channel", "email", "card_number"} {
					if !b.vals[fieldIndex(t, s, f)].Null {
						t.Errorf("%s not null", f)
					}
				}
			}},
		{name: "empty required cell", line: `,c1,12.50,EUR,DE,m1,grocery,web,captured,a@b.com,4111,2026-01-02T03:04:05Z`, rule: "required", field: "transaction_id"},
		{name: "too few cells", line: `tx_0123456789abcdef,c1,12.50`, rule: "csv"},
		{name: "too many cells", line: good + ",", rule: "csv"},
		{name: "bare quote", line: strings.Replace(good, "12.50", `12".50`, 1), rule: "csv"},
		{name: "unterminated quote", line: strings.Replace(good, "c1", `"c1`, 1), rule: "csv"},
		{name: "invalid utf8", line: strings.Replace(good, "a@b.com", "a\xff@b.com", 1), rule: "utf8", field: "email"},
		{name: "crlf", line: good + "\r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDecoder(t, s, 1<<20)
			b := d.decode(&chunk{data: []byte(tt.line + "\n"), firstLine: 2, firstOffset: 10, header: h}, FormatCSV)
			checkBatch(t, b, len(s.Fields))
			if tt.rule == "" {
				if len(b.q) != 0 || len(b.days) != 1 {
					t.Fatalf("quarantined %+v", b.q)
				}
				if tt.check != nil {
					tt.check(t, d, b)
				}
				return
			}
			if len(b.q) != 1 || b.q[0].rule != tt.rule || b.q[0].field != tt.field {
				t.Fatalf("quarantined %+v, want %s/%s", b.q, tt.rule, tt.field)
			}
			if want := strings.TrimSuffix(tt.line, "\r"); string(b.q[0].raw) != want {
				t.Errorf("raw %q, want %q", b.q[0].raw, want)
			}
		})
	}
}

// TestIngestCSVQuirks runs CSV with a BOM, CRLF line ends and blank lines
// before the header through the whole pipeline.
func TestIngestCSVQuirks(t *testing.T) {
	s := loadSchema(t)
	row := func(i int) string {
		return fmt.Sprintf("tx_%016x,c1,1.00,EUR,DE,m1,grocery,web,captured,a@b.com,4111,2026-01-02T03:04:05Z", i)
	}
	tests := []struct {
		name    string
		content string
		rows    int64
		empty   int64
	}{
		{"bom crlf", "\xef\xbb\xbf" + genCSVHeader + "\r\n" + row(1) + "\r\n" + row(2) + "\r\n", 2, 0},
		{"blank lines before the header", "\n\r\n" + genCSVHeader + "\n" + row(1) + "\n\n" + row(2), 2, 1},
		{"header only", genCSVHeader + "\n", 0, 0},
		{"reordered header", "created_at,transaction_id,customer_id,amt,currency,merchant_id,status\n2026-01-02T00:00:00Z,tx_00000000000000aa,c,1,EUR,m,captured\n", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			res := run(t, Options{Schema: s, Sources: []string{path}, Store: mem.New(), Workers: 2})
			if res.RowsRead != tt.rows || res.RowsWritten != tt.rows || res.EmptyLines != tt.empty {
				t.Errorf("read %d written %d empty %d quarantined %+v; want %d rows, %d empty", res.RowsRead, res.RowsWritten, res.EmptyLines,
					res.QuarantineReasons, tt.rows, tt.empty)
			}
		})
	}
}

func TestIngestLongLines(t *testing.T) {
	s := loadSchema(t)
	bad := strings.Replace(validJSON, `"currency":" eur"`, `"currency":"EURO"`, 1) // quarantined: pattern
	tests := []struct {
		name    string
		longLen int // bytes of the long line's string value
		maxLine int
	}{
		{"limit below 4 KiB", 9000, 200},
		{"limit above 4 KiB", 9000, 5000},
		{"no limit hit", 9000, 1 << 20},
		{"longer than the read buffer", 5 << 20, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			long := `{"transaction_id":"` + strings.Repeat("x", tt.longLen) + `"}`
			content := validJSON + "\n" + long + "\n" + bad + "\n"
			path := filepath.Join(t.TempDir(), "in.jsonl")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			st := mem.New()
			res := run(t, Options{Schema: s, Sources: []string{path}, Store: st, MaxLineBytes: tt.maxLine, MaxQuarantineRatio: -1, Workers: 2})
			if res.RowsRead != 3 {
				t.Errorf("rows_read %d, want 3", res.RowsRead)
			}
			q := readQuarantine(t, st, res.Contribution.ID)
			if int64(len(q)) != res.RowsQuarantined {
				t.Fatalf("quarantine file has %d rows, result %d", len(q), res.RowsQuarantined)
			}
			byLine := map[int64]QuarantineRecord{}
			for _, r := range q {
				byLine[r.Line] = r
			}
			wantQ := int64(2) // the long line and the bad one
			if len(validJSON) > tt.maxLine {
				wantQ = 3
			}
			if res.RowsQuarantined != wantQ {
				t.Errorf("rows_quarantined %d, want %d: %+v", res.RowsQuarantined, wantQ, res.QuarantineReasons)
			}
			l := byLine[2]
			if len(long) > tt.maxLine {
				if l.Rule != "line_too_long" || l.RawBytes != int64(len(long)) || l.RawTruncated != (len(long) > quarantineHeadBytes) ||
					len(l.Raw) != min(quarantineHeadBytes, len(long)) || string(l.Raw) != long[:len(l.Raw)] || l.Offset != int64(len(validJSON)+1) {
					t.Errorf("long line record: rule %q bytes %d truncated %v raw %d offset %d", l.Rule, l.RawBytes, l.RawTruncated, len(l.Raw), l.Offset)
				}
			} else if l.Rule != "pattern" {
				t.Errorf("line 2 quarantined as %q, want pattern (transaction_id)", l.Rule)
			}
			// Reading goes on after the long line with the right position.
			b3 := byLine[3]
			wantRule, wantField := "pattern", "currency"
			if len(bad) > tt.maxLine {
				wantRule, wantField = "line_too_long", ""
			}
			if b3.Rule != wantRule || b3.Field != wantField || b3.Offset != int64(len(validJSON)+1+len(long)+1) || string(b3.Raw) != bad {
				t.Errorf("line 3 record: %s/%s offset %d raw %q", b3.Rule, b3.Field, b3.Offset, b3.Raw)
			}
		})
	}
}
