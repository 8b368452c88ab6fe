package ingest

import (
	"context"
	"fmt"

	"github.com/txlake/txlake/storage/lake"
)

// rebase decides, under the partition's lease, whether this run's files
// can be committed on top of a manifest that other runs changed after this
// run loaded the partition's keys for dedup (lake.Commit.Rebase).
//
// The run deduplicated against the files of the manifest it saw. Other
// contributions committed since are safe to keep beside this run's files
// when:
//   - no key of the files they added is a key this run wrote (else the
//     partition would hold that key twice), and
//   - no file of another contribution was removed while this run counted
//     duplicates (a duplicate may have been dropped against a row that is
//     gone now; the removed files may be deleted already, so this is
//     checked conservatively).
//
// Files of this run's own contribution are ignored: this commit replaces
// them (the later commit of one contribution replaces the earlier one).
func (p *pipeline) rebase(ctx context.Context, dt string, cur *lake.Manifest) error {
	day, err := lake.ParseDate(dt)
	if err != nil {
		return err
	}
	ps := p.parts[day.Unix()/86400]
	if ps == nil || ps.w == nil {
		return nil // this run wrote nothing here: nothing to collide
	}
	inSeen, inCur := map[string]bool{}, map[string]bool{}
	if ps.seen != nil {
		for _, f := range ps.seen.Files {
			inSeen[f.Name] = true
		}
	}
	var added []lake.File
	if cur != nil {
		for _, f := range cur.Files {
			inCur[f.Name] = true
			if !inSeen[f.Name] && f.Contribution != p.contrib {
				added = append(added, f)
			}
		}
	}
	removed := 0
	if ps.seen != nil {
		for _, f := range ps.seen.Files {
			if !inCur[f.Name] && f.Contribution != p.contrib {
				removed++
			}
		}
	}
	if removed > 0 && ps.dup > 0 {
		return fmt.Errorf("%w: another run replaced %d files this run deduplicated against; re-run", lake.ErrConcurrentChange, removed)
	}
	if len(added) == 0 || len(p.s.KeyIndex) == 0 || len(ps.w.files) == 0 {
		return nil
	}
	theirs := newKeySet()
	for _, f := range added {
		skipFrom, skipTo, _ := f.RowRange(p.contrib) // a merged file's rows of this contribution are replaced
		if err := loadFileKeys(ctx, p.o.Store, p.s, cur.Key(f), theirs, skipFrom, skipTo); err != nil {
			return err
		}
	}
	mine := newKeySet()
	for _, f := range ps.w.files {
		if err := loadFileKeys(ctx, p.o.Store, p.s, lake.PartitionDir(p.s.Table, dt)+f.Name, mine, 0, 0); err != nil {
			return err
		}
	}
	if overlap := theirs.intersects(mine); overlap {
		return fmt.Errorf("%w: another run committed rows with keys this run also wrote; re-run to deduplicate against them", lake.ErrConcurrentChange)
	}
	p.o.Logger.Info("partition changed during the run; no key overlap, committing beside the new files",
		"dt", dt, "files_added", len(added))
	return nil
}
