package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/drift"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/cache"
	"github.com/txlake/txlake/storage/lake"
)

// jobEnv is what a job run needs besides the job: the CLI's globals, the
// jobs file, and the lake.
type jobEnv struct {
	g       *globalOptions
	file    *config.File
	lake    string // the --lake value to pass on ("" for the default)
	st      storage.Store
	lakeURL string
	// quiet: no progress bar and no per-run summary on stdout (backfill).
	quiet bool
	json  bool
	// commitGate serialises partition loads against commits of the runs
	// of this process (see ingest.Options.CommitGate).
	commitGate *sync.RWMutex
}

// jobRun is the outcome of one job run for one date, for metrics, the
// backfill summary and `run --json`.
type jobRun struct {
	RunID           string
	Outcome         string
	RowsRead        int64
	RowsWritten     int64
	RowsQuarantined int64
	RowsDuplicate   int64
	BytesRead       int64
	Started         time.Time
	Finished        time.Time
	// Printed is the document `run --json` prints (the ingest result, or
	// the run record of other kinds).
	Printed any
}

// kindRunner runs one job of its kind for a date (and shard; only ingest
// jobs shard). It fills out as far as it got and returns the run's error,
// classified for exitCode.
type kindRunner func(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, shard ingest.Shard, out *jobRun) error

// kindRunners dispatches `txlake run`, `backfill` and Airflow tasks by job
// kind. The archive and verify kinds register in jobkinds.go.
var kindRunners = map[config.Kind]kindRunner{
	config.KindIngest: runIngestJob,
	config.KindDrift:  runDriftJob,
}

// errKindUnavailable is returned for a job whose kind this build cannot run.
var errKindUnavailable = errors.New("not available in this build")

// runJob runs job j for date through its kind's runner.
func runJob(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, shard ingest.Shard, out *jobRun) error {
	run, ok := kindRunners[j.Kind]
	if !ok {
		return fmt.Errorf("job %q: kind %s is %w; use a txlake that includes it", j.Name, j.Kind, errKindUnavailable)
	}
	if shard.Count > 1 && j.Kind != config.KindIngest {
		return usage(fmt.Errorf("job %q: --shard applies to ingest jobs only, not %s", j.Name, j.Kind))
	}
	return run(ctx, env, j, date, shard, out)
}

func runIngestJob(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, shard ingest.Shard, out *jobRun) error {
	in := j.Ingest
	s, err := schemas.Load(in.Schema)
	if err != nil {
		return err
	}
	sources, err := ingestJobSources(in, date)
	if err != nil {
		return err
	}
	var piiKey []byte
	if k := os.Getenv("TXLAKE_PII_KEY"); k != "" {
		piiKey = []byte(k)
	}
	var prog ingest.Progress
	if !env.quiet && (!env.json || env.g.streams.ErrTTY) {
		prog = newProgress(env.g.streams.Err, env.g.streams.ErrTTY, env.g.logger, j.Name)
	}
	dt := date.Format(lake.DateLayout)
	lock, err := lockOptions(lake.DefaultLockTimeout)
	if err != nil {
		return err
	}
	// Zero pull options take ingest's defaults.
	pull := ingest.PullOptions{Cursor: in.Cursor, CursorLookback: in.CursorLookback, BatchRows: in.PGBatchRows, StatementTimeout: in.PGStatementTimeout}
	res, err := ingest.Run(ctx, ingest.Options{
		Schema: s, Sources: sources, Format: ingest.Format(in.Format), Store: env.st, LakeURL: env.lakeURL,
		MaxLineBytes: in.MaxLineBytes, MaxQuarantineRatio: in.MaxQuarantineRatio, PIIKey: piiKey, Workers: in.Workers,
		QuarantineRedact: in.QuarantineRedact, Logger: env.g.logger.With("job", j.Name, "date", dt), Progress: prog,
		ContributionKey: lake.JobDateKey(j.Name, dt, shard.String()), Job: j.Name, Shard: shard, CommitGate: env.commitGate,
		Lock: lock, Pull: pull,
	})
	if res != nil {
		out.RunID, out.Outcome, out.Started, out.Finished = res.RunID, res.Outcome, res.StartedAt, res.FinishedAt
		out.RowsRead, out.RowsWritten, out.RowsQuarantined, out.RowsDuplicate = res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate
		out.BytesRead, out.Printed = res.BytesRead, res
		if !env.quiet && !env.json && (err == nil || res.Outcome == "threshold_breached") {
			if perr := printIngestSummary(env.g.streams.Out, res); perr != nil && err == nil {
				err = perr
			}
		}
	}
	if err != nil && res != nil && len(in.Webhooks) > 0 {
		alertJobFailure(ctx, env, in.Webhooks, res)
	}
	return err
}

