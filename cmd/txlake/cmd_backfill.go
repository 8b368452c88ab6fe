package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/backfill"
	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage/lake"
)

// maxBackfillDays bounds one backfill or plan.
const maxBackfillDays = 3660

// backfillAttempts bounds the runs of one date that keeps meeting a
// concurrent change of a partition it writes.
const backfillAttempts = 5

type backfillOptions struct {
	g           *globalOptions
	jobsFile    string
	lake        string
	job         string
	from, to    string
	parallel    int
	force       bool
	json        bool
	metricsFile string
}

func newBackfillCmd(g *globalOptions) *cobra.Command {
	o := &backfillOptions{g: g}
	cmd := &cobra.Command{
		Use:   "backfill JOB --from D --to D [--parallel N] [--force]",
		Short: "Run a job for every date of a range, resumably and in parallel",
		Long: `Backfill runs a job for each date from --from to --to (inclusive, UTC),
--parallel dates at a time, exactly as txlake run would for each date.

It resumes: a date of an ingest job whose contribution is already committed
from the same inputs (the same files with the same sizes and checksums) is
skipped, unless --force. A date that failed, or whose inputs changed, runs
again. Re-running a date is always safe: it replaces that date's
contribution.

Ctrl-C or SIGTERM stops it cleanly: no new date starts, dates under way stop
before their commit or finish a commit already started, and nothing is
half-committed. The summary lists every date's outcome (committed, skipped,
failed, interrupted, not_run); any failed date makes the exit code non-zero
and is named.

` + exitCodesHelp,
		Example: `  txlake backfill payments --from 2026-01-01 --to 2026-01-31 --parallel 4
  txlake backfill payments --from 2026-01-01 --to 2026-01-31 --force --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.job = args[0]
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runBackfill(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addJobsFlag(cmd, &o.jobsFile)
	addLakeFlag(cmd, &o.lake)
	addDateRangeFlags(cmd, &o.from, &o.to)
	f.IntVar(&o.parallel, "parallel", 1, "dates to run at once")
	f.BoolVar(&o.force, "force", false, "run every date, also those already committed from the same inputs")
	f.BoolVar(&o.json, "json", false, "print the per-date summary as one JSON document on stdout")
	addMetricsFlag(cmd, &o.metricsFile)
	return cmd
}

// addDateRangeFlags registers the required --from and --to of backfill
// and plan.
func addDateRangeFlags(cmd *cobra.Command, from, to *string) {
	cmd.Flags().StringVar(from, "from", "", "first date, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(to, "to", "", "last date, YYYY-MM-DD, inclusive (required)")
}

func (o *backfillOptions) validate() error {
	if o.from == "" || o.to == "" {
		return errors.New("--from and --to are required, e.g. --from 2026-01-01 --to 2026-01-31")
	}
	if o.parallel < 1 || o.parallel > 256 {
		return fmt.Errorf("--parallel %d: want 1..256", o.parallel)
	}
	return nil
}

// backfillSummary is the JSON document of `backfill --json`.
type backfillSummary struct {
	Version  int                   `json:"version"`
	Job      string                `json:"job"`
	Kind     string                `json:"kind"`
	Lake     string                `json:"lake"`
	From     string                `json:"from"`
	To       string                `json:"to"`
	Parallel int                   `json:"parallel"`
	Force    bool                  `json:"force"`
	Outcome  string                `json:"outcome"` // succeeded | failed | interrupted
	Counts   map[string]int        `json:"counts"`
	Dates    []backfill.DateResult `json:"dates"`
}

func runBackfill(ctx context.Context, o *backfillOptions) error {
	dates, err := backfill.Dates(o.from, o.to, maxBackfillDays)
	if err != nil {
		return usage(err)
	}
	f, j, err := loadJob(o.jobsFile, o.job)
	if err != nil {
		return err
	}
	if _, ok := kindRunners[j.Kind]; !ok {
		return fmt.Errorf("job %q: kind %s is %w; use a txlake that includes it", j.Name, j.Kind, errKindUnavailable)
	}
	env, closeEnv, err := openJobEnv(ctx, o.g, f, o.lake)
	if err != nil {
		return err
	}
	defer closeEnv()
	env.quiet = true
	env.commitGate = &sync.RWMutex{}
	started := time.Now()
	var prog *progress
	if !o.json || o.g.streams.ErrTTY {
		prog = newProgress(o.g.streams.Err, o.g.streams.ErrTTY, o.g.logger, "backfill "+j.Name)
		prog.unit = "dates"
		prog.Start(int64(len(dates)))
	}
	opts := backfill.Options{
		Dates: dates, Parallel: o.parallel, ExitCode: exitCode,
		// Dates running at once may write the same partition (late events
		// land in earlier dates); the later commit then fails before it
		// changes anything, and re-running the date is always safe.
		Retry:    func(err error) bool { return errors.Is(err, lake.ErrConcurrentChange) },
		Attempts: backfillAttempts,
		RunDate: func(ctx context.Context, date string, r *backfill.DateResult) error {
			t, _ := lake.ParseDate(date)
			var out jobRun
			err := runJob(ctx, env, j, t, ingest.Shard{}, &out)
			r.RunID, r.RowsRead, r.RowsWritten, r.RowsQuarantined, r.RowsDuplicate, r.BytesRead =
				out.RunID, out.RowsRead, out.RowsWritten, out.RowsQuarantined, out.RowsDuplicate, out.BytesRead
			return err
		},
		Done: func(r backfill.DateResult) {
			if prog != nil {
				prog.Add(1)
			}
			log := o.g.logger.With("job", j.Name, "date", r.Date, "outcome", string(r.Outcome), "run", r.RunID)
			if r.Outcome == backfill.OutcomeFailed {
				log.Error("backfill date failed", "exit_code", r.ExitCode, "error", r.Error)
			} else {
				log.Info("backfill date done", "rows_written", r.RowsWritten, "duration_ms", r.DurationMS)
			}
		},
	}
	if !o.force && j.Kind == config.KindIngest {
		opts.Skip = func(ctx context.Context, date string) (bool, error) {
			t, _ := lake.ParseDate(date)
			st, err := taskStatus(ctx, env, j, t, ingest.Shard{})
			if err != nil {
				return false, err
			}
			return st.Status == backfill.StatusCommitted, nil
		}
	}
	results := backfill.Run(ctx, opts)
	if prog != nil {
		prog.Finish()
	}
	counts := backfill.Summary(results)
	err = backfill.Failed(results)
	outcome := "succeeded"
	switch {
	case ctx.Err() != nil:
		outcome = "interrupted"
		left := counts[backfill.OutcomeNotRun] + counts[backfill.OutcomeInterrupted]
		err = fmt.Errorf("%w with %d of %d dates left (not run or stopped before their commit); re-run it to finish: %w",
			backfill.ErrInterrupted, left, len(dates), context.Canceled)
	case err != nil:
		outcome = "failed"
	}
	sum := backfillSummary{Version: 1, Job: j.Name, Kind: string(j.Kind), Lake: env.lakeURL, From: o.from, To: o.to,
		Parallel: o.parallel, Force: o.force, Outcome: outcome, Counts: map[string]int{}, Dates: results}
	var total jobRun
	for k, v := range counts {
		sum.Counts[string(k)] = v
	}
	for _, r := range results {
		total.RowsRead += r.RowsRead
		total.RowsWritten += r.RowsWritten
		total.RowsQuarantined += r.RowsQuarantined
		total.RowsDuplicate += r.RowsDuplicate
		total.BytesRead += r.BytesRead
	}
	var perr error
	if o.json {
		perr = printJSON(o.g.streams.Out, sum)
	} else {
		perr = printBackfillSummary(o.g.streams.Out, &sum)
	}
	if err == nil {
		err = perr
	}
	code := exitCode(err)
	var fe *backfill.FailedError
	if errors.As(err, &fe) {
		code = fe.Code
		err = &backfillError{err: fe}
	}
	m := jobMetrics("backfill", j, &total, code, started)
	m.dates = sum.Counts
	if merr := writeMetricsFile(o.metricsFile, m); merr != nil {
		o.g.logger.Error("could not write the metrics file", "error", merr.Error())
		if err == nil {
			err = merr
		}
	}
	return err
}

// backfillError carries the exit code of a backfill with failed dates.
type backfillError struct{ err *backfill.FailedError }

func (e *backfillError) Error() string { return e.err.Error() }
func (e *backfillError) Unwrap() error { return e.err }

// ExitCode is the backfill's exit code (see backfill.FailedError).
func (e *backfillError) ExitCode() int { return e.err.Code }

// printBackfillSummary writes the per-date table of a backfill.
func printBackfillSummary(w io.Writer, s *backfillSummary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "backfill %s %s..%s: %s — %d committed, %d skipped, %d failed, %d interrupted, %d not run\n\n", s.Job, s.From, s.To, s.Outcome,
		s.Counts["committed"], s.Counts["skipped"], s.Counts["failed"], s.Counts["interrupted"], s.Counts["not_run"])
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tOUTCOME\tREAD\tWRITTEN\tQUARANTINED\tDUPLICATE\tTIME\tRUN / ERROR")
	for _, r := range s.Dates {
		detail := r.RunID
		if r.Error != "" {
			detail = fmt.Sprintf("exit %d: %s", r.ExitCode, r.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Date, r.Outcome, humanize.Comma(r.RowsRead), humanize.Comma(r.RowsWritten),
			humanize.Comma(r.RowsQuarantined), humanize.Comma(r.RowsDuplicate), (time.Duration(r.DurationMS) * time.Millisecond).String(), detail)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}
