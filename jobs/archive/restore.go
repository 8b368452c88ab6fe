package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/prefix"
)

// RestoreOptions configure a restore of archived partitions.
type RestoreOptions struct {
	Store    storage.Store
	LakeURL  string
	Table    string
	From, To string // inclusive partition dates
	// Days is how long the restored copies stay readable (S3 default 7).
	Days int
	// Tier is the retrieval tier: "Standard", "Bulk" or "Expedited"
	// ("" is Standard).
	Tier   string
	DryRun bool
	// Lock wraps the move of a partition back from lake.ArchiveRoot; nil means
	// NoLock.
	Lock   PartitionLock
	Logger *slog.Logger
}

// RestoreResult reports a restore; its JSON form is a documented contract.
type RestoreResult struct {
	Version    int                 `json:"version"`
	Lake       string              `json:"lake"`
	Table      string              `json:"table"`
	DryRun     bool                `json:"dry_run"`
	Partitions []*RestorePartition `json:"partitions"`
	// Ready is true when every archived file of the range is readable now.
	Ready bool `json:"ready"`
}

// RestorePartition is the restore state of one partition's archived files.
type RestorePartition struct {
	Date       string `json:"dt"`
	Archived   int    `json:"archived_files"` // files in a class that needs a restore
	Requested  int    `json:"requested"`      // restore requests sent by this run
	InProgress int    `json:"in_progress"`
	Restored   int    `json:"restored"`
	// Moved is set when the partition was moved back from lake.ArchiveRoot
	// (HDFS) and is readable now.
	Moved bool `json:"moved_back,omitempty"`
}

// Restore asks the store to bring the archived files (GLACIER,
// DEEP_ARCHIVE) of the table's partitions in [From, To] back online. It
// returns once the requests are accepted; run it again to see progress: a
// file already being restored is not requested twice. Files in classes
// that are readable in place need nothing and are not counted.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	if err := lake.ValidateTable(o.Table); err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	for _, d := range []string{o.From, o.To} {
		if _, err := lake.ParseDate(d); err != nil {
			return nil, &UsageError{Msg: "--from and --to: " + err.Error()}
		}
	}
	if o.From > o.To {
		return nil, &UsageError{Msg: fmt.Sprintf("--from %s is after --to %s", o.From, o.To)}
	}
	switch o.Tier {
	case "", "Standard", "Bulk", "Expedited":
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--tier %q: want Standard, Bulk or Expedited", o.Tier)}
	}
	if o.Days <= 0 {
		o.Days = 7
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	res := &RestoreResult{Version: ResultVersion, Lake: o.LakeURL, Table: o.Table, DryRun: o.DryRun, Partitions: []*RestorePartition{}, Ready: true}
	if o.Lock == nil {
		o.Lock = NoLock
	}
	if err := lake.RequireTable(ctx, o.Store, o.Table); err != nil {
		if errors.Is(err, lake.ErrNoTable) {
			return nil, &UsageError{Msg: err.Error()}
		}
		return nil, err
	}
	if mv, ok := o.Store.(storage.PrefixMover); ok {
		return res, o.moveBack(ctx, mv, res)
	}
	dates, err := lake.ListPartitions(ctx, o.Store, o.Table)
	if err != nil {
		return nil, err
	}
	rs, canRestore := o.Store.(storage.Restorer)
	for _, dt := range dates {
		if dt < o.From || dt > o.To {
			continue
		}
		m, err := lake.ReadManifest(ctx, o.Store, o.Table, dt)
		if err != nil {
			return res, err
		}
		p := &RestorePartition{Date: dt}
		for _, f := range m.Files {
			if !storage.ClassNeedsRestore(f.StorageClass) {
				continue
			}
			p.Archived++
			if !canRestore {
				return res, &UsageError{Msg: fmt.Sprintf("the lake %s cannot restore objects", o.Store.URL(""))}
			}
			key := m.Key(f)
			state, err := rs.RestoreStatus(ctx, key)
			if err != nil {
				return res, err
			}
			switch state {
			case storage.RestoreDone:
				p.Restored++
				continue
			case storage.RestoreInProgress:
				p.InProgress++
				continue
			}
			if o.DryRun {
				continue
			}
			if err := rs.Restore(ctx, key, o.Days, o.Tier); err != nil {
				return res, err
			}
			p.Requested++
			p.InProgress++
		}
		if p.Archived > p.Restored {
			res.Ready = false
		}
		res.Partitions = append(res.Partitions, p)
	}
	return res, nil
}

// moveBack moves the table's partitions in range from lake.ArchiveRoot back into
// the table, each in one atomic move under the partition lock. A partition
// that exists in the table again (data ingested since it was archived) is
// an error: the two would have to be merged by hand.
func (o *RestoreOptions) moveBack(ctx context.Context, mv storage.PrefixMover, res *RestoreResult) error {
	archived := prefix.New(o.Store, lake.ArchiveRoot)
	dates, err := lake.ListPartitions(ctx, archived, o.Table)
	if err != nil {
		return err
	}
	for _, dt := range dates {
		if dt < o.From || dt > o.To {
			continue
		}
		m, err := lake.ReadManifest(ctx, archived, o.Table, dt)
		if err != nil {
			return err
		}
		p := &RestorePartition{Date: dt, Archived: len(m.Files)}
		res.Partitions = append(res.Partitions, p)
		if o.DryRun {
			res.Ready = false
			continue
		}
		dir := lake.PartitionDir(o.Table, dt)
		err = o.Lock(ctx, o.Table, dt, func(ctx context.Context) error { return mv.MovePrefix(ctx, lake.ArchiveRoot+dir, dir) })
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("restore partition %s: the table has a partition %s again (ingested since it was archived); the archived copy stays in %s: %w",
				dt, dt, o.Store.URL(lake.ArchiveRoot+dir), err)
		}
		if err != nil {
			return err
		}
		p.Restored, p.Moved = p.Archived, true
		o.Logger.Info("partition moved back from the archive root", "partition", dt)
	}
	return nil
}
