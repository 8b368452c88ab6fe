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
	"fmt"
	"math"
	"sort"

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
		if f.Contribution == exclude && len(f.Segments) == 0 || f.SchemaFingerprint != s.Fingerprint {
			continue
		}
		// A merged file's rows of exclude are skipped: the commit drops
		// them (lake.Commit.Rewrite).
		skipFrom, skipTo, _ := f.RowRange(exclude)
		if f.Rows > math.MaxInt32 {
			return nil, fmt.Errorf("update_policy replace: file %s has more than 2^31 rows", m.Key(f))
		}
		fi := int32(len(vi.files))
		vi.files = append(vi.files, f)
		err := scanFileKeys(ctx, st, s, m.Key(f), s.VersionIndex, func(row int, k xxh3.Uint128, v schemas.Value) {
			if r := int64(row); r < skipFrom || r >= skipTo {
				vi.refs[k] = rowRef{file: fi, row: int32(row), version: versionOf(v)}
			}
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
			dropped := make(map[int64]bool, len(vi.removed[fi]))
			for _, r := range vi.removed[fi] {
				dropped[int64(r)] = true
			}
			nf, err := rewriteDataFile(ctx, p.o.Store, p.s.Table, dt, vi.files[fi], name, p.o.RowGroupRows, int64(len(dropped)),
				func(i int64) bool { return dropped[i] })
			if err != nil {
				return err
			}
			rw := lake.Rewrite{Old: vi.files[fi].Name}
			if nf.Rows > 0 {
				rw.New = &nf
			}
			ps.rewrites = append(ps.rewrites, rw)
		}
	}
	return nil
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
