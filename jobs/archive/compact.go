package archive

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage/lake"
)

// piece is the rows of one contribution in one input file: [start, end).
type piece struct {
	file         lake.File
	contribution string
	start, end   int64
}

// compact rewrites the small files of partition dt into files of about the
// target size.
//
// Contributions: the rows of each input file are taken contribution by
// contribution, and every output file records, in File.Segments, which
// consecutive rows belong to which contribution (one segment per
// contribution and file; an output file of one contribution is a plain file
// of that contribution). A later re-ingest of a contribution rewrites the
// merged files without its rows (lake.Commit.Rewrite), so it still replaces
// exactly its own rows.
//
// Safety: the new files are written, read back from the store, and their
// row count and order-independent row digest compared with the inputs'
// before the manifest swap; the old files are deleted only after the new
// manifest is committed. A crash before the swap leaves the old partition
// (plus orphan new files); after it, the new one (plus orphan old files).
func (o *Options) compact(ctx context.Context, runID, dt string, p *PartitionResult) error {
	m, err := lake.ReadManifest(ctx, o.Store, o.Table, dt)
	if err != nil || m == nil {
		return err
	}
	p.Generation = m.Generation
	groups := map[string][]lake.File{} // by schema fingerprint
	for _, f := range m.Files {
		if f.StorageClass != "" {
			continue // archived files stay as they are
		}
		if f.Bytes < o.TargetFileSize*3/4 {
			groups[f.SchemaFingerprint] = append(groups[f.SchemaFingerprint], f)
		}
	}
	var fps []string
	for fp, fs := range groups {
		var bytes int64
		for _, f := range fs {
			bytes += f.Bytes
		}
		if int64(len(fs)) > (bytes+o.TargetFileSize-1)/o.TargetFileSize { // fewer files would do
			fps = append(fps, fp)
		}
	}
	sort.Strings(fps)
	st := &CompactionStats{FilesBefore: len(m.Files), FilesAfter: len(m.Files), Rows: m.Rows}
	p.Compaction = st
	if len(fps) == 0 {
		p.Note = "no small files to compact"
		return nil
	}
	var inputs, outputs []lake.File
	var digest ingest.RowDigest
	n := 0
	for _, fp := range fps {
		in := groups[fp]
		inputs = append(inputs, in...)
		if o.DryRun {
			var bytes int64
			for _, f := range in {
				bytes += f.Bytes
			}
			st.FilesAfter -= len(in) - int((bytes+o.TargetFileSize-1)/o.TargetFileSize)
			continue
		}
		out, err := o.mergeGroup(ctx, runID, dt, in, &n, &digest)
		if err != nil {
			o.deleteFiles(ctx, dt, out)
			return err
		}
		outputs = append(outputs, out...)
	}
	st.Merged = len(inputs)
	for _, f := range inputs {
		st.BytesBefore += f.Bytes
	}
	if o.DryRun {
		return nil
	}
	for _, f := range outputs {
		st.BytesAfter += f.Bytes
	}
	st.FilesAfter = len(m.Files) - len(inputs) + len(outputs)
	st.RowDigest = digest.String()
	if err := o.checkOutputs(ctx, dt, inputs, outputs, &digest); err != nil {
		o.deleteFiles(ctx, dt, outputs)
		return err
	}
	if o.AfterCompactWrite != nil {
		o.AfterCompactWrite(dt)
	}
	replaced := map[string]bool{}
	for _, f := range inputs {
		replaced[f.Name] = true
	}
	next, err := o.swap(ctx, runID, dt, m.Generation, func(cur *lake.Manifest) error {
		kept := cur.Files[:0]
		for _, f := range cur.Files {
			if !replaced[f.Name] {
				kept = append(kept, f)
			}
		}
		cur.Files = append(kept, outputs...)
		return nil
	})
	if err != nil {
		o.deleteFiles(ctx, dt, outputs)
		return err
	}
	p.Generation = next.Generation
	// Committed: the inputs are garbage now. A failure here leaves orphans
	// that the next ingest of the partition or verify --repair removes.
	if err := o.deleteFiles(ctx, dt, inputs); err != nil {
		return fmt.Errorf("partition %s compacted (generation %d), but removing its old files failed: %w", dt, next.Generation, err)
	}
	o.Logger.Info("partition compacted", "partition", dt, "files_before", st.FilesBefore, "files_after", st.FilesAfter, "rows", st.Rows)
	return nil
}

