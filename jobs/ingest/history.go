package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/cache"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/local"
	"github.com/txlake/txlake/tagging"
)

// History rules (velocity, novelty, outlier) need every new row of the run
// and the lake's committed history at once, which a streaming write cannot
// see. So when a schema has them, the partition writers write the run's
// files into a local spool first, with the condition-rule tags. The history
// phase then
//
//  1. asks DuckDB, once per history rule, which spooled rows the rule tags,
//     reading the spool and the committed files of the partitions in the
//     rules' lookback (less this contribution's own earlier files, which the
//     run replaces);
//  2. copies each spooled file to the lake under the same name, adding the
//     history tags to its tags column.
//
// The files reach the lake before the commit, exactly as without rules, so
// the commit protocol and its crash safety are unchanged.

// spool is the local directory the partition writers use when the schema
// has history rules.
type spool struct {
	dir string
	st  *local.Store
}

func newSpool() (*spool, error) {
	dir, err := os.MkdirTemp("", "txlake-spool-*")
	if err != nil {
		return nil, fmt.Errorf("create the spool for history rules: %w", err)
	}
	st, err := local.New(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create the spool for history rules: %w", err)
	}
	return &spool{dir: dir, st: st}, nil
}

func (s *spool) remove() {
	if s != nil {
		os.RemoveAll(s.dir)
	}
}

// spoolFile is one file the run spooled.
type spoolFile struct {
	ps   *partState
	file lake.File
	path string
	hits []rowHit // history hits, sorted by row once collected
}

type rowHit struct {
	row  int64
	bits uint64
}

// defaultHistoryBatchRows is about how many rows (new and history) one
// history lookup takes at a time; more are split into key buckets.
const defaultHistoryBatchRows = 400_000

// stageMinBuckets is the fewest key buckets for which a history rule's
// rows are staged (tagging.StageSQL) rather than scanned from the run's and
// the history's files once a bucket. Staging costs about as much as 7 such
// scans (measured on 13.9M rows: 3.1 s against 0.42 s a scan).
const stageMinBuckets = 8

// historyGoMemory is Go's soft memory limit during the history phase.
const historyGoMemory = 256 << 20

// historyDBMemory caps DuckDB's memory in the history phase; it spills to
// the spool directory beyond it.
const historyDBMemory = "128MB"

// applyHistoryRules runs the history phase. On return each partition's
// writer lists the files stored in the lake.
func (p *pipeline) applyHistoryRules(ctx context.Context) error {
	var files []*spoolFile
	byPath := map[string]*spoolFile{}
	days := make([]int64, 0, len(p.parts))
	for day, ps := range p.parts {
		if ps.w != nil && len(ps.w.files) > 0 {
			days = append(days, day)
		}
	}
	slices.Sort(days)
	for _, day := range days {
		ps := p.parts[day]
		for _, f := range ps.w.files {
			path := p.spool.st.LocalPath(lake.PartitionDir(p.s.Table, lake.DateString(day)) + f.Name)
			sf := &spoolFile{ps: ps, file: f, path: path}
			files = append(files, sf)
			byPath[filepath.Clean(path)] = sf
		}
	}
	if len(files) == 0 {
		return nil
	}
	// Every row is in, so the partitions' dedup state (a key set of 16
	// bytes or more a key, and update_policy: replace's index) is garbage
	// too: at 14M keys it was a quarter of a GiB still live under the
	// phase's memory limit below.
	for _, ps := range p.parts {
		ps.keys = nil
		if ps.versions != nil {
			ps.versions.refs = nil
		}
	}
	// The pipeline's buffers are garbage now; give their memory back before
	// DuckDB takes its share, so that the two never add up.
	debug.FreeOSMemory()
	// DuckDB's share and Go's together stay within the process's budget:
	// Go's soft limit is lowered for the phase (never raised).
	if cur := debug.SetMemoryLimit(-1); cur > historyGoMemory {
		debug.SetMemoryLimit(historyGoMemory)
		defer debug.SetMemoryLimit(cur)
	}
	if err := p.lookUpHistory(ctx, files, byPath, days[0], days[len(days)-1]); err != nil {
		return err
	}
	return p.writeTagged(ctx, files)
}

