package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/txlake/txlake/storage"
)

// ContributionID derives the path-safe id of a contribution from its key.
func ContributionID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// SourcesKey is the contribution key of an ad-hoc ingest: the sorted set of
// its source identities.
func SourcesKey(sources []Source) string {
	ids := make([]string, len(sources))
	for i, s := range sources {
		ids[i] = fmt.Sprintf("%s|%d|%s", s.URL, s.Bytes, s.Checksum)
	}
	sort.Strings(ids)
	return "sources:" + strings.Join(ids, ";")
}

// JobDateKey is the contribution key of a scheduled run of job for date,
// optionally one shard of it.
func JobDateKey(job, date, shard string) string {
	k := "job:" + job + ":" + date
	if shard != "" {
		k += ":shard:" + shard
	}
	return k
}

// contributionIndex records which partitions a contribution touched, so a
// re-ingest of the same unit finds and replaces all of them, including late
// events in earlier dates.
type contributionIndex struct {
	ID    string   `json:"id"`
	Key   string   `json:"key"`
	RunID string   `json:"run_id"`
	Dates []string `json:"dates"`
}

func readIndex(ctx context.Context, st storage.Store, table, id string) (*contributionIndex, error) {
	var ix contributionIndex
	if err := readJSON(ctx, st, ContributionIndexKey(table, id), &ix); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return &contributionIndex{ID: id}, nil
		}
		return nil, err
	}
	for _, d := range ix.Dates {
		if _, err := ParseDate(d); err != nil {
			return nil, fmt.Errorf("%s: %w", st.URL(ContributionIndexKey(table, id)), err)
		}
	}
	return &ix, nil
}

// PartitionWrite is what one contribution wrote into one partition.
type PartitionWrite struct {
	Files         []File
	RowsWritten   int64
	RowsDuplicate int64
	// Rewrites replace files of other contributions by copies without the
	// rows this contribution replaced (update_policy: replace), in the
	// same manifest write.
	Rewrites []Rewrite
}

// Rewrite swaps a listed file for its copy-on-write successor.
type Rewrite struct {
	Old string // name of the file the manifest lists
	// New is the copy without the replaced rows; nil when every row of
	// Old was replaced.
	New *File
}

// Commit publishes one contribution's files into the partitions it touched.
type Commit struct {
	Table             string
	RunID             string
	ContributionKey   string
	Sources           []Source
	SchemaFingerprint string
	// Partitions maps dates to what this run wrote there.
	Partitions map[string]*PartitionWrite
	// SeenGeneration maps a date to the manifest generation the run read
	// when it loaded the partition's existing keys (0: no manifest). Commit
	// fails when a partition changed since, because dedup was computed
	// against a state that is gone.
	SeenGeneration map[string]int64
	Now            time.Time
	// Lock configures the leases Apply holds (zero value: defaults).
	Lock LeaseOptions
	// Run, if set, is the run's liveness marker. Apply checks under the
	// leases that it never lapsed (else a garbage collection may have
	// removed the run's files), and stops it once the manifests list them.
	Run *RunMarker
	// WaitContext, if set, also ends the wait for leases held by other
	// runs (an interrupted run stops waiting, having committed nothing);
	// once the leases are held, only Apply's ctx counts.
	WaitContext context.Context
	// Rebase, if set, is called under the partition's lease when the
	// partition's generation moved since SeenGeneration, with the current
	// manifest. It returns nil when this run's files can be committed on
	// top of the other commits (no key of theirs overlaps a key this run
	// wrote), or an error wrapping ErrConcurrentChange. Without Rebase a
	// moved generation fails with ErrConcurrentChange.
	Rebase func(ctx context.Context, dt string, cur *Manifest) error
	// AfterManifests, if set, runs once every partition manifest is
	// written and before the contribution index is narrowed. Ingest
	// publishes the contribution's quarantine file there, so the quarantine
	// never shows rows of a contribution whose data did not commit.
	AfterManifests func(ctx context.Context) error
	// Rewrite stores a copy of the merged file f (see File.Segments) of
	// partition dt without the rows of contribution drop, under a new name
	// in the same partition, and returns the copy's manifest entry (Rows 0:
	// nothing is left, and nothing need be stored). Apply calls it for each
	// merged file that holds rows of this contribution, so a re-ingest
	// replaces exactly its own rows after a compaction. When it is nil,
	// committing into such a partition fails.
	Rewrite func(ctx context.Context, dt string, f File, drop string) (File, error)
}

