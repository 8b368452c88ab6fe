package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/zeebo/xxh3"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// FileWriterOptions are the Parquet settings of every data file of the lake
// (zstd pages, column statistics and index, row groups of at most rowGroupRows rows) with
// the schema's key-value metadata kv. Ingest, compaction and the rewrite of
// merged files all write with them.
func FileWriterOptions(kv map[string]string, rowGroupRows int64) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(dataCodec),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("txlake", "1", "txlake"),
		// Statistics go to the row groups' column chunks and to the column
		// index (a min and max per page), not into every page header too:
		// parquet-go would compute each page's bounds twice, and readers
		// skip pages by the column index (DuckDB writes neither).
		parquet.DataPageStatistics(false),
	}
	for k, v := range kv {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	return opts
}

// DefaultRowGroupRows is the row-group size of data files (DuckDB's default).
const DefaultRowGroupRows = 122_880

// DataFileWriter streams rows into one new data file of the lake while it
// computes the file's SHA-256 and size. Nothing is visible under the key
// until Close succeeds; Abort (or a failed Close) stores nothing.
type DataFileWriter struct {
	w       *parquet.Writer
	pw      *io.PipeWriter
	h       hash.Hash
	bytes   int64
	rows    int64
	putDone chan error

	rowGroupRows int64           // the row-group size
	groupRows    int64           // rows of the current row group (WriteColumns)
	colBuf       []parquet.Value // WriteColumns' values of one column
	cols         []*parquet.ColumnWriter
}

// NewDataFileWriter starts writing key with the given Parquet schema and
// key-value metadata. The Put runs until Close or Abort, under ctx. extra
// options may change how the file is written out (such as
// parquet.WriteBufferSize), never what it holds.
func NewDataFileWriter(ctx context.Context, st storage.Store, key string, schema *parquet.Schema, kv map[string]string, rowGroupRows int64, extra ...parquet.WriterOption) *DataFileWriter {
	pr, pw := io.Pipe()
	d := &DataFileWriter{pw: pw, h: sha256.New(), putDone: make(chan error, 1), rowGroupRows: rowGroupRows}
	if rowGroupRows <= 0 {
		d.rowGroupRows = parquet.DefaultMaxRowsPerRowGroup // as parquet.MaxRowsPerRowGroup takes it
	}
	go func() {
		err := st.Put(ctx, key, pr, -1)
		pr.CloseWithError(err)
		d.putDone <- err
	}()
	opts := append([]parquet.WriterOption{schema}, FileWriterOptions(kv, rowGroupRows)...)
	d.w = parquet.NewWriter(hashedPipe{d}, append(opts, extra...)...)
	return d
}

type hashedPipe struct{ d *DataFileWriter }

func (h hashedPipe) Write(b []byte) (int, error) {
	n, err := h.d.pw.Write(b)
	h.d.h.Write(b[:n])
	h.d.bytes += int64(n)
	return n, err
}

// WriteRows appends rows.
func (d *DataFileWriter) WriteRows(rows []parquet.Row) error {
	n, err := d.w.WriteRows(rows)
	d.rows += int64(n)
	return err
}

// writeSliceRows is how many rows WriteColumns hands to a column writer at
// a time: parquet-go's WriteRows splits rows into slices of 64 rows and
// ends a page only between slices, so the same slices make the same pages.
const writeSliceRows = 64

// WriteColumns appends n rows column by column, without assembling rows:
// for each slice [i, j) of the n rows and each column c of the schema (in
// column order), fill appends the values of column c of rows i to j-1 to
// dst and returns it; the values must be whole rows, as in the rows
// WriteRows would get, with their column index and levels. Row groups end
// at the row-group size and rows go to the column writers in the slices
// WriteRows uses, so the file is the same as with WriteRows of the same
// rows. A file is written either with WriteColumns or with WriteRows, not
// both.
func (d *DataFileWriter) WriteColumns(n int, fill func(dst []parquet.Value, c, i, j int) []parquet.Value) error {
	if d.cols == nil {
		d.cols = d.w.ColumnWriters()
	}
	for i := 0; i < n; {
		if d.groupRows >= d.rowGroupRows {
			if err := d.Flush(); err != nil {
				return err
			}
		}
		j := min(n, i+writeSliceRows)
		if rest := d.rowGroupRows - d.groupRows; int64(j-i) > rest {
			j = i + int(rest)
		}
		for c, cw := range d.cols {
			d.colBuf = fill(d.colBuf[:0], c, i, j)
			if _, err := cw.WriteRowValues(d.colBuf); err != nil {
				clear(d.colBuf)
				return err
			}
		}
		d.groupRows += int64(j - i)
		d.rows += int64(j - i)
		i = j
	}
	clear(d.colBuf) // drop the references to the caller's strings
	return nil
}

