package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/mem"
)

// colWriteSchema has every column type: required and optional scalars,
// dictionary and plain strings, a dropped (unstored) field, an optional
// dictionary list and a required list, and rules (so a tags column).
const colWriteSchema = `table: t
event_time: ts
fields:
  - name: id
    type: string
    required: true
  - name: ts
    type: timestamp
    required: true
  - name: country
    type: string
    dictionary: true
  - name: note
    type: string
    dictionary: false
  - name: secret
    type: string
    pii: drop
  - name: qty
    type: int64
  - name: price
    type: float64
  - name: ok
    type: bool
  - name: d
    type: date
  - name: amount
    type: decimal(12,2)
  - name: labels
    type: list<string>
    dictionary: true
  - name: notes
    type: list<string>
    required: true
rules:
  - name: big
    kind: condition
    expr: 'qty > 5'
  - name: ok_rule
    kind: condition
    expr: 'ok'
`

// colWriteBatch returns a batch of n random rows of s (nulls, empty and
// multi-element lists, every combination of the two rule bits).
func colWriteBatch(s *schemas.Schema, n int, seed uint64) *batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	nf := len(s.Fields)
	b := &batch{nf: nf, vals: make([]schemas.Value, n*nf), days: make([]int64, n), hits: make([]uint64, n)}
	b.refs.Store(1 << 30) // never back to the pool
	words := []string{"", "a", "bb", "vip", "été", "zz", "x,y"}
	list := func() schemas.Value {
		elems := make([]string, rng.IntN(4)) // 0 to 3 elements
		for i := range elems {
			elems[i] = words[rng.IntN(len(words))]
		}
		return schemas.ListValue(elems)
	}
	for r := range n {
		row := b.vals[r*nf : (r+1)*nf]
		for i := range s.Fields {
			f := &s.Fields[i]
			if !f.Required && rng.IntN(4) == 0 {
				row[i] = schemas.Value{Null: true}
				continue
			}
			switch f.Type.Kind {
			case schemas.KindString:
				if f.Dictionary {
					row[i] = schemas.Value{S: words[rng.IntN(len(words))]}
				} else {
					row[i] = schemas.Value{S: fmt.Sprintf("%s-%d", f.Name, rng.IntN(1000))}
				}
			case schemas.KindFloat64:
				row[i] = schemas.FloatValue(rng.NormFloat64() * 100)
			case schemas.KindBool:
				row[i] = schemas.Value{I: int64(rng.IntN(2))}
			case schemas.KindStringList:
				row[i] = list()
			default:
				row[i] = schemas.Value{I: rng.Int64N(1<<40) - 1<<39}
			}
		}
		b.hits[r] = uint64(rng.IntN(4))
	}
	return b
}

// colWriteMsgs splits rows 0..n-1 of b into messages of varied sizes (1
// row, 64 and 65 rows across the slice size, more than a row group),
// skipping some rows (another partition's) and flushing after some.
func colWriteMsgs(b *batch, n int) []partMsg {
	sizes := []int{1, 7, 64, 65, 130, 300, 3, 250, 64}
	var msgs []partMsg
	r := 0
	for k := 0; r < n; k++ {
		var rows []int32
		for len(rows) < sizes[k%len(sizes)] && r < n {
			if r%11 != 5 {
				rows = append(rows, int32(r))
			}
			r++
		}
		msgs = append(msgs, partMsg{b: b, rows: rows, n: len(rows), flush: k%4 == 3})
	}
	return msgs
}