// PartitionResult says what the commit did to one partition.
type PartitionResult struct {
	Date          string `json:"dt"`
	Action        string `json:"action"` // created | updated | replaced | removed
	RowsWritten   int64  `json:"rows_written"`
	RowsDuplicate int64  `json:"rows_duplicate"`
	Files         int    `json:"files"`
	Bytes         int64  `json:"bytes"`
	RowsTotal     int64  `json:"rows_total"` // rows in the partition after the commit
	Generation    int64  `json:"generation"`
}

// releaseTimeout bounds the release of a commit's leases.
const releaseTimeout = 20 * time.Second

// ErrConcurrentChange is returned when a partition's manifest changed while
// the run was in progress in a way this run's dedup cannot account for. A
// re-run (which sees the new state) is expected to succeed.
var ErrConcurrentChange = errors.New("partition changed by another run during this run")

// PreviousDates returns the dates an earlier ingest of this contribution
// touched.
func PreviousDates(ctx context.Context, st storage.Store, table, contributionKey string) ([]string, error) {
	ix, err := readIndex(ctx, st, table, ContributionID(contributionKey))
	if err != nil {
		return nil, err
	}
	return ix.Dates, nil
}

// Apply commits c. Data files must already be stored. Apply first takes
// the contribution's lease, then the lease of every partition it touches
// in ascending date order (so concurrent commits cannot deadlock), and
// holds them, renewed, until it returns. The order of writes makes every
// crash point safe:
//  1. the contribution index is widened to old ∪ new dates;
//  2. each partition's manifest is replaced atomically (old contribution
//     files out, new files in);
//  3. the index is narrowed to the new dates;
//  4. files no manifest lists any more are deleted.
//
// A crash between steps leaves each partition in its old or new state, and
// a re-run of the same contribution completes the work. A lease held by
// another run past c.Lock.Timeout fails with a *LeaseHeldError.
func (c *Commit) Apply(ctx context.Context, st storage.Store) (results []PartitionResult, err error) {
	id := ContributionID(c.ContributionKey)
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	if c.WaitContext != nil {
		defer context.AfterFunc(c.WaitContext, stopWait)()
	}
	// c.Lock.Timeout bounds the whole wait, for every lease together.
	waitEnd := time.Now().Add(c.Lock.MaxWait())
	leases, err := AcquireLeases(wctx, st, []string{ContributionLeasePrefix(c.Table, id)}, c.Lock)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Bounded: a lease that cannot be released (storage down) expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := leases.Release(rctx); rerr != nil && err == nil {
			err = rerr
		}
	}()
	ix, err := readIndex(ctx, st, c.Table, id)
	if err != nil {
		return nil, err
	}
	dates := map[string]bool{}
	for _, d := range ix.Dates {
		dates[d] = true
	}
	for d := range c.Partitions {
		dates[d] = true
	}
	all := sortedKeys(dates)
	locks := make([]string, len(all))
	for i, dt := range all {
		locks[i] = PartitionLeasePrefix(c.Table, dt)
	}
	rest := c.Lock
	rest.Timeout = -1
	if left := time.Until(waitEnd); left > 0 {
		rest.Timeout = left
	}
	if err := leases.Add(wctx, st, locks, rest); err != nil {
		return nil, err
	}
	if c.Lock.HoldAfterAcquire > 0 {
		if err := sleepCtx(ctx, c.Lock.HoldAfterAcquire); err != nil {
			return nil, err
		}
	}
	if c.Run != nil && !c.Run.Valid() {
		return nil, fmt.Errorf("commit: this run's liveness marker was not renewed in time, so its files may have been collected as garbage: %w; re-run", ErrLeaseLost)
	}
	ix.ID, ix.Key, ix.RunID, ix.Dates = id, c.ContributionKey, c.RunID, all
	if len(all) > 0 {
		if err := leases.Check(); err != nil {
			return nil, err
		}
		if err := writeJSON(ctx, st, ContributionIndexKey(c.Table, id), ix); err != nil {
			return nil, err
		}
	}

	var committed []*Manifest
	for _, dt := range all {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		cur, err := ReadManifest(ctx, st, c.Table, dt)
		if err != nil {
			return results, err
		}
		var gen int64
		if cur != nil {
			gen = cur.Generation
		}
		if seen, ok := c.SeenGeneration[dt]; ok && seen != gen {
			if c.Rebase == nil {
				return results, fmt.Errorf("commit %s: %w (generation %d, expected %d); re-run to include its changes",
					st.URL(PartitionDir(c.Table, dt)), ErrConcurrentChange, gen, seen)
			}
			if err := c.Rebase(ctx, dt, cur); err != nil {
				return results, fmt.Errorf("commit %s: %w", st.URL(PartitionDir(c.Table, dt)), err)
			}
		}
		pw := c.Partitions[dt]
		next := &Manifest{Table: c.Table, Date: dt, Generation: gen + 1, RunID: c.RunID, Committed: c.Now, SchemaFingerprint: c.SchemaFingerprint}
		action := "created"
		if cur != nil {
			action = "updated"
			rewrites, removed, err := rewriteMap(cur, pw)
			if err != nil {
				return results, fmt.Errorf("commit %s: %w", st.URL(PartitionDir(c.Table, dt)), err)
			}
			for _, f := range cur.Files {
				// A file this run rewrote (update_policy: replace) is
				// judged by its copy: a copy of a merged file may still
				// hold rows of this contribution.
				if nf, ok := rewrites[f.Name]; ok {
					if nf == nil {
						continue
					}
					f = *nf
				}
				switch {
				case len(f.Segments) > 0 && f.Holds(id):
					if c.Rewrite == nil {
						return results, fmt.Errorf("commit partition %s: compacted file %s holds rows of this contribution and no rewrite is configured", dt, f.Name)
					}
					nf, err := c.Rewrite(ctx, dt, f, id)
					if err != nil {
						return results, fmt.Errorf("commit partition %s: %w", dt, err)
					}
					if nf.Rows > 0 {
						next.Files = append(next.Files, nf)
					}
					continue
				case f.Contribution == id && len(f.Segments) == 0:
					continue
				}
				next.Files = append(next.Files, f)
			}
			for _, k := range cur.Contributions {
				k.RowsWritten -= removed[k.ID]
				if k.ID != id {
					next.Contributions = append(next.Contributions, k)
				} else {
					action = "replaced"
				}
			}
		}
		res := PartitionResult{Date: dt}
		if pw != nil && (len(pw.Files) > 0 || pw.RowsDuplicate > 0) {
			next.Files = append(next.Files, pw.Files...)
			next.Contributions = append(next.Contributions, Contribution{
				ID: id, Key: c.ContributionKey, RunID: c.RunID, Committed: c.Now, Sources: c.Sources,
				RowsWritten: pw.RowsWritten, RowsDuplicate: pw.RowsDuplicate,
			})
			res.RowsWritten, res.RowsDuplicate, res.Files = pw.RowsWritten, pw.RowsDuplicate, len(pw.Files)
			for _, f := range pw.Files {
				res.Bytes += f.Bytes
			}
		} else if cur == nil {
			continue // nothing there before, nothing now
		} else if action != "replaced" {
			continue // untouched by this contribution after all
		} else {
			action = "removed"
		}
		if err := leases.Check(); err != nil {
			return results, err
		}
		if err := WriteManifest(ctx, st, next); err != nil {
			return results, fmt.Errorf("commit partition %s: %w", dt, err)
		}
		res.Action, res.RowsTotal, res.Generation = action, next.Rows, next.Generation
		results = append(results, res)
		committed = append(committed, next)
	}

	if c.AfterManifests != nil {
		if err := c.AfterManifests(ctx); err != nil {
			return results, err
		}
	}
	var newDates []string
	for d, pw := range c.Partitions {
		if pw != nil && (len(pw.Files) > 0 || pw.RowsDuplicate > 0) {
			newDates = append(newDates, d)
		}
	}
	sort.Strings(newDates)
	ix.Dates = newDates
	if err := leases.Check(); err != nil {
		return results, err
	}
	if len(newDates) > 0 {
		if err := writeJSON(ctx, st, ContributionIndexKey(c.Table, id), ix); err != nil {
			return results, err
		}
	} else if err := st.Delete(ctx, ContributionIndexKey(c.Table, id)); err != nil {
		return results, fmt.Errorf("delete contribution index: %w", err)
	}
	// The manifests list this run's files now: it no longer needs its
	// marker to protect them.
	if c.Run != nil {
		if err := c.Run.Stop(ctx); err != nil {
			return results, err
		}
	}
	for _, m := range committed {
		if err := leases.Check(); err != nil {
			return results, err
		}
		if _, err := CollectGarbageWith(ctx, st, m, "", c.Lock); err != nil {
			return results, err
		}
	}
	return results, nil
}

