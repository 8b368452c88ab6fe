package main

import (
	"context"
	"fmt"
	"time"

	"github.com/txlake/txlake/jobs/archive"
	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/jobs/verify"
	"github.com/txlake/txlake/storage/lake"
)

// The archive and verify job kinds of jobs.yaml.
func init() {
	kindRunners[config.KindArchive] = runArchiveJob
	kindRunners[config.KindVerify] = runVerifyJob
}

// runArchiveJob runs an archive job for date: the ages older_than and
// delete_after count back from the run date (not from the clock), so a
// backfill or a late run acts as the scheduled run would have.
func runArchiveJob(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, _ ingest.Shard, out *jobRun) error {
	a := j.Archive
	if a.ArchiveRoot != "" || a.StoragePolicy != "" {
		return usage(fmt.Errorf("job %q: archive_root and storage_policy are not supported by this build: HDFS partitions move under %s/ with storage_class: %s (set the policy on that root with hdfs storagepolicies)",
			j.Name, lake.ArchiveRoot, archive.ColdClass))
	}
	lo, err := lockOptions(lake.DefaultLockTimeout)
	if err != nil {
		return err
	}
	o := archive.Options{Store: env.st, LakeURL: env.lakeURL, Table: a.Table, OlderThan: a.OlderThan, Compact: a.Compact,
		TargetFileSize: a.TargetFileSize, StorageClass: a.StorageClass, DeleteAfter: a.DeleteAfter, Yes: a.Yes,
		Lock: archive.LeaseLock(env.st, lo), Now: func() time.Time { return date }, Logger: env.g.logger}
	rec := newJobRecord(j, date, a.Table, env.lakeURL)
	res, err := archive.Run(ctx, o)
	return finishJobRecord(ctx, env, j, rec, res, err, out)
}

// runVerifyJob verifies the job's table (or every table) over its range.
func runVerifyJob(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, _ ingest.Shard, out *jobRun) error {
	v := j.Verify
	o := verify.Options{Store: env.st, LakeURL: env.lakeURL, Table: v.Table, Repair: v.Repair, Logger: env.g.logger}
	if v.Range != nil {
		r, err := config.ExpandRange(v.Range, date)
		if err != nil {
			return usage(err)
		}
		o.From, o.To = r.From, r.To
	}
	rec := newJobRecord(j, date, v.Table, env.lakeURL)
	res, err := verify.Run(ctx, o)
	if err == nil && res != nil && !res.OK {
		err = fmt.Errorf("job %q: verify found %d problem(s) in %s", j.Name, res.Problems, res.Lake)
	}
	return finishJobRecord(ctx, env, j, rec, res, err, out)
}

func newJobRecord(j *config.Job, date time.Time, table, lakeURL string) *jobRecord {
	return &jobRecord{Version: 1, RunID: lake.NewRunID(time.Now(), randomRunSuffix()), Job: j.Name, Kind: string(j.Kind),
		Date: date.Format(lake.DateLayout), Table: table, Lake: lakeURL, StartedAt: time.Now().UTC()}
}

// finishJobRecord completes and stores the run record of an archive or
// verify job; `run --json` prints the job's own result.
func finishJobRecord(ctx context.Context, env *jobEnv, j *config.Job, rec *jobRecord, res any, err error, out *jobRun) error {
	rec.FinishedAt = time.Now().UTC()
	rec.DurationMS = rec.FinishedAt.Sub(rec.StartedAt).Milliseconds()
	rec.Outcome = "succeeded"
	if err != nil {
		rec.Outcome, rec.Error = "failed", err.Error()
	}
	out.RunID, out.Outcome, out.Started, out.Finished, out.Printed = rec.RunID, rec.Outcome, rec.StartedAt, rec.FinishedAt, rec
	if res != nil && !isNilResult(res) {
		out.Printed = res
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if werr := lake.WriteRun(wctx, env.st, j.Name, rec.RunID, rec); werr != nil {
		env.g.logger.Warn("could not write the run record", "err", werr)
	}
	return err
}

func isNilResult(res any) bool {
	switch r := res.(type) {
	case *archive.Result:
		return r == nil
	case *verify.Result:
		return r == nil
	}
	return res == nil
}