// mergeGroup writes the rows of files (one schema) into new files of about
// the target size, contribution by contribution, adding every input row to
// digest.
func (o *Options) mergeGroup(ctx context.Context, runID, dt string, files []lake.File, n *int, digest *ingest.RowDigest) ([]lake.File, error) {
	var pieces []piece
	var rows int64
	for _, f := range files {
		rows += f.Rows
		if len(f.Segments) == 0 {
			pieces = append(pieces, piece{file: f, contribution: f.Contribution, start: 0, end: f.Rows})
			continue
		}
		var at int64
		for _, s := range f.Segments {
			pieces = append(pieces, piece{file: f, contribution: s.Contribution, start: at, end: at + s.Rows})
			at += s.Rows
		}
	}
	sort.SliceStable(pieces, func(i, j int) bool {
		if pieces[i].contribution != pieces[j].contribution {
			return pieces[i].contribution < pieces[j].contribution
		}
		return pieces[i].file.Name < pieces[j].file.Name
	})
	// Output files roll on their real size: rows go in row groups of
	// rgRows rows (about an eighth of the target, at most the ingest
	// default), and after each row group is flushed the file is closed
	// when one more would take it past the target. rgRows starts from the
	// inputs' compressed column data per row and is corrected from the
	// bytes the first row group really took.
	dir := lake.PartitionDir(o.Table, dt)
	dataBytes, err := o.columnBytes(ctx, dir, files)
	if err != nil {
		return nil, fmt.Errorf("compact %s: %w", dt, err)
	}
	rgRowsFor := func(bytesPerRow float64) int64 {
		return min(max(int64(float64(o.TargetFileSize)/8/max(bytesPerRow, 1e-3)), 1), ingest.DefaultRowGroupRows)
	}
	rgRows := rgRowsFor(float64(dataBytes) / float64(max(rows, 1)))
	var out []lake.File
	var w *ingest.DataFileWriter
	var cur lake.File
	var inGroup int64 // rows in the open row group
	var groups int64  // row groups flushed into the open file
	// footerPerGroup is what each row group adds to the footer (column
	// chunk metadata, statistics, page index): a guess at first, then
	// learnt from each file closed.
	var footerPerGroup int64
	closeCur := func() error {
		flushed := w.Bytes()
		size, sum, err := w.Close()
		if err == nil && groups > 0 {
			footerPerGroup = (size - flushed) / groups
		}
		w, inGroup, groups = nil, 0, 0
		if err != nil {
			return fmt.Errorf("compact %s: write %s: %w", dt, cur.Name, err)
		}
		cur.Bytes, cur.SHA256 = size, sum
		if len(cur.Segments) == 1 {
			cur.Contribution, cur.Segments = cur.Segments[0].Contribution, nil
		}
		out = append(out, cur)
		return nil
	}
	endGroup := func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		inGroup = 0
		groups++
		written := w.Bytes()
		if groups == 1 && len(out) == 0 {
			rgRows = rgRowsFor(float64(written) / float64(cur.Rows))
		}
		if written+written/groups+(groups+1)*footerPerGroup > o.TargetFileSize {
			return closeCur()
		}
		return nil
	}
	fail := func(err error) ([]lake.File, error) {
		if w != nil {
			w.Abort(err)
		}
		return out, err
	}
	for _, pc := range pieces {
		src, err := ingest.OpenDataFile(ctx, o.Store, dir+pc.file.Name)
		if err != nil {
			return fail(fmt.Errorf("compact %s: %w", dt, err))
		}
		var i int64
		err = src.EachRows(ctx, func(batch []parquet.Row) error {
			lo, hi := max(pc.start-i, 0), min(pc.end-i, int64(len(batch)))
			i += int64(len(batch))
			for lo < hi {
				if w == nil {
					*n++
					cur = lake.File{Name: lake.CompactFileName(runID, *n), SchemaFingerprint: pc.file.SchemaFingerprint}
					if footerPerGroup == 0 {
						footerPerGroup = 150 * int64(len(src.Schema().Columns()))
					}
					w = ingest.NewDataFileWriter(ctx, o.Store, dir+cur.Name, src.Schema(), src.KeyValueMetadata(), ingest.DefaultRowGroupRows,
						parquet.WriteBufferSize(0)) // so the bytes written are known at every row group
				}
				take := min(hi-lo, rgRows-inGroup)
				part := batch[lo : lo+take]
				digest.Add(part)
				if err := w.WriteRows(part); err != nil {
					return err
				}
				if k := len(cur.Segments); k > 0 && cur.Segments[k-1].Contribution == pc.contribution {
					cur.Segments[k-1].Rows += take
				} else {
					cur.Segments = append(cur.Segments, lake.Segment{Contribution: pc.contribution, Rows: take})
				}
				cur.Rows += take
				inGroup += take
				lo += take
				if inGroup >= rgRows {
					if err := endGroup(); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if cerr := src.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(fmt.Errorf("compact %s: read %s: %w", dt, pc.file.Name, err))
		}
	}
	if w != nil {
		if err := closeCur(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// columnBytes sums the compressed column data of files, from their footers.
func (o *Options) columnBytes(ctx context.Context, dir string, files []lake.File) (int64, error) {
	var n int64
	for _, f := range files {
		src, err := ingest.OpenDataFile(ctx, o.Store, dir+f.Name)
		if err != nil {
			return 0, err
		}
		for _, rg := range src.Metadata().RowGroups {
			n += rg.TotalCompressedSize
		}
		if err := src.Close(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// ErrRowsDiffer is returned when a compaction's output does not hold exactly
// its input rows; nothing was committed.
var ErrRowsDiffer = errors.New("compacted files do not hold the same rows as the originals")

// checkOutputs reads the new files back from the store and compares their
// rows (count and digest) with the inputs', and the count with the
// manifest's.
func (o *Options) checkOutputs(ctx context.Context, dt string, inputs, outputs []lake.File, want *ingest.RowDigest) error {
	var manifestRows int64
	for _, f := range inputs {
		manifestRows += f.Rows
	}
	var got ingest.RowDigest
	dir := lake.PartitionDir(o.Table, dt)
	for _, f := range outputs {
		src, err := ingest.OpenDataFile(ctx, o.Store, dir+f.Name)
		if err != nil {
			return fmt.Errorf("compact %s: read back: %w", dt, err)
		}
		before := got.Rows
		err = src.EachRows(ctx, func(rows []parquet.Row) error { got.Add(rows); return nil })
		src.Close()
		if err != nil {
			return fmt.Errorf("compact %s: read back %s: %w", dt, f.Name, err)
		}
		if got.Rows-before != f.Rows {
			return fmt.Errorf("compact %s: %w: %s holds %d rows, expected %d", dt, ErrRowsDiffer, f.Name, got.Rows-before, f.Rows)
		}
	}
	if want.Rows != manifestRows || !got.Equal(want) {
		return fmt.Errorf("compact %s: %w: inputs %s (manifest %d rows), outputs %s; nothing was committed",
			dt, ErrRowsDiffer, want, manifestRows, &got)
	}
	return nil
}

// deleteFiles deletes the files of partition dt, stopping at the first
// failure.
func (o *Options) deleteFiles(ctx context.Context, dt string, files []lake.File) error {
	dir := lake.PartitionDir(o.Table, dt)
	for _, f := range files {
		if err := o.Store.Delete(context.WithoutCancel(ctx), dir+f.Name); err != nil {
			return err
		}
	}
	return nil
}
