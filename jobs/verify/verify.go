// Package verify checks a lake's committed partitions against the objects
// that back them: every file a manifest lists must exist with the recorded
// size, SHA-256 and Parquet row count, and every file in a partition
// directory must be listed by its manifest.
//
// Files that no manifest lists are orphans. A run that is still writing
// (ingest, archive --compact) has such files until it commits, so an
// unlisted file younger than Options.OrphanGrace is reported as pending,
// not as a problem, and --repair never deletes it.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/prefix"
)

// ResultVersion is the version of the JSON result.
const ResultVersion = 1

// DefaultOrphanGrace is how old an unlisted file must be before it counts as
// an orphan. An ingest or a compaction writes its data files before it
// commits the manifest that lists them; a run longer than this would see its
// files reported (and, with --repair, deleted) while it still runs.
const DefaultOrphanGrace = 6 * time.Hour

// Problem kinds.
const (
	KindMissing     = "missing"      // a listed file does not exist
	KindSize        = "size"         // stored size differs from the manifest
	KindSHA256      = "sha256"       // content hash differs from the manifest
	KindRows        = "rows"         // Parquet footer row count differs
	KindUnreadable  = "unreadable"   // the file is not a readable Parquet file
	KindOrphan      = "orphan"       // a file no manifest lists, older than the grace period
	KindNoManifest  = "no_manifest"  // a partition directory without a manifest
	KindBadManifest = "bad_manifest" // the manifest cannot be read or is invalid
	KindTotals      = "totals"       // the manifest's totals disagree with its files
	// KindUnrecordedClass: the object cannot be read because it is in an
	// archive class (GLACIER, DEEP_ARCHIVE) its manifest does not record.
	KindUnrecordedClass = "unrecorded_class"
)

// Options configure one verification.
type Options struct {
	Store storage.Store
	// LakeURL is the lake's URL for the result.
	LakeURL string
	// Table limits the check to one table ("" checks every table).
	Table string
	// From and To optionally bound the partition dates (inclusive).
	From, To string
	// Repair deletes orphan files (never a file a manifest lists).
	Repair bool
	// OrphanGrace: unlisted files younger than this are pending, not
	// orphans. Zero means DefaultOrphanGrace; negative means no grace.
	OrphanGrace time.Duration
	// Workers is the number of files checked at once (default 4).
	Workers int
	Now     func() time.Time
	Logger  *slog.Logger
}

// Result is the report of one verification. Its JSON form is a documented
// contract (docs/json-contracts.md).
type Result struct {
	Version    int          `json:"version"`
	Lake       string       `json:"lake"`
	OK         bool         `json:"ok"`
	Problems   int          `json:"problems"`
	Files      int64        `json:"files_checked"`
	Bytes      int64        `json:"bytes_checked"`
	Partitions []*Partition `json:"partitions"`
	// Repaired lists the keys --repair deleted.
	Repaired []string `json:"repaired"`
}

// Partition is the report of one partition directory.
type Partition struct {
	Table string `json:"table"`
	Date  string `json:"dt"`
	// Location is set for a partition moved under the archive root: its
	// URL there.
	Location   string `json:"location,omitempty"`
	Generation int64  `json:"generation"`
	Files      int    `json:"files"`
	Rows       int64  `json:"rows"`
	Bytes      int64  `json:"bytes"`
	// Archived counts listed files in a class that needs a restore before
	// a read (GLACIER, DEEP_ARCHIVE): their existence and size are
	// checked, their content is not.
	Archived int       `json:"archived_files"`
	Status   string    `json:"status"` // ok | problem
	Problems []Problem `json:"problems"`
	// Pending lists unlisted files younger than the grace period: most
	// likely a run in flight.
	Pending []string `json:"pending"`
}

// Problem is one finding.
type Problem struct {
	Kind   string `json:"kind"`
	File   string `json:"file,omitempty"` // name inside the partition directory
	Detail string `json:"detail"`
}

// Run verifies the lake. It returns an error only when the check itself
// could not be done (for example, the store was unreachable); problems found
// in the lake are in the result, with OK false.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.OrphanGrace == 0 {
		o.OrphanGrace = DefaultOrphanGrace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkRange(o.From, o.To); err != nil {
		return nil, err
	}
	tables := []string{o.Table}
	if o.Table == "" {
		var err error
		if tables, err = lake.ListTables(ctx, o.Store); err != nil {
			return nil, err
		}
	} else if err := lake.ValidateTable(o.Table); err != nil {
		return nil, &RangeError{Msg: err.Error()}
	} else if err := lake.RequireTable(ctx, o.Store, o.Table); err != nil {
		if errors.Is(err, lake.ErrNoTable) {
			return nil, &RangeError{Msg: err.Error()}
		}
		return nil, err
	}
	res := &Result{Version: ResultVersion, Lake: o.LakeURL, Partitions: []*Partition{}, Repaired: []string{}}
	// Partitions moved under the archive root (HDFS) keep their layout
	// there and are checked the same way.
	archived := prefix.New(o.Store, lake.ArchiveRoot)
	for _, t := range tables {
		for _, st := range []storage.Store{o.Store, archived} {
			dirs, err := listPartitionDirs(ctx, st, t, o.From, o.To)
			if err != nil {
				return nil, err
			}
			for _, d := range dirs {
				p, err := o.checkPartition(ctx, st, t, d, res)
				if err != nil {
					return nil, err
				}
				if st == archived {
					p.Location = st.URL(lake.PartitionDir(t, d.date))
				}
				res.Partitions = append(res.Partitions, p)
			}
		}
	}
	for _, p := range res.Partitions {
		res.Problems += len(p.Problems)
	}
	res.OK = res.Problems == 0
	return res, nil
}

