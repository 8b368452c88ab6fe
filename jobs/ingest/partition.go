package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/zeebo/xxh3"

	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// loadKeys reads the key columns of every file m lists that belongs to
// another contribution than exclude, and returns their hashes.
func loadKeys(ctx context.Context, st storage.Store, s *schemas.Schema, m *lake.Manifest, exclude string) (*keySet, error) {
	ks := newKeySet()
	if m == nil || len(s.KeyIndex) == 0 {
		return ks, nil
	}
	for _, f := range m.Files {
		if f.Contribution == exclude && len(f.Segments) == 0 {
			continue
		}
		// A merged file's rows of exclude are skipped: they are replaced.
		skipFrom, skipTo, _ := f.RowRange(exclude)
		if err := loadFileKeys(ctx, st, s, m.Key(f), ks, skipFrom, skipTo); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				// A concurrent commit replaced the partition and removed
				// the file: say so, since a re-run is all it takes.
				if cur, rerr := lake.ReadManifest(ctx, st, m.Table, m.Date); rerr == nil && (cur == nil || cur.Generation != m.Generation) {
					return nil, fmt.Errorf("read keys of %s: %w (a file of generation %d is gone); re-run to include its changes",
						st.URL(lake.PartitionDir(m.Table, m.Date)), lake.ErrConcurrentChange, m.Generation)
				}
			}
			return nil, err
		}
	}
	return ks, nil
}

// loadFileKeys adds the keys of the rows of key to ks, except rows
// [skipFrom, skipTo).
func loadFileKeys(ctx context.Context, st storage.Store, s *schemas.Schema, key string, ks *keySet, skipFrom, skipTo int64) error {
	return scanFileKeys(ctx, st, s, key, -1, func(row int, k xxh3.Uint128, _ schemas.Value) {
		if r := int64(row); r < skipFrom || r >= skipTo {
			ks.Add(k)
		}
	})
}

// scanFileKeys calls visit with the index, key hash and (when extra >= 0)
// the value of field extra of every row of a committed data file.
func scanFileKeys(ctx context.Context, st storage.Store, s *schemas.Schema, key string, extra int, visit func(row int, k xxh3.Uint128, v schemas.Value)) error {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("read keys of committed file: %w", err)
	}
	defer obj.Close()
	pf, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		return fmt.Errorf("read keys of %s: %w", st.URL(key), err)
	}
	fields := s.KeyIndex
	if extra >= 0 {
		fields = append(append([]int(nil), fields...), extra)
	}
	cols := make([]int, len(fields))
	for i, fi := range fields {
		leaf, ok := pf.Schema().Lookup(s.Fields[fi].Name)
		if !ok {
			return fmt.Errorf("read keys of %s: column %q is missing", st.URL(key), s.Fields[fi].Name)
		}
		cols[i] = leaf.ColumnIndex
	}
	row := make([]schemas.Value, len(s.Fields))
	var buf []byte
	base := 0
	for _, rg := range pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(rg.NumRows())
		vals := make([][]parquet.Value, len(cols))
		for i, c := range cols {
			v, err := readColumn(rg.ColumnChunks()[c], n)
			if err != nil {
				return fmt.Errorf("read keys of %s: %w", st.URL(key), err)
			}
			vals[i] = v
		}
		for r := 0; r < n; r++ {
			for i, fi := range fields {
				row[fi] = schemas.ValueFromParquet(&s.Fields[fi], vals[i][r])
			}
			buf = appendKey(buf[:0], s, row)
			var v schemas.Value
			if extra >= 0 {
				v = row[extra]
			}
			visit(base+r, xxh3.Hash128(buf), v)
		}
		base += n
	}
	return nil
}

func readColumn(cc parquet.ColumnChunk, n int) ([]parquet.Value, error) {
	out := make([]parquet.Value, 0, n)
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 4096)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		vr := p.Values()
		for {
			k, err := vr.ReadValues(buf)
			for _, v := range buf[:k] {
				out = append(out, v.Clone())
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(p)
				return nil, err
			}
		}
		parquet.Release(p)
	}
	if len(out) != n {
		return nil, fmt.Errorf("column has %d values for %d rows", len(out), n)
	}
	return out, nil
}

// partMsg carries rows for one partition writer.
type partMsg struct {
	b     *batch  // the decoded batch the rows are in
	rows  []int32 // indexes of the batch's rows for this partition
	n     int
	flush bool // flush the current row group after these rows
}

// partWriter streams one partition's new rows into Parquet files of this
// run. It runs in its own goroutine; the consumer sends it messages.
type partWriter struct {
	ctx          context.Context
	st           storage.Store
	s            *schemas.Schema
	pschema      *parquet.Schema
	table        string
	dt           string
	runID        string
	contrib      string
	rowGroupRows int64
	maxRows      int64
	extra        []parquet.WriterOption // how files are written out (the spool's codec)

	ch    chan partMsg
	done  chan error
	files []lake.File

	// current file
	n    int
	w    *DataFileWriter
	name string
}

func (p *partWriter) run() {
	p.done <- p.loop()
}

func (p *partWriter) loop() (err error) {
	defer func() {
		if err != nil {
			p.abort(err)
			for range p.ch { // drain so the consumer never blocks
			}
		}
	}()
	stored := p.s.StoredFields()
	for msg := range p.ch {
		if msg.n > 0 {
			if p.w == nil {
				p.open()
			}
			err := p.w.WriteColumns(len(msg.rows), func(dst []parquet.Value, c, i, j int) []parquet.Value {
				if c < len(stored) {
					return p.s.AppendColumn(dst, stored[c], c, msg.b.vals, msg.rows[i:j])
				}
				for _, r := range msg.rows[i:j] { // the tags column
					var hits uint64
					if len(msg.b.hits) > 0 {
						hits = msg.b.hits[r]
					}
					dst = p.s.AppendTags(dst, hits)
				}
				return dst
			})
			msg.b.release()
			if err != nil {
				return fmt.Errorf("write partition %s: %w", p.dt, err)
			}
		}
		if p.w != nil && msg.flush {
			if err := p.w.Flush(); err != nil {
				return fmt.Errorf("write partition %s: %w", p.dt, err)
			}
		}
		if p.w != nil && p.w.Rows() >= p.maxRows {
			if err := p.closeFile(); err != nil {
				return err
			}
		}
	}
	if p.w != nil {
		return p.closeFile()
	}
	return nil
}

func (p *partWriter) open() {
	p.name = lake.DataFileName(p.runID, p.n)
	p.n++
	key := lake.PartitionDir(p.table, p.dt) + p.name
	p.w = NewDataFileWriter(p.ctx, p.st, key, p.pschema, p.s.KeyValueMetadata(), p.rowGroupRows, p.extra...)
}

func (p *partWriter) closeFile() error {
	rows := p.w.Rows()
	size, sum, err := p.w.Close()
	p.w = nil
	if err != nil {
		return fmt.Errorf("store partition %s file %s: %w", p.dt, p.name, err)
	}
	p.files = append(p.files, lake.File{
		Name: p.name, Bytes: size, Rows: rows, SHA256: sum,
		Contribution: p.contrib, SchemaFingerprint: p.s.Fingerprint,
	})
	return nil
}

// abort makes any in-flight Put fail so it stores nothing.
func (p *partWriter) abort(err error) {
	if p.w != nil {
		p.w.Abort(err)
		p.w = nil
	}
}