// lookUpHistory runs one DuckDB query per history rule and records the hits
// on the spooled files.
func (p *pipeline) lookUpHistory(ctx context.Context, files []*spoolFile, byPath map[string]*spoolFile, firstDay, lastDay int64) error {
	var span time.Duration
	for i := range p.s.Rules {
		span = max(span, p.s.Rules[i].Span())
	}
	from := time.Unix(firstDay*86400, 0).UTC().Add(-span)
	to := time.Unix((lastDay+1)*86400, 0).UTC().Add(-time.Microsecond)

	ms, err := query.Files(ctx, p.o.Store, p.s.Table, from.Format(lake.DateLayout), lake.DateString(lastDay))
	if err != nil {
		return fmt.Errorf("history rules: read the lake's manifests: %w", err)
	}
	var hist []*lake.Manifest
	var histFiles, histRows int64
	for _, m := range ms {
		// The run replaces its contribution's earlier files: they are not
		// history, or a re-run would count its own rows twice.
		c := *m
		c.Files = nil
		for _, f := range m.Files {
			if f.Contribution != p.contrib {
				c.Files = append(c.Files, f)
				histFiles++
				histRows += f.Rows
			}
		}
		if len(c.Files) > 0 {
			hist = append(hist, &c)
		}
	}

	db, err := query.NewDB(ctx)
	if err != nil {
		return fmt.Errorf("history rules: %w", err)
	}
	defer db.Close()
	for _, set := range []string{
		"SET memory_limit = '" + historyDBMemory + "'",
		"SET temp_directory = " + query.Literal(filepath.Join(p.spool.dir, "duckdb.tmp")),
		"SET preserve_insertion_order = false",
	} {
		if _, err := db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("history rules: DuckDB: %w", err)
		}
	}
	// The view lists the files in path order (query.StringList sorts), so
	// DuckDB's file_index, which names a row's file, counts in that order,
	// not in files' ("part-…-10" sorts before "part-…-2").
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	slices.Sort(paths)
	cur := fmt.Sprintf("CREATE VIEW _cur AS SELECT *, file_row_number AS %s, file_index AS %s FROM read_parquet(%s, file_row_number = true)",
		query.Ident(tagging.RowColumn), query.Ident(tagging.FileIndexColumn), query.StringList(paths))
	if _, err := db.ExecContext(ctx, cur); err != nil {
		return fmt.Errorf("history rules: read the run's files: %w", err)
	}
	in := tagging.HistoryInput{Cur: "_cur", EventTime: p.s.EventTime, From: from, To: to}
	if len(hist) > 0 {
		// A compacted file's rows of this contribution are not history either.
		if err := query.CreateFileViewExcluding(ctx, db, p.resolver(), "_hist", hist, p.contrib); err != nil {
			return fmt.Errorf("history rules: read the lake's history: %w", err)
		}
		in.Hist = "_hist"
	}
	// Big runs are looked up in key buckets, so DuckDB's memory stays within
	// its limit however many rows the run and its history hold.
	var newRows int64
	for _, f := range files {
		newRows += f.file.Rows
	}
	batch := p.o.HistoryBatchRows
	if batch <= 0 {
		batch = defaultHistoryBatchRows
	}
	buckets := int(min((newRows+histRows)/batch+1, 1024))
	p.o.Logger.Info("history rules: looking up", "rules", len(p.s.Rules), "history_files", histFiles, "history_rows", histRows,
		"new_rows", newRows, "key_buckets", buckets, "from", from.Format(lake.DateLayout), "to", lake.DateString(lastDay))

	for i := range p.s.Rules {
		r := &p.s.Rules[i]
		if !r.History() {
			continue
		}
		t0 := time.Now()
		in.From = time.Unix(firstDay*86400, 0).UTC().Add(-r.Span()) // this rule's reach
		in.Buckets, in.Staged = buckets, ""
		if buckets >= stageMinBuckets {
			// One pass writes every bucket's rows to the spool, so that
			// the run and its history are read once, not once a bucket.
			dir := filepath.Join(p.spool.dir, fmt.Sprintf("rule-%d", i))
			q, err := r.StageSQL(in, dir)
			if err == nil {
				_, err = db.ExecContext(ctx, q)
			}
			if err != nil {
				return fmt.Errorf("history rule %q: stage its rows: %w", r.Name, err)
			}
			in.Staged = dir
		}
		var n int64
		// Each rule walks one sorted DuckDB scan per key bucket in Go
		// (tagging.ScanHits).
		for b := range buckets {
			in.Bucket = b
			err := r.ScanHits(ctx, db, in, func(file int, row int64) error {
				var sf *spoolFile
				if file >= 0 && file < len(paths) {
					sf = byPath[filepath.Clean(paths[file])]
				}
				if sf == nil || row < 0 || row >= sf.file.Rows {
					return fmt.Errorf("internal error: DuckDB named row %d of file %d of %d", row, file, len(paths))
				}
				sf.hits = append(sf.hits, rowHit{row: row, bits: uint64(1) << i})
				n++
				return nil
			})
			if err != nil {
				return fmt.Errorf("history rule %q: %w", r.Name, err)
			}
		}
		if in.Staged != "" {
			os.RemoveAll(in.Staged)
		}
		p.ruleHits[i] += n
		p.o.Logger.Debug("history rule evaluated", "rule", r.Name, "rows_tagged", n, "ms", time.Since(t0).Milliseconds())
	}
	for _, f := range files {
		sort.Slice(f.hits, func(a, b int) bool { return f.hits[a].row < f.hits[b].row })
	}
	return nil
}