func checkRange(from, to string) error {
	for _, d := range []string{from, to} {
		if d != "" {
			if _, err := lake.ParseDate(d); err != nil {
				return &RangeError{Msg: err.Error()}
			}
		}
	}
	if from != "" && to != "" && from > to {
		return &RangeError{Msg: fmt.Sprintf("--from %s is after --to %s", from, to)}
	}
	return nil
}

// RangeError is a bad date range or table: a usage error (exit 2).
type RangeError struct{ Msg string }

func (e *RangeError) Error() string     { return e.Msg }
func (e *RangeError) ConfigError() bool { return true }

// partitionDir is one dt=... directory and the objects directly in it.
type partitionDir struct {
	date    string
	objects map[string]storage.ObjectInfo // by name inside the directory
}

// listPartitionDirs lists every dt=YYYY-MM-DD directory of table within
// [from, to] with one listing of the table's prefix.
func listPartitionDirs(ctx context.Context, st storage.Store, table, from, to string) ([]*partitionDir, error) {
	prefix := table + "/dt="
	byDate := map[string]*partitionDir{}
	err := st.List(ctx, prefix, func(o storage.ObjectInfo) error {
		dt, name, ok := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		if !ok || strings.Contains(name, "/") {
			return nil
		}
		if _, err := lake.ParseDate(dt); err != nil {
			return nil
		}
		if (from != "" && dt < from) || (to != "" && dt > to) {
			return nil
		}
		d := byDate[dt]
		if d == nil {
			d = &partitionDir{date: dt, objects: map[string]storage.ObjectInfo{}}
			byDate[dt] = d
		}
		d.objects[name] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", st.URL(table), err)
	}
	out := make([]*partitionDir, 0, len(byDate))
	for _, d := range byDate {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].date < out[j].date })
	return out, nil
}

func (o *Options) checkPartition(ctx context.Context, st storage.Store, table string, d *partitionDir, res *Result) (*Partition, error) {
	p := &Partition{Table: table, Date: d.date, Problems: []Problem{}, Pending: []string{}}
	listed := map[string]bool{}
	_, hasManifest := d.objects[lake.ManifestName]
	if hasManifest {
		m, err := lake.ReadManifest(ctx, st, table, d.date)
		switch {
		case err != nil && (errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil):
			return nil, err
		case err != nil:
			// Without a trusted manifest no file can be called an orphan.
			p.Problems = append(p.Problems, Problem{Kind: KindBadManifest, File: lake.ManifestName, Detail: err.Error()})
			p.Status = "problem"
			return p, nil
		case m == nil: // removed since the listing
			hasManifest = false
		default:
			if err := o.checkFiles(ctx, st, m, d, p, res); err != nil {
				return nil, err
			}
			for _, f := range m.Files {
				listed[f.Name] = true
			}
		}
	}
	var orphans []string
	for name, obj := range d.objects {
		if !isDataName(name) || listed[name] {
			continue
		}
		if !o.pastGrace(obj) {
			p.Pending = append(p.Pending, name)
			continue
		}
		orphans = append(orphans, name)
	}
	sort.Strings(orphans)
	sort.Strings(p.Pending)
	dir := lake.PartitionDir(table, d.date)
	if o.Repair {
		for _, name := range orphans {
			if err := st.Delete(ctx, dir+name); err != nil {
				return nil, fmt.Errorf("repair: delete orphan: %w", err)
			}
			res.Repaired = append(res.Repaired, dir+name)
			o.Logger.Info("deleted orphan", "file", st.URL(dir+name))
		}
		orphans = nil
	}
	if !hasManifest && len(orphans) > 0 {
		p.Problems = append(p.Problems, Problem{Kind: KindNoManifest,
			Detail: fmt.Sprintf("partition directory holds %d file(s) older than the grace period and no %s", len(orphans), lake.ManifestName)})
	}
	for _, name := range orphans {
		p.Problems = append(p.Problems, Problem{Kind: KindOrphan, File: name,
			Detail: fmt.Sprintf("%d bytes, modified %s, listed by no manifest", d.objects[name].Size, d.objects[name].ModTime.UTC().Format(time.RFC3339))})
	}
	sortProblems(p.Problems)
	p.Status = "ok"
	if len(p.Problems) > 0 {
		p.Status = "problem"
	}
	return p, nil
}