// rewriteMap checks pw's rewrites against the current manifest and returns
// them by old name, with the rows each contribution loses.
func rewriteMap(cur *Manifest, pw *PartitionWrite) (map[string]*File, map[string]int64, error) {
	if pw == nil || len(pw.Rewrites) == 0 {
		return nil, nil, nil
	}
	listed := make(map[string]File, len(cur.Files))
	for _, f := range cur.Files {
		listed[f.Name] = f
	}
	out := make(map[string]*File, len(pw.Rewrites))
	removed := map[string]int64{}
	for _, rw := range pw.Rewrites {
		old, ok := listed[rw.Old]
		if !ok {
			return nil, nil, fmt.Errorf("%w: file %s to rewrite is no longer listed", ErrConcurrentChange, rw.Old)
		}
		out[rw.Old] = rw.New
		for c, n := range old.RowsByContribution() {
			removed[c] += n
		}
		if rw.New != nil {
			for c, n := range rw.New.RowsByContribution() {
				removed[c] -= n
			}
		}
	}
	return out, removed, nil
}

// CollectGarbage is CollectGarbageWith with the default lease options.
func CollectGarbage(ctx context.Context, st storage.Store, m *Manifest, keepRun string) ([]string, error) {
	return CollectGarbageWith(ctx, st, m, keepRun, LeaseOptions{})
}

