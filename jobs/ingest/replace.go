package ingest

// update_policy: replace. A row whose key is already stored in its
// partition replaces the stored row when its version field is greater.
// Data files are immutable, so the stored row goes by copy-on-write: every
// file that holds a replaced row is copied without those rows into a new
// file of the same contribution, and the partition's manifest swaps the old
// file for the copy in the same atomic write that adds this run's files
// (lake.PartitionWrite.Rewrites). A crash before that write leaves the copy
// unlisted (garbage); after it, the old file is garbage.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"sort"

	"github.com/parquet-go/parquet-go"
	"github.com/zeebo/xxh3"

	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// rowRef locates the stored version of a key.
type rowRef struct {
	file    int32 // index in versionIndex.files; -1: replaced by this run
	row     int32
	version int64
}

// versionIndex holds, for one partition, where each stored key is and its
// version, and the rows this run replaces.
type versionIndex struct {
	files   []lake.File
	refs    map[xxh3.Uint128]rowRef
	removed map[int32][]int32 // file → rows to drop
}

// loadVersions indexes the keys and versions of the partition's files of
// other contributions. Files written under another schema fingerprint are
// not indexed: their keys stay duplicates, never replaced.
func loadVersions(ctx context.Context, st storage.Store, s *schemas.Schema, m *lake.Manifest, exclude string) (*versionIndex, error) {
	vi := &versionIndex{refs: map[xxh3.Uint128]rowRef{}, removed: map[int32][]int32{}}
	if m == nil {
		return vi, nil
	}
	for _, f := range m.Files {
		if f.Contribution == exclude || f.SchemaFingerprint != s.Fingerprint {
			continue
		}
		if f.Rows > math.MaxInt32 {
			return nil, fmt.Errorf("update_policy replace: file %s has more than 2^31 rows", m.Key(f))
		}
		fi := int32(len(vi.files))
		vi.files = append(vi.files, f)
		err := scanFileKeys(ctx, st, s, m.Key(f), s.VersionIndex, func(row int, k xxh3.Uint128, v schemas.Value) {
			vi.refs[k] = rowRef{file: fi, row: int32(row), version: versionOf(v)}
		})
		if err != nil {
			return nil, err
		}
	}
	return vi, nil
}

func versionOf(v schemas.Value) int64 {
	if v.Null {
		return math.MinInt64
	}
	return v.I // int64, decimal (scaled), timestamp (µs), date (days)
}

// replaces reports whether row r of b, whose key k is already in the
// partition, replaces the stored row; if so it marks that row for removal.
// A key replaced once in a run is a duplicate for the rest of it.
func (ps *partState) replaces(b *batch, r int, k xxh3.Uint128, versionIndex int) bool {
	vi := ps.versions
	if vi == nil {
		return false
	}
	ref, ok := vi.refs[k]
	if !ok || ref.file < 0 || versionOf(b.vals[r*b.nf+versionIndex]) <= ref.version {
		return false
	}
	vi.removed[ref.file] = append(vi.removed[ref.file], ref.row)
	vi.refs[k] = rowRef{file: -1}
	ps.replaced++
	return true
}

// rewriteReplaced writes the copy-on-write successors of the files that
// hold replaced rows, for the commit.
func (p *pipeline) rewriteReplaced(ctx context.Context) error {
	if p.o.DryRun {
		return nil
	}
	for _, ps := range p.parts {
		vi := ps.versions
		if vi == nil || len(vi.removed) == 0 {
			continue
		}
		dt := lake.DateString(ps.day)
		idx := make([]int32, 0, len(vi.removed))
		for fi := range vi.removed {
			idx = append(idx, fi)
		}
		sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
		for n, fi := range idx {
			name := fmt.Sprintf("part-%s-rw%d.parquet", p.res.RunID, n)
			nf, err := rewriteFile(ctx, p.o.Store, p.s, dt, vi.files[fi], vi.removed[fi], name, FileWriterOptions(p.s.KeyValueMetadata(), p.o.RowGroupRows))
			if err != nil {
				return err
			}
			ps.rewrites = append(ps.rewrites, lake.Rewrite{Old: vi.files[fi].Name, New: nf})
		}
	}
	return nil
}

// rewriteFile copies a committed file without the given rows to name in the
// same partition. It returns nil when no row is left (and stores nothing).
func rewriteFile(ctx context.Context, st storage.Store, s *schemas.Schema, dt string, old lake.File, drop []int32, name string, opts []parquet.WriterOption) (*lake.File, error) {
	dir := lake.PartitionDir(s.Table, dt)
	obj, err := st.Open(ctx, dir+old.Name)
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", st.URL(dir+old.Name), err)
	}
	defer obj.Close()
	pf, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", st.URL(dir+old.Name), err)
	}
	dropped := make(map[int32]bool, len(drop))
	for _, r := range drop {
		dropped[r] = true
	}
	tmp, err := os.CreateTemp("", "txlake-rewrite-*.parquet")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hw := &hashWriter{w: tmp, h: sha256.New()}
	w := parquet.NewWriter(hw, append([]parquet.WriterOption{s.ParquetSchema()}, opts...)...)
	var kept int64
	var row int32
	buf := make([]parquet.Row, 1024)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			keep := buf[:0:0]
			for _, r := range buf[:n] {
				if !dropped[row] {
					keep = append(keep, r)
				}
				row++
			}
			if len(keep) > 0 {
				if _, err := w.WriteRows(keep); err != nil {
					rows.Close()
					return nil, fmt.Errorf("rewrite %s: %w", st.URL(dir+old.Name), err)
				}
				kept += int64(len(keep))
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rows.Close()
				return nil, fmt.Errorf("rewrite %s: %w", st.URL(dir+old.Name), rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", st.URL(dir+old.Name), err)
	}
	if kept == 0 {
		return nil, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := st.Put(ctx, dir+name, tmp, hw.n); err != nil {
		return nil, fmt.Errorf("store %s: %w", st.URL(dir+name), err)
	}
	return &lake.File{Name: name, Bytes: hw.n, Rows: kept, SHA256: hex.EncodeToString(hw.h.Sum(nil)),
		Contribution: old.Contribution, SchemaFingerprint: old.SchemaFingerprint}, nil
}

// hashWriter passes writes to w, hashing and counting the bytes written
// (data files record their size and SHA-256).
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(b []byte) (int, error) {
	n, err := hw.w.Write(b)
	hw.h.Write(b[:n])
	hw.n += int64(n)
	return n, err
}

// removeRewrites deletes the copies of a run that did not commit.
func (ps *partState) removeRewrites(ctx context.Context, st storage.Store, table string) []error {
	var errs []error
	for _, rw := range ps.rewrites {
		if rw.New != nil {
			if err := st.Delete(ctx, lake.PartitionDir(table, lake.DateString(ps.day))+rw.New.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
