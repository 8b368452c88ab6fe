// Package archive ages a table's old partitions: it compacts their small
// files, moves their objects to a cheaper storage class, deletes partitions
// past their retention, and restores archived partitions.
//
// Every change to a partition's manifest goes through Options.Lock, so a
// partition lease (one holder per table and date) wraps each swap in one
// place. Without a lease, a swap is still guarded by the manifest
// generation: it fails with lake.ErrConcurrentChange when the partition
// changed since it was read.
package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/prefix"
)

// ResultVersion is the version of the JSON result.
const ResultVersion = 1

// DefaultTargetFileSize is the size compaction aims for.
const DefaultTargetFileSize = 128 << 20

// PartitionLock runs fn while holding the partition (table, dt) for
// exclusive commits, and releases it afterwards. fn's context is the one to
// use for the manifest swap.
type PartitionLock func(ctx context.Context, table, dt string, fn func(ctx context.Context) error) error

// ColdClass is the --storage-class that moves partitions under lake.ArchiveRoot
// on such stores. It names the HDFS storage policy an operator sets on the
// archive root (hdfs storagepolicies -setStoragePolicy -path <lake>/_archive
// -policy COLD), which HDFS applies to everything moved under it.
const ColdClass = "COLD"

// NoLock runs fn without a lease.
func NoLock(ctx context.Context, _, _ string, fn func(ctx context.Context) error) error {
	return fn(ctx)
}

// Options configure one archive run.
type Options struct {
	Store   storage.Store
	LakeURL string
	Table   string
	// OlderThan selects the partitions to compact and re-class: those
	// whose date is before Cutoff(Now, OlderThan).
	OlderThan time.Duration
	// Compact rewrites the small files of each selected partition into
	// files of about TargetFileSize bytes.
	Compact        bool
	TargetFileSize int64
	// StorageClass, if set, moves the selected partitions' files to this
	// class (stores with storage.StorageClassSetter only).
	StorageClass string
	// DeleteAfter, if positive, deletes the partitions whose date is before
	// Cutoff(Now, DeleteAfter); only when Yes is set, else they are listed.
	DeleteAfter time.Duration
	Yes         bool
	// DryRun reports what would be done and changes nothing.
	DryRun bool
	// Lock wraps every manifest swap; nil means NoLock.
	Lock   PartitionLock
	Now    func() time.Time
	Logger *slog.Logger
	// AfterCompactWrite, if set, runs after a compaction stored its new
	// files and before it commits (tests use it to crash there).
	AfterCompactWrite func(dt string)
}

// Result is the report of one archive run; its JSON form is a documented
// contract (docs/json-contracts.md).
type Result struct {
	Version      int    `json:"version"`
	Lake         string `json:"lake"`
	Table        string `json:"table"`
	RunID        string `json:"run_id"`
	DryRun       bool   `json:"dry_run"`
	Cutoff       string `json:"older_than_cutoff"`          // partitions before this date were archived
	DeleteCutoff string `json:"delete_cutoff,omitempty"`    // partitions before this date are past retention
	StorageClass string `json:"storage_class,omitempty"`    // the requested class
	TargetSize   int64  `json:"target_file_size,omitempty"` // with --compact
	// Partitions lists every partition the run looked at, ascending.
	Partitions []*PartitionResult `json:"partitions"`
	// Totals.
	Compacted      int `json:"partitions_compacted"`
	Reclassed      int `json:"partitions_reclassed"`
	Deleted        int `json:"partitions_deleted"`
	PendingDeletes int `json:"partitions_pending_delete"` // listed, not deleted (no --yes)
}

