package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
		if f.Contribution == exclude {
			continue
		}
		if err := loadFileKeys(ctx, st, s, m.Key(f), ks); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

func loadFileKeys(ctx context.Context, st storage.Store, s *schemas.Schema, key string, ks *keySet) error {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("read keys of committed file: %w", err)
	}
	defer obj.Close()
	pf, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		return fmt.Errorf("read keys of %s: %w", st.URL(key), err)
	}
	cols := make([]int, len(s.KeyIndex))
	for i, fi := range s.KeyIndex {
		leaf, ok := pf.Schema().Lookup(s.Fields[fi].Name)
		if !ok {
			return fmt.Errorf("read keys of %s: key column %q is missing", st.URL(key), s.Fields[fi].Name)
		}
		cols[i] = leaf.ColumnIndex
	}
	row := make([]schemas.Value, len(s.Fields))
	var buf []byte
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
			for i, fi := range s.KeyIndex {
				row[fi] = schemas.ValueFromParquet(&s.Fields[fi], vals[i][r])
			}
			buf = appendKey(buf[:0], s, row)
			ks.Add(xxh3.Hash128(buf))
		}
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
	ctx     context.Context
	st      storage.Store
	s       *schemas.Schema
	pschema *parquet.Schema
	table   string
	dt      string
	runID   string
	contrib string
	opts    []parquet.WriterOption
	maxRows int64

	ch    chan partMsg
	done  chan error
	files []lake.File

	// current file
	n       int
	w       *parquet.Writer
	pw      *io.PipeWriter
	hash    hash.Hash
	bytes   int64
	rows    int64
	putDone chan error
	name    string
}

func (p *partWriter) Write(b []byte) (int, error) {
	n, err := p.pw.Write(b)
	p.hash.Write(b[:n])
	p.bytes += int64(n)
	return n, err
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
	nf := len(p.s.Fields)
	var rowBuf []parquet.Value
	var rows []parquet.Row
	for msg := range p.ch {
		if msg.n > 0 {
			if p.w == nil {
				p.open()
			}
			rowBuf, rows = rowBuf[:0], rows[:0]
			for _, r := range msg.rows {
				start := len(rowBuf)
				rowBuf = p.s.AppendRow(rowBuf, msg.b.vals[int(r)*nf:(int(r)+1)*nf])
				rows = append(rows, parquet.Row(rowBuf[start:len(rowBuf):len(rowBuf)]))
			}
			_, err := p.w.WriteRows(rows)
			msg.b.release()
			if err != nil {
				return fmt.Errorf("write partition %s: %w", p.dt, err)
			}
			p.rows += int64(msg.n)
		}
		if p.w != nil && msg.flush {
			if err := p.w.Flush(); err != nil {
				return fmt.Errorf("write partition %s: %w", p.dt, err)
			}
		}
		if p.w != nil && p.rows >= p.maxRows {
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
	pr, pw := io.Pipe()
	p.pw, p.hash, p.bytes, p.rows = pw, sha256.New(), 0, 0
	p.putDone = make(chan error, 1)
	key := lake.PartitionDir(p.table, p.dt) + p.name
	go func() {
		err := p.st.Put(p.ctx, key, pr, -1)
		pr.CloseWithError(err) // unblock the writer if Put gave up early
		p.putDone <- err
	}()
	p.w = parquet.NewWriter(p, append([]parquet.WriterOption{p.pschema}, p.opts...)...)
}

func (p *partWriter) closeFile() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("write partition %s: %w", p.dt, err)
	}
	p.pw.Close()
	err := <-p.putDone
	p.pw, p.w = nil, nil
	if err != nil {
		return fmt.Errorf("store partition %s file %s: %w", p.dt, p.name, err)
	}
	p.files = append(p.files, lake.File{
		Name: p.name, Bytes: p.bytes, Rows: p.rows, SHA256: hex.EncodeToString(p.hash.Sum(nil)),
		Contribution: p.contrib, SchemaFingerprint: p.s.Fingerprint,
	})
	return nil
}

// abort makes any in-flight Put fail so it stores nothing.
func (p *partWriter) abort(err error) {
	if p.pw != nil {
		p.pw.CloseWithError(err)
		<-p.putDone
		p.pw, p.w = nil, nil
	}
}

// writerOptions are the Parquet settings of data files.
func writerOptions(s *schemas.Schema, rowGroupRows int64) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(dataCodec),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("txlake", "1", "txlake"),
		parquet.DataPageStatistics(true),
	}
	for k, v := range s.KeyValueMetadata() {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	return opts
}