// CollectGarbageWith deletes the files in m's partition directory that m
// does not list (except the manifest and names starting with "_" or "."),
// and returns the deleted keys. m must be the partition's current manifest
// and the caller must hold the partition's lease, so no commit changes the
// listing meanwhile. It keeps the unlisted files that may still be
// published by a run in progress:
//   - files whose name contains keepRun ("" keeps none), the caller's run;
//   - files whose name contains the id of a run with a live run marker
//     (see RunMarker), another run still writing.
//
// Expired run markers (of runs that died) are removed.
func CollectGarbageWith(ctx context.Context, st storage.Store, m *Manifest, keepRun string, o LeaseOptions) ([]string, error) {
	o = o.withDefaults()
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		listed[f.Name] = true
	}
	dir := PartitionDir(m.Table, m.Date)
	var candidates []storage.ObjectInfo
	err := st.List(ctx, dir, func(o storage.ObjectInfo) error {
		name := strings.TrimPrefix(o.Key, dir)
		if strings.Contains(name, "/") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") || listed[name] {
			return nil
		}
		if keepRun != "" && strings.Contains(name, keepRun) {
			return nil
		}
		candidates = append(candidates, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", st.URL(dir), err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// The markers are listed after the files: a run writes its marker
	// before its first file, so a file seen above whose run is alive has
	// its marker seen here.
	live, expired, err := LiveRuns(ctx, st, m.Table, o)
	if err != nil {
		return nil, err
	}
	var garbage []string
	for _, c := range candidates {
		if nameHasRun(strings.TrimPrefix(c.Key, dir), live) {
			continue
		}
		garbage = append(garbage, c.Key)
	}
	for _, k := range garbage {
		if err := st.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("delete garbage: %w", err)
		}
	}
	for _, k := range expired {
		_ = st.Delete(ctx, k) // best effort: a dead run's marker
	}
	return garbage, nil
}

func nameHasRun(name string, runs map[string]bool) bool {
	for r := range runs {
		if strings.Contains(name, r) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