// writeRowWise is the partition writer's loop as it was before column-wise
// writes: rows assembled with AppendRow and AppendTags, written with
// WriteRows.
func writeRowWise(t *testing.T, p *partWriter, msgs []partMsg) []lake.File {
	t.Helper()
	nf := len(p.s.Fields)
	for _, msg := range msgs {
		if msg.n > 0 {
			if p.w == nil {
				p.open()
			}
			var rows []parquet.Row
			for _, r := range msg.rows {
				row := p.s.AppendRow(nil, msg.b.vals[int(r)*nf:(int(r)+1)*nf])
				if p.s.HasRules() {
					row = p.s.AppendTags(row, msg.b.hits[r])
				}
				rows = append(rows, row)
			}
			if err := p.w.WriteRows(rows); err != nil {
				t.Fatal(err)
			}
		}
		if p.w != nil && msg.flush {
			if err := p.w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if p.w != nil && p.w.Rows() >= p.maxRows {
			if err := p.closeFile(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p.w != nil {
		if err := p.closeFile(); err != nil {
			t.Fatal(err)
		}
	}
	return p.files
}

func readObject(t *testing.T, st storage.Store, key string) []byte {
	t.Helper()
	obj, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The partition writer writes each column of a message's rows directly
// (DataFileWriter.WriteColumns). Its files must be byte for byte those of
// the row-wise path it replaced, so readers see the same rows, pages,
// encodings, statistics, row groups and files: with optional nulls, empty
// and multi-element lists, dictionary columns, tags, small pages, row groups
// cut inside messages and by flushes, and files rolled at maxRows.
func TestColumnWritesMatchRowWrites(t *testing.T) {
	s, err := schemas.Parse("colw.yaml", []byte(colWriteSchema))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                  string
		rules                 bool
		rowGroupRows, maxRows int64
	}{
		{"tags", true, 100, 450},
		{"no-rules", false, 128, 1 << 40},
		{"big-groups", true, DefaultRowGroupRows, 1 << 40},
		{"no-group-size", false, 0, 1 << 40}, // parquet-go's default: no limit
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := *s
			if !tc.rules {
				s.Rules = nil
			}
			const n = 2000
			b := colWriteBatch(&s, n, 7)
			msgs := colWriteMsgs(b, n)
			newWriter := func(st storage.Store) *partWriter {
				return &partWriter{ctx: t.Context(), st: st, s: &s, pschema: s.ParquetSchema(), table: s.Table, dt: "2026-01-02",
					runID: "run", contrib: "c", rowGroupRows: tc.rowGroupRows, maxRows: tc.maxRows,
					extra: []parquet.WriterOption{parquet.PageBufferSize(700)}, // several pages per column chunk
					ch:    make(chan partMsg, 2), done: make(chan error, 1)}
			}
			colSt, rowSt := mem.New(), mem.New()
			cw := newWriter(colSt)
			go cw.run()
			for _, m := range msgs {
				cw.ch <- m
			}
			close(cw.ch)
			if err := <-cw.done; err != nil {
				t.Fatal(err)
			}
			want := writeRowWise(t, newWriter(rowSt), msgs)
			if len(cw.files) != len(want) {
				t.Fatalf("column-wise wrote %d files, row-wise %d", len(cw.files), len(want))
			}
			var total, full, paged int64
			for i, f := range cw.files {
				if !reflect.DeepEqual(f, want[i]) {
					t.Errorf("file %d: column-wise %+v, row-wise %+v", i, f, want[i])
				}
				key := lake.PartitionDir(s.Table, "2026-01-02") + f.Name
				got, exp := readObject(t, colSt, key), readObject(t, rowSt, key)
				if !bytes.Equal(got, exp) {
					t.Errorf("file %s: %d bytes column-wise differ from the %d bytes row-wise", f.Name, len(got), len(exp))
				}
				pf, err := parquet.OpenFile(bytes.NewReader(got), int64(len(got)))
				if err != nil {
					t.Fatal(err)
				}
				total += pf.NumRows()
				for k, rg := range pf.RowGroups() {
					if tc.rowGroupRows > 0 && rg.NumRows() > tc.rowGroupRows {
						t.Errorf("file %s row group %d has %d rows, more than %d", f.Name, k, rg.NumRows(), tc.rowGroupRows)
					}
					if rg.NumRows() == tc.rowGroupRows {
						full++
					}
					if oi, err := rg.ColumnChunks()[0].OffsetIndex(); err == nil && oi.NumPages() > 1 {
						paged++
					}
				}
			}
			var rows int64
			for _, m := range msgs {
				rows += int64(m.n)
			}
			if total != rows {
				t.Errorf("files hold %d rows, %d written", total, rows)
			}
			if tc.rowGroupRows == 100 && full < 5 {
				t.Errorf("%d row groups of 100 rows, want row groups cut at 100 rows", full)
			}
			if paged == 0 {
				t.Error("no column chunk has several pages")
			}
			if tc.maxRows == 450 && len(cw.files) < 3 {
				t.Errorf("%d files, want files rolled at 450 rows", len(cw.files))
			}
		})
	}
}