// PartitionResult says what the run did to one partition.
type PartitionResult struct {
	Date string `json:"dt"`
	// Generation is the manifest generation after the run (0 if deleted).
	Generation int64            `json:"generation"`
	Compaction *CompactionStats `json:"compaction,omitempty"`
	// ClassFiles counts the files moved to StorageClass.
	ClassFiles int `json:"class_files,omitempty"`
	// Retention is "deleted", or "would_delete" without --yes (or in a
	// dry run).
	Retention string `json:"retention,omitempty"`
	// Note explains a skipped step.
	Note string `json:"note,omitempty"`
}

// CompactionStats describes one partition's compaction.
type CompactionStats struct {
	FilesBefore int    `json:"files_before"`
	FilesAfter  int    `json:"files_after"`
	BytesBefore int64  `json:"bytes_before"`
	BytesAfter  int64  `json:"bytes_after"`
	Rows        int64  `json:"rows"`
	RowDigest   string `json:"row_digest"` // order-independent; equal before and after
	Merged      int    `json:"merged_files"`
}

// Run archives the table's old partitions. It returns the result so far
// with an error when a step fails; each partition is left in its old or its
// new state.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	now := o.Now()
	res := &Result{Version: ResultVersion, Lake: o.LakeURL, Table: o.Table, DryRun: o.DryRun,
		RunID: lake.NewRunID(now, randomHex(3)), Cutoff: Cutoff(now, o.OlderThan), StorageClass: o.StorageClass,
		Partitions: []*PartitionResult{}}
	if o.Compact {
		res.TargetSize = o.TargetFileSize
	}
	if o.DeleteAfter > 0 {
		res.DeleteCutoff = Cutoff(now, o.DeleteAfter)
	}
	if err := lake.RequireTable(ctx, o.Store, o.Table); err != nil {
		if errors.Is(err, lake.ErrNoTable) {
			return nil, &UsageError{Msg: err.Error()}
		}
		return nil, err
	}
	dates, err := lake.ListPartitions(ctx, o.Store, o.Table)
	if err != nil {
		return nil, err
	}
	for _, dt := range dates {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		deleting := res.DeleteCutoff != "" && dt < res.DeleteCutoff
		if !deleting && (dt >= res.Cutoff || (!o.Compact && o.StorageClass == "")) {
			continue
		}
		p := &PartitionResult{Date: dt}
		res.Partitions = append(res.Partitions, p)
		if deleting {
			if err := o.retain(ctx, o.Store, dt, p); err != nil {
				return res, err
			}
			if p.Retention == "deleted" {
				res.Deleted++
			} else {
				res.PendingDeletes++
			}
			continue
		}
		if o.Compact {
			if err := o.compact(ctx, res.RunID, dt, p); err != nil {
				return res, err
			}
			if p.Compaction != nil && p.Compaction.Merged > 0 {
				res.Compacted++
			}
		}
		if o.StorageClass != "" {
			reclass := o.reclass
			if _, ok := o.Store.(storage.StorageClassSetter); !ok {
				reclass = o.moveCold
			}
			if err := reclass(ctx, res.RunID, dt, p); err != nil {
				return res, err
			}
			if p.ClassFiles > 0 {
				res.Reclassed++
			}
		}
	}
	if res.DeleteCutoff != "" {
		if _, ok := o.Store.(storage.PrefixMover); ok {
			if err := o.retainArchived(ctx, res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// retainArchived applies retention to the partitions under lake.ArchiveRoot.
func (o *Options) retainArchived(ctx context.Context, res *Result) error {
	archived := prefix.New(o.Store, lake.ArchiveRoot)
	dates, err := lake.ListPartitions(ctx, archived, o.Table)
	if err != nil {
		return err
	}
	for _, dt := range dates {
		if dt >= res.DeleteCutoff {
			continue
		}
		p := &PartitionResult{Date: dt, Note: "under " + o.Store.URL(lake.ArchiveRoot)}
		res.Partitions = append(res.Partitions, p)
		if err := o.retain(ctx, archived, dt, p); err != nil {
			return err
		}
		if p.Retention == "deleted" {
			res.Deleted++
		} else {
			res.PendingDeletes++
		}
	}
	return nil
}

// moveCold moves partition dt under lake.ArchiveRoot with one atomic directory
// move, under the partition lock.
func (o *Options) moveCold(ctx context.Context, _ string, dt string, p *PartitionResult) error {
	m, err := lake.ReadManifest(ctx, o.Store, o.Table, dt)
	if err != nil || m == nil {
		return err
	}
	p.Generation, p.ClassFiles = m.Generation, len(m.Files)
	dir := lake.PartitionDir(o.Table, dt)
	p.Note = "moved to " + o.Store.URL(lake.ArchiveRoot+dir)
	if o.DryRun {
		p.Note = "would move to " + o.Store.URL(lake.ArchiveRoot+dir)
		return nil
	}
	err = o.Lock(ctx, o.Table, dt, func(ctx context.Context) error {
		return o.Store.(storage.PrefixMover).MovePrefix(ctx, dir, lake.ArchiveRoot+dir)
	})
	if errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("archive partition %s: %s already holds an archived copy; restore or delete it first: %w", dt, o.Store.URL(lake.ArchiveRoot+dir), err)
	}
	if err != nil {
		return err
	}
	o.Logger.Info("partition moved to the archive root", "partition", dt, "to", o.Store.URL(lake.ArchiveRoot+dir))
	return nil
}

// UsageError is a bad option: exit code 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string     { return e.Msg }
func (e *UsageError) ConfigError() bool { return true }

func (o *Options) defaults() error {
	if err := lake.ValidateTable(o.Table); err != nil {
		return &UsageError{Msg: err.Error()}
	}
	if o.OlderThan <= 0 {
		return &UsageError{Msg: "the age of partitions to archive must be positive (--older-than)"}
	}
	if o.TargetFileSize <= 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.StorageClass != "" {
		_, classes := o.Store.(storage.StorageClassSetter)
		_, mover := o.Store.(storage.PrefixMover)
		switch {
		case classes:
			if err := storage.ValidateStorageClass(o.StorageClass); err != nil {
				return &UsageError{Msg: err.Error()}
			}
		case mover:
			if o.StorageClass != ColdClass {
				return &UsageError{Msg: fmt.Sprintf("--storage-class %q: on the lake %s the only class is %s (move partitions under %s)",
					o.StorageClass, o.Store.URL(""), ColdClass, o.Store.URL(lake.ArchiveRoot))}
			}
		default:
			return &UsageError{Msg: fmt.Sprintf("--storage-class: the lake %s has no storage classes (S3 classes, or COLD on HDFS)", o.Store.URL(""))}
		}
	}
	if !o.Compact && o.StorageClass == "" && o.DeleteAfter <= 0 {
		return &UsageError{Msg: "nothing to do: give --compact, --storage-class or --delete-after"}
	}
	if o.Lock == nil {
		o.Lock = NoLock
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// swap commits a new manifest for partition dt under the partition lock:
// it re-reads the manifest, fails with lake.ErrConcurrentChange when its
// generation is no longer gen, and otherwise writes change(current) as the
// next generation. This is the one place archive commits manifests.
func (o *Options) swap(ctx context.Context, runID, dt string, gen int64, change func(m *lake.Manifest) error) (*lake.Manifest, error) {
	var next *lake.Manifest
	err := o.Lock(ctx, o.Table, dt, func(ctx context.Context) error {
		cur, err := lake.ReadManifest(ctx, o.Store, o.Table, dt)
		if err != nil {
			return err
		}
		if cur == nil || (gen >= 0 && cur.Generation != gen) {
			var now int64
			if cur != nil {
				now = cur.Generation
			}
			return fmt.Errorf("commit %s: %w (generation %d, expected %d); run archive again",
				o.Store.URL(lake.PartitionDir(o.Table, dt)), lake.ErrConcurrentChange, now, gen)
		}
		if err := change(cur); err != nil {
			return err
		}
		cur.Generation++
		cur.RunID, cur.Committed = runID, o.Now().UTC()
		if err := lake.WriteManifest(ctx, o.Store, cur); err != nil {
			return err
		}
		next = cur
		return nil
	})
	return next, err
}

// reclass moves every file of partition dt to the requested storage class,
// then records the class in the manifest. A crash between the two leaves
// objects whose class the manifest does not know yet; running archive again
// records it.
func (o *Options) reclass(ctx context.Context, runID, dt string, p *PartitionResult) error {
	m, err := lake.ReadManifest(ctx, o.Store, o.Table, dt)
	if err != nil || m == nil {
		return err
	}
	p.Generation = m.Generation
	var todo []string
	for _, f := range m.Files {
		if f.StorageClass != o.StorageClass && !(o.StorageClass == "STANDARD" && f.StorageClass == "") {
			todo = append(todo, f.Name)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if o.DryRun {
		p.ClassFiles = len(todo)
		return nil
	}
	sc := o.Store.(storage.StorageClassSetter)
	for _, name := range todo {
		if err := sc.SetStorageClass(ctx, lake.PartitionDir(o.Table, dt)+name, o.StorageClass); err != nil {
			if errors.Is(err, storage.ErrNotSupported) {
				return &UsageError{Msg: "--storage-class: " + err.Error()}
			}
			return err
		}
	}
	moved := map[string]bool{}
	for _, n := range todo {
		moved[n] = true
	}
	class := o.StorageClass
	if class == "STANDARD" {
		class = ""
	}
	next, err := o.swap(ctx, runID, dt, -1, func(m *lake.Manifest) error {
		for i := range m.Files {
			if moved[m.Files[i].Name] {
				m.Files[i].StorageClass = class
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.ClassFiles, p.Generation = len(todo), next.Generation
	o.Logger.Info("storage class set", "partition", dt, "class", o.StorageClass, "files", len(todo))
	return nil
}

// retain deletes partition dt (with Yes, outside a dry run) or marks it
// would_delete. The manifest goes first, in one delete, so the partition is
// empty for every reader from then on; its data files follow.
func (o *Options) retain(ctx context.Context, st storage.Store, dt string, p *PartitionResult) error {
	if !o.Yes || o.DryRun {
		p.Retention = "would_delete"
		return nil
	}
	err := o.Lock(ctx, o.Table, dt, func(ctx context.Context) error {
		return st.Delete(ctx, lake.ManifestKey(o.Table, dt))
	})
	if err != nil {
		return fmt.Errorf("delete partition %s: %w", dt, err)
	}
	dir := lake.PartitionDir(o.Table, dt)
	var keys []string
	err = st.List(ctx, dir, func(obj storage.ObjectInfo) error {
		name := strings.TrimPrefix(obj.Key, dir)
		if !strings.Contains(name, "/") && !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") {
			keys = append(keys, obj.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete partition %s: %w", dt, err)
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete partition %s (its manifest is already gone; verify --repair removes the rest): %w", dt, err)
		}
	}
	p.Retention = "deleted"
	o.Logger.Info("partition deleted (retention)", "partition", dt, "files", len(keys))
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// LeaseLock holds the partition's lease (storage/lake) around fn, the same
// lease ingest commits take, so a compaction, class change, retention
// delete or restore never interleaves with a commit of the partition.
func LeaseLock(st storage.Store, o lake.LeaseOptions) PartitionLock {
	return func(ctx context.Context, table, dt string, fn func(ctx context.Context) error) (err error) {
		set, err := lake.AcquireLeases(ctx, st, []string{lake.PartitionLeasePrefix(table, dt)}, o)
		if err != nil {
			return err
		}
		defer func() {
			if rerr := set.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = rerr
			}
		}()
		if err := fn(ctx); err != nil {
			return err
		}
		return set.Check()
	}
}