// ingestJobSources expands an ingest job's source templates for date.
func ingestJobSources(in *config.Ingest, date time.Time) ([]string, error) {
	sources := make([]string, 0, len(in.Sources))
	for _, t := range in.Sources {
		s, err := t.Expand(date)
		if err != nil {
			return nil, usage(err)
		}
		sources = append(sources, s)
	}
	return sources, nil
}

// alertJobFailure POSTs the failed run's record to the job's webhooks. A
// webhook failure is logged; the run's own error decides the exit code.
func alertJobFailure(ctx context.Context, env *jobEnv, urls []string, record any) {
	body, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		env.g.logger.Error("webhook: encode the run record", "error", err.Error())
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := drift.SendWebhookJSON(wctx, body, drift.WebhookOptions{URLs: urls, Event: "run_failed",
		Secret: []byte(os.Getenv(drift.WebhookSecretEnv)), Logger: env.g.logger, UserAgent: "txlake/" + version}); err != nil {
		env.g.logger.Error("webhook failed", "error", err.Error())
	}
}

// jobRecord is the run record of a job kind that has none of its own
// (drift): _runs/<job>/<run>.json, read by `txlake runs`.
type jobRecord struct {
	Version       int       `json:"version"`
	RunID         string    `json:"run_id"`
	Job           string    `json:"job"`
	Kind          string    `json:"kind"`
	Date          string    `json:"date"`
	Table         string    `json:"table"`
	Lake          string    `json:"lake"`
	Outcome       string    `json:"outcome"` // succeeded | drift_detected | failed
	Error         string    `json:"error,omitempty"`
	DriftDetected *bool     `json:"drift_detected,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	DurationMS    int64     `json:"duration_ms"`
}

func runDriftJob(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, _ ingest.Shard, out *jobRun) error {
	d := j.Drift
	ref, err := d.Reference.Expand(date)
	if err != nil {
		return usage(err)
	}
	cur, err := d.Current.Expand(date)
	if err != nil {
		return usage(err)
	}
	o := &driftOptions{g: env.g, lake: env.lake, table: d.Table, reference: ref, current: cur, format: d.Format,
		failOnDrift: d.FailOnDrift, configFile: d.Config, asOf: date.Format(lake.DateLayout), fdr: d.FDR,
		webhooks: d.Webhooks, segmentBy: d.SegmentBy, minSegmentRows: d.MinSegmentRows, trendDays: d.TrendDays, now: time.Now}
	o.cache.maxBytes = cache.DefaultMaxBytes
	if o.minSegmentRows == 0 {
		o.minSegmentRows = drift.DefaultMinSegmentRows
	}
	if d.Out != nil {
		if o.out, err = d.Out.Expand(date); err != nil {
			return usage(err)
		}
	}
	if err := o.validate(); err != nil {
		return usage(err)
	}
	rec := &jobRecord{Version: 1, RunID: lake.NewRunID(time.Now(), randomRunSuffix()), Job: j.Name, Kind: string(j.Kind),
		Date: o.asOf, Table: d.Table, Lake: env.lakeURL, StartedAt: time.Now().UTC()}
	var detected bool
	o.onReport = func(r *drift.Report) { detected = r.DriftDetected; rec.DriftDetected = &detected }
	err = runDrift(ctx, o)
	rec.FinishedAt = time.Now().UTC()
	rec.DurationMS = rec.FinishedAt.Sub(rec.StartedAt).Milliseconds()
	var de *driftError
	switch {
	case err == nil:
		rec.Outcome = "succeeded"
	case errors.As(err, &de):
		rec.Outcome, rec.Error = "drift_detected", err.Error()
	default:
		rec.Outcome, rec.Error = "failed", err.Error()
	}
	out.RunID, out.Outcome, out.Started, out.Finished, out.Printed = rec.RunID, rec.Outcome, rec.StartedAt, rec.FinishedAt, rec
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if werr := lake.WriteRun(wctx, env.st, j.Name, rec.RunID, rec); werr != nil {
		env.g.logger.Warn("could not write the run record", "err", werr)
	}
	return err
}