// resolver makes the history's files readable by DuckDB.
func (p *pipeline) resolver() query.Resolver {
	if p.o.Resolver != nil {
		return p.o.Resolver
	}
	return query.ResolverFor(p.o.Store, &cache.Cache{Dir: cache.DefaultDir(), MaxBytes: cache.DefaultMaxBytes}, nil)
}

// writeTagged copies every spooled file to the lake with its history tags.
// Each partition gets a writer of the lake; on error the files it stored
// are removed by the caller's abort.
func (p *pipeline) writeTagged(ctx context.Context, files []*spoolFile) error {
	final := map[*partState]*partWriter{}
	for _, f := range files {
		w := final[f.ps]
		if w == nil {
			sw := f.ps.w
			w = &partWriter{ctx: ctx, st: p.o.Store, s: p.s, pschema: sw.pschema, table: sw.table, dt: sw.dt,
				runID: sw.runID, contrib: sw.contrib, rowGroupRows: sw.rowGroupRows, maxRows: sw.maxRows}
			final[f.ps] = w
		}
		if err := p.copyTagged(w, f); err != nil {
			w.abort(err)
			for ps, fw := range final {
				ps.w = fw // so that abortAll removes what was stored
			}
			return err
		}
	}
	for ps, w := range final {
		ps.w = w
	}
	return nil
}

func (p *pipeline) copyTagged(w *partWriter, f *spoolFile) error {
	in, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("history rules: %w", err)
	}
	defer in.Close()
	pf, err := parquet.OpenFile(in, f.file.Bytes)
	if err != nil {
		return fmt.Errorf("history rules: read spooled file %s: %w", f.file.Name, err)
	}
	w.open()
	if w.name != f.file.Name {
		return fmt.Errorf("internal error: spooled file %s is written as %s", f.file.Name, w.name)
	}
	tagsCol := p.s.TagsColumnIndex()
	buf := make([]parquet.Row, 1024)
	var rowNum int64
	next := 0 // index into f.hits
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			for i := range buf[:n] {
				var bits uint64
				for next < len(f.hits) && f.hits[next].row == rowNum {
					bits |= f.hits[next].bits
					next++
				}
				if bits != 0 {
					buf[i] = p.retag(buf[i], tagsCol, bits)
				}
				rowNum++
			}
			if n > 0 {
				if err := w.w.WriteRows(buf[:n]); err != nil {
					rows.Close()
					return fmt.Errorf("write partition %s: %w", w.dt, err)
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rows.Close()
				return fmt.Errorf("history rules: read spooled file %s: %w", f.file.Name, rerr)
			}
		}
		rows.Close()
		if err := w.w.Flush(); err != nil {
			return fmt.Errorf("write partition %s: %w", w.dt, err)
		}
	}
	if rowNum != f.file.Rows {
		return fmt.Errorf("internal error: spooled file %s has %d rows, %d expected", f.file.Name, rowNum, f.file.Rows)
	}
	return w.closeFile()
}

// retag replaces the tags column of row (its last values) with the tags it
// had plus those of bits.
func (p *pipeline) retag(row parquet.Row, tagsCol int, bits uint64) parquet.Row {
	start := len(row)
	for start > 0 && row[start-1].Column() == tagsCol {
		start--
	}
	for _, v := range row[start:] {
		if v.IsNull() {
			continue
		}
		if i := p.s.RuleIndex(string(v.ByteArray())); i >= 0 {
			bits |= uint64(1) << i
		}
	}
	return p.s.AppendTags(row[:start:start], bits)
}

// ruleHitsResult lists the hits of every rule for the result.
func (p *pipeline) ruleHitsResult() []RuleHit {
	if !p.s.HasRules() {
		return nil
	}
	out := make([]RuleHit, len(p.s.Rules))
	for i := range p.s.Rules {
		r := &p.s.Rules[i]
		out[i] = RuleHit{Rule: r.Name, Kind: string(r.Kind), Rows: p.ruleHits[i], Skipped: p.o.DryRun && r.History()}
	}
	return out
}

// storeOf is the store a partition writer of this run writes to: the spool
// when the schema has history rules, the lake otherwise.
func (p *pipeline) storeOf() storage.Store {
	if p.spool != nil {
		return p.spool.st
	}
	return p.o.Store
}
