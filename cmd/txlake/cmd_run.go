package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage/lake"
)

type runOptions struct {
	g           *globalOptions
	jobsFile    string
	lake        string
	job         string
	date        string
	shard       string
	json        bool
	metricsFile string
	now         func() time.Time
}

func newRunCmd(g *globalOptions) *cobra.Command {
	o := &runOptions{g: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "run JOB [--date D] [--shard i/n]",
		Short: "Run a named job of jobs.yaml for one date",
		Long: `Run runs one job of the jobs file for one date (default: yesterday, UTC).

An ingest job expands its source templates for the date and writes one
contribution keyed (job, date[, shard]): running the same job for the same
date again replaces it, so the rows in the lake stay the same. A drift job
resolves its ranges relative to the date ("today" is the date itself).

--shard i/n (0 <= i < n) runs one deterministic share of the date's sources
(split by a hash of each source URL) as its own contribution, so n workers
can process one heavy day in parallel; together the n shards hold the rows
of one unsharded run.

` + exitCodesHelp,
		Example: `  txlake run payments                        # yesterday (UTC)
  txlake run payments --date 2026-01-31 --json
  txlake run payments --date 2026-01-31 --shard 2/8
  txlake run payments-drift --date 2026-01-31  # exit 3 on drift with fail_on_drift`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.job = args[0]
			return runRun(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addJobsFlag(cmd, &o.jobsFile)
	addLakeFlag(cmd, &o.lake)
	f.StringVar(&o.date, "date", "", "the run date, YYYY-MM-DD, today or yesterday (default yesterday, UTC)")
	f.StringVar(&o.shard, "shard", "", "run shard i of n of the date's sources, as i/n with 0 <= i < n (ingest jobs)")
	f.BoolVar(&o.json, "json", false, "print the run's result as one JSON document on stdout (ingest jobs)")
	addMetricsFlag(cmd, &o.metricsFile)
	return cmd
}

// addMetricsFlag registers --metrics-file on cmd.
func addMetricsFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "metrics-file", "", "write Prometheus text-format metrics of the run to PATH (atomically), e.g. for node_exporter's textfile collector (*.prom)")
}

// parseRunDate parses --date: YYYY-MM-DD, today or yesterday (UTC); ""
// is yesterday.
func parseRunDate(s string, now time.Time) (time.Time, error) {
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch strings.TrimSpace(s) {
	case "", "yesterday":
		return today.AddDate(0, 0, -1), nil
	case "today":
		return today, nil
	}
	t, err := lake.ParseDate(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--date: %w (or today, yesterday)", err)
	}
	return t, nil
}

func runRun(ctx context.Context, o *runOptions) error {
	date, err := parseRunDate(o.date, o.now())
	if err != nil {
		return usage(err)
	}
	shard, err := ingest.ParseShard(o.shard)
	if err != nil {
		return usage(fmt.Errorf("--%w", err))
	}
	f, j, err := loadJob(o.jobsFile, o.job)
	if err != nil {
		return err
	}
	env, closeEnv, err := openJobEnv(ctx, o.g, f, o.lake)
	if err != nil {
		return err
	}
	defer closeEnv()
	env.json = o.json
	started := time.Now()
	var out jobRun
	err = runJob(ctx, env, j, date, shard, &out)
	if o.json && out.Printed != nil && j.Kind == config.KindIngest {
		if perr := printJSON(o.g.streams.Out, out.Printed); perr != nil && err == nil {
			err = perr
		}
	}
	if merr := writeMetricsFile(o.metricsFile, jobMetrics("run", j, &out, exitCode(err), started)); merr != nil {
		o.g.logger.Error("could not write the metrics file", "error", merr.Error())
		if err == nil {
			err = merr
		}
	}
	return err
}

// openJobEnv opens the lake of a jobs file (--lake, else the file's lake).
func openJobEnv(ctx context.Context, g *globalOptions, f *config.File, lakeFlag string) (*jobEnv, func(), error) {
	lf := jobsLake(lakeFlag, f)
	st, lakeURL, err := openLake(ctx, lf)
	if err != nil {
		return nil, nil, err
	}
	return &jobEnv{g: g, file: f, lake: lf, st: st, lakeURL: lakeURL}, func() { st.Close() }, nil
}

// jobMetrics turns one run of job j into its metrics.
func jobMetrics(command string, j *config.Job, r *jobRun, code int, started time.Time) runMetrics {
	return newRunMetrics(command, j.Name, string(j.Kind), r, code, started)
}

// randomRunSuffix is the random part of a run id.
func randomRunSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}
