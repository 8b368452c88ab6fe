package schemas

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// writeTestParquet writes rows into an in-memory Parquet file and opens it.
func writeTestParquet(t *testing.T, rows []parquet.Row, opts ...parquet.WriterOption) ([]byte, *parquet.File) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, opts...)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), f
}

func TestParquetRoundTrip(t *testing.T) {
	s, c := newTestCoercer(t)
	// Two rows: one with every field present, one with every optional field null.
	full := map[string]Raw{
		"s": str("hello"), "cur": str("eur"), "status": str("captured"), "n": num("42"), "f": num("1.25"),
		"b": boolean(true), "amount": num("123.45"), "ts": str("2026-01-02T03:04:05.678901Z"), "d": str("2026-01-02"),
		"email": str("a@b.c"), "masked": str("a@b.c"), "dropped": str("x"), "nfc": str("z"), "small": num("0.5"),
		"us": num("7"),
	}
	sparse := map[string]Raw{"cur": str("usd"), "ts": num("1767225600000")}
	want := coerceRows(t, s, c, full, sparse)
	var rows []parquet.Row
	for _, vals := range want {
		rows = append(rows, s.AppendRow(nil, vals))
	}

	opts := []parquet.WriterOption{s.ParquetSchema(), parquet.Compression(&parquet.Zstd)}
	for k, v := range s.KeyValueMetadata() {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	buf, f := writeTestParquet(t, rows, opts...)
	stored := s.StoredFields()
	cols := f.Schema().Fields()
	if len(cols) != len(stored) || len(stored) != len(s.Fields)-1 {
		t.Fatalf("%d columns, %d stored fields", len(cols), len(stored))
	}
	for ci, i := range stored {
		if cols[ci].Name() != s.Fields[i].Name {
			t.Errorf("column %d is %q, want %q", ci, cols[ci].Name(), s.Fields[i].Name)
		}
		if cols[ci].Optional() == s.Fields[i].Required {
			t.Errorf("column %s: optional %v", cols[ci].Name(), cols[ci].Optional())
		}
	}
	// Logical types, as written in the footer.
	for _, el := range f.Metadata().Schema {
		lt := el.LogicalType.String()
		switch el.Name {
		case "ts":
			ts, ok := el.LogicalType.Value.(*format.TimestampType)
			if !ok || !ts.IsAdjustedToUTC || ts.Unit.String() != "MICROS" {
				t.Errorf("ts logical type %s", lt)
			}
		case "amount":
			d, ok := el.LogicalType.Value.(*format.DecimalType)
			if !ok || d.Precision != 18 || d.Scale != 2 || el.Type.V != format.Int64 {
				t.Errorf("amount logical type %s", lt)
			}
		case "d":
			if _, ok := el.LogicalType.Value.(*format.DateType); !ok {
				t.Errorf("d logical type %s", lt)
			}
		}
	}
	if v, ok := f.Lookup(MetaFingerprint); !ok || v != s.Fingerprint {
		t.Errorf("fingerprint metadata %q", v)
	}
	if v, _ := f.Lookup(MetaTagsPrefix + "email"); v != "" {
		t.Errorf("unexpected tags %q", v)
	}
	if v, _ := f.Lookup(MetaPIIPrefix + "email"); v != "hash" {
		t.Errorf("pii metadata %q", v)
	}
	var doc Doc
	js, _ := f.Lookup(MetaSchema)
	if err := json.Unmarshal([]byte(js), &doc); err != nil || doc.Fingerprint != s.Fingerprint || len(doc.Fields) != len(s.Fields) {
		t.Errorf("schema metadata: %v %+v", err, doc)
	}

	r := parquet.NewReader(bytes.NewReader(buf))
	got := make([]parquet.Row, 3)
	n, err := r.ReadRows(got)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("read %d rows", n)
	}
	for ri := range 2 {
		if len(got[ri]) != len(stored) {
			t.Fatalf("row %d has %d values", ri, len(got[ri]))
		}
		for ci, i := range stored {
			pv := got[ri][ci]
			if pv.Column() != ci {
				t.Errorf("row %d value %d has column %d", ri, ci, pv.Column())
			}
			if v := ValueFromParquet(&s.Fields[i], pv); v != want[ri][i] {
				t.Errorf("row %d field %s: got %+v, want %+v", ri, s.Fields[i].Name, v, want[ri][i])
			}
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDocJSON(t *testing.T) {
	s, err := Parse("", []byte(goodSchema))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s.Doc())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"table":"payments","event_time":"created_at","key":["id"],"fingerprint":"` + s.Fingerprint + `","fields":[` +
		`{"name":"id","type":"string","required":true,"from":["id"]},` +
		`{"name":"amount","type":"decimal(18,2)","required":false,"from":["amount","amt"],"min":"0","max":"1000000.5"},` +
		`{"name":"created_at","type":"timestamp","required":true,"from":["created_at"],"formats":["rfc3339"]}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