// Flush ends the current row group and writes it out.
func (d *DataFileWriter) Flush() error {
	d.groupRows = 0
	return d.w.Flush()
}

// Bytes is the number of bytes of the file written out so far: with
// parquet.WriteBufferSize(0), every row group flushed.
func (d *DataFileWriter) Bytes() int64 { return d.bytes }

// Rows is the number of rows written so far.
func (d *DataFileWriter) Rows() int64 { return d.rows }

// Close finishes the file and waits for the store to commit it. It returns
// the file's size and lowercase hex SHA-256.
func (d *DataFileWriter) Close() (size int64, sha string, err error) {
	if err := d.w.Close(); err != nil {
		d.Abort(err)
		return 0, "", err
	}
	d.pw.Close()
	err = <-d.putDone
	d.pw = nil
	if err != nil {
		return 0, "", err
	}
	return d.bytes, hex.EncodeToString(d.h.Sum(nil)), nil
}

// Abort makes the Put fail so it stores nothing.
func (d *DataFileWriter) Abort(err error) {
	if d.pw != nil {
		d.pw.CloseWithError(err)
		<-d.putDone
		d.pw = nil
	}
}

// DataFile is an open data file of the lake. The caller closes it.
type DataFile struct {
	*parquet.File
	obj storage.Object
}

// OpenDataFile opens key and reads its Parquet footer.
func OpenDataFile(ctx context.Context, st storage.Store, key string) (*DataFile, error) {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipBloomFilters(true))
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("read %s: %w", st.URL(key), err)
	}
	return &DataFile{File: pf, obj: obj}, nil
}

// Close closes the underlying object.
func (d *DataFile) Close() error { return d.obj.Close() }

// KeyValueMetadata returns the file's key-value metadata.
func (d *DataFile) KeyValueMetadata() map[string]string {
	kv := map[string]string{}
	for _, e := range d.Metadata().KeyValueMetadata {
		kv[e.Key] = e.Value
	}
	return kv
}