func (o *Options) pastGrace(obj storage.ObjectInfo) bool {
	if o.OrphanGrace < 0 {
		return true
	}
	return o.Now().Sub(obj.ModTime) >= o.OrphanGrace
}

// isDataName reports whether a name in a partition directory is data (not
// the manifest, a lease or another "_" or "." control file). It is the rule
// lake.CollectGarbage applies.
func isDataName(name string) bool {
	return !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".")
}

// checkFiles checks every file m lists, Workers at a time.
func (o *Options) checkFiles(ctx context.Context, st storage.Store, m *lake.Manifest, d *partitionDir, p *Partition, res *Result) error {
	p.Generation, p.Files, p.Rows, p.Bytes = m.Generation, len(m.Files), m.Rows, m.Bytes
	var rows, bytes int64
	for _, f := range m.Files {
		rows += f.Rows
		bytes += f.Bytes
	}
	if rows != m.Rows || bytes != m.Bytes {
		p.Problems = append(p.Problems, Problem{Kind: KindTotals,
			Detail: fmt.Sprintf("manifest totals %d rows %d bytes, its files add up to %d rows %d bytes", m.Rows, m.Bytes, rows, bytes)})
	}
	var mu sync.Mutex
	add := func(pr Problem) {
		mu.Lock()
		p.Problems = append(p.Problems, pr)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Workers)
	for _, f := range m.Files {
		obj, ok := d.objects[f.Name]
		if !ok {
			add(Problem{Kind: KindMissing, File: f.Name, Detail: "listed by the manifest, not in storage"})
			continue
		}
		if obj.Size != f.Bytes {
			add(Problem{Kind: KindSize, File: f.Name, Detail: fmt.Sprintf("stored size %d bytes, manifest says %d", obj.Size, f.Bytes)})
			continue
		}
		if storage.ClassNeedsRestore(f.StorageClass) {
			p.Archived++
			continue
		}
		g.Go(func() error {
			prs, n, err := checkFile(gctx, st, m.Key(f), f)
			if err != nil {
				return err
			}
			mu.Lock()
			p.Problems = append(p.Problems, prs...)
			res.Files++
			res.Bytes += n
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// checkFile streams the file through SHA-256 (bounded memory) and reads its
// Parquet footer. Problems with the file are returned as findings; only a
// failure of the store itself (unreachable, cancelled) is an error.
func checkFile(ctx context.Context, st storage.Store, key string, f lake.File) ([]Problem, int64, error) {
	obj, err := st.Open(ctx, key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return []Problem{{Kind: KindMissing, File: f.Name, Detail: "listed by the manifest, not in storage"}}, 0, nil
		}
		if errors.Is(err, storage.ErrArchived) {
			return []Problem{{Kind: KindUnrecordedClass, File: f.Name, Detail: unrecordedDetail}}, 0, nil
		}
		return nil, 0, err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, readerCtx{ctx, obj})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, storage.ErrUnavailable) {
			return nil, n, fmt.Errorf("read %s: %w", st.URL(key), err)
		}
		if errors.Is(err, storage.ErrArchived) {
			return []Problem{{Kind: KindUnrecordedClass, File: f.Name, Detail: unrecordedDetail}}, n, nil
		}
		return []Problem{{Kind: KindUnreadable, File: f.Name, Detail: err.Error()}}, n, nil
	}
	var out []Problem
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		out = append(out, Problem{Kind: KindSHA256, File: f.Name, Detail: fmt.Sprintf("content SHA-256 %s, manifest says %s", sum, f.SHA256)})
	}
	pf, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, storage.ErrUnavailable) {
			return nil, n, fmt.Errorf("read %s: %w", st.URL(key), err)
		}
		return append(out, Problem{Kind: KindUnreadable, File: f.Name, Detail: "parquet footer: " + err.Error()}), n, nil
	}
	var rgRows int64
	for _, rg := range pf.RowGroups() {
		rgRows += rg.NumRows()
	}
	if pf.NumRows() != f.Rows || rgRows != f.Rows {
		out = append(out, Problem{Kind: KindRows, File: f.Name,
			Detail: fmt.Sprintf("parquet footer holds %d rows (row groups %d), manifest says %d", pf.NumRows(), rgRows, f.Rows)})
	}
	return out, n, nil
}

const unrecordedDetail = "the object is in an archive storage class its manifest does not record; run txlake archive --storage-class again to record it"

// readerCtx stops a long read when ctx is cancelled.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Kind < ps[j].Kind
	})
}