// EachRows calls fn with consecutive batches of the file's rows, in file
// order. The rows are only valid during the call.
func (d *DataFile) EachRows(ctx context.Context, fn func(rows []parquet.Row) error) error {
	buf := make([]parquet.Row, 1024)
	for _, rg := range d.RowGroups() {
		rows := rg.Rows()
		for {
			if err := ctx.Err(); err != nil {
				rows.Close()
				return err
			}
			n, err := rows.ReadRows(buf)
			if n > 0 {
				if ferr := fn(buf[:n]); ferr != nil {
					rows.Close()
					return ferr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// RowDigest is an order-independent digest of a multiset of rows: the
// count, and the sum (two 64-bit lanes, modulo 2^64) of the 128-bit xxh3
// hash of each row's values. Two sets of rows with the same digest hold the
// same rows, in any order, with overwhelming probability.
type RowDigest struct {
	Rows   int64
	hi, lo uint64
	buf    []byte
}

// Add adds rows to the digest.
func (g *RowDigest) Add(rows []parquet.Row) {
	for _, r := range rows {
		b := g.buf[:0]
		for _, v := range r {
			null := byte(0)
			if v.IsNull() {
				null = 1
			}
			b = append(b, byte(v.Column()), byte(v.Column()>>8), byte(v.RepetitionLevel()), byte(v.DefinitionLevel()), byte(v.Kind()), null)
			vb := v.Bytes()
			b = binary.LittleEndian.AppendUint32(b, uint32(len(vb)))
			b = append(b, vb...)
		}
		h := xxh3.Hash128(b)
		g.hi += h.Hi
		g.lo += h.Lo
		g.Rows++
		g.buf = b
	}
}

// Equal reports whether two digests are the same.
func (g *RowDigest) Equal(o *RowDigest) bool { return g.Rows == o.Rows && g.hi == o.hi && g.lo == o.lo }

// String returns the digest as "<rows>:<hex>".
func (g *RowDigest) String() string { return fmt.Sprintf("%d:%016x%016x", g.Rows, g.hi, g.lo) }

// RewriteWithout stores a copy of the merged file f of partition dt of
// table under name, without the rows of contribution drop, and returns the
// copy's manifest entry (see rewriteDataFile).
func RewriteWithout(ctx context.Context, st storage.Store, table, dt string, f lake.File, drop, name string) (lake.File, error) {
	start, end, ok := f.RowRange(drop)
	if !ok {
		return f, nil
	}
	return rewriteDataFile(ctx, st, table, dt, f, name, DefaultRowGroupRows, end-start, func(i int64) bool { return i >= start && i < end })
}

// rewriteDataFile stores a copy of the listed file f of partition dt of
// table under name, without the rows for which drop (called with each row
// number, in order) reports true, and returns the copy's manifest entry.
// dropped must be the number of such rows. When no row is left it stores
// nothing and returns an entry with Rows 0. The copy keeps f's schema,
// metadata and contribution; a merged file's segments lose the dropped rows
// (empty ones go), and a copy left with one contribution becomes a plain
// file of that contribution. The copy is a new object, in the store's
// default class.
func rewriteDataFile(ctx context.Context, st storage.Store, table, dt string, f lake.File, name string, rowGroupRows, dropped int64, drop func(i int64) bool) (lake.File, error) {
	out := lake.File{Name: name, Contribution: f.Contribution, SchemaFingerprint: f.SchemaFingerprint, Rows: f.Rows - dropped}
	if out.Rows <= 0 {
		return out, nil
	}
	dir := lake.PartitionDir(table, dt)
	src, err := OpenDataFile(ctx, st, dir+f.Name)
	if err != nil {
		return lake.File{}, fmt.Errorf("rewrite %s: %w", st.URL(dir+f.Name), err)
	}
	defer src.Close()
	w := NewDataFileWriter(ctx, st, dir+name, src.Schema(), src.KeyValueMetadata(), rowGroupRows)
	// kept counts the rows kept of each segment; seg is the segment of
	// row i and segEnd the row its segment ends before.
	kept := make([]int64, len(f.Segments))
	seg, segEnd := 0, int64(0)
	if len(f.Segments) > 0 {
		segEnd = f.Segments[0].Rows
	}
	var i int64
	var keep []parquet.Row // not rows[:0]: the reader reuses each row's storage
	err = src.EachRows(ctx, func(rows []parquet.Row) error {
		keep = keep[:0]
		for _, r := range rows {
			for seg < len(f.Segments)-1 && i >= segEnd {
				seg++
				segEnd += f.Segments[seg].Rows
			}
			if !drop(i) {
				keep = append(keep, r)
				if len(kept) > 0 {
					kept[seg]++
				}
			}
			i++
		}
		return w.WriteRows(keep)
	})
	if err == nil && (w.Rows() != out.Rows || i != f.Rows) {
		err = fmt.Errorf("read %d rows (manifest: %d) and kept %d, expected %d", i, f.Rows, w.Rows(), out.Rows)
	}
	if err != nil {
		w.Abort(err)
		return lake.File{}, fmt.Errorf("rewrite %s: %w", st.URL(dir+f.Name), err)
	}
	for k, s := range f.Segments {
		if kept[k] > 0 {
			out.Segments = append(out.Segments, lake.Segment{Contribution: s.Contribution, Rows: kept[k]})
		}
	}
	if len(out.Segments) == 1 {
		out.Contribution, out.Segments = out.Segments[0].Contribution, nil
	}
	if out.Bytes, out.SHA256, err = w.Close(); err != nil {
		return lake.File{}, fmt.Errorf("rewrite %s: %w", st.URL(dir+f.Name), err)
	}
	return out, nil
}
