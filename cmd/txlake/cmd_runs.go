package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/storage/lake"
)

type runsOptions struct {
	g        *globalOptions
	lake     string
	jobsFile string
	job      string
	limit    int
	json     bool
}

func newRunsCmd(g *globalOptions) *cobra.Command {
	o := &runsOptions{g: g}
	cmd := &cobra.Command{
		Use:   "runs [--job J]",
		Short: "List recent runs from the lake's run records (_runs/): outcome, counts, duration, bytes",
		Long: `Runs lists the most recent run records of the lake, newest first: every
ingest (ad-hoc ingests under job "ingest"), every run of a job and every
date of a backfill writes one, whatever its outcome.

` + exitCodesHelp,
		Example: `  txlake runs
  txlake runs --job payments --limit 50 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.limit < 1 {
				return usage(fmt.Errorf("--limit %d: want at least 1", o.limit))
			}
			return runRuns(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addLakeFlag(cmd, &o.lake)
	f.StringVar(&o.jobsFile, "jobs", "", "take the lake from this jobs file when --lake is not given (default $TXLAKE_JOBS when set)")
	f.StringVar(&o.job, "job", "", "only the runs of this job")
	f.IntVar(&o.limit, "limit", 20, "list at most this many runs")
	f.BoolVar(&o.json, "json", false, "print the runs as one JSON document on stdout")
	return cmd
}

// runSummary is one run of `txlake runs`: the fields every run record has
// (ingest results, drift job records).
type runSummary struct {
	RunID           string    `json:"run_id"`
	Job             string    `json:"job"`
	Kind            string    `json:"kind"`
	Table           string    `json:"table,omitempty"`
	Outcome         string    `json:"outcome"`
	Error           string    `json:"error,omitempty"`
	ContributionKey string    `json:"contribution_key,omitempty"`
	RowsRead        int64     `json:"rows_read"`
	RowsWritten     int64     `json:"rows_written"`
	RowsQuarantined int64     `json:"rows_quarantined"`
	RowsDuplicate   int64     `json:"rows_duplicate"`
	BytesRead       int64     `json:"bytes_read"`
	StartedAt       time.Time `json:"started_at"`
	DurationMS      int64     `json:"duration_ms"`
}

// runRecordFields decodes the common fields of any run record.
type runRecordFields struct {
	runSummary
	ContributionDoc struct {
		Key string `json:"key"`
	} `json:"contribution"`
}

func runRuns(ctx context.Context, o *runsOptions) error {
	lakeFlag := o.lake
	if jf := o.jobsFile; lakeFlag == "" && (jf != "" || os.Getenv("TXLAKE_JOBS") != "") {
		f, err := config.Load(resolveJobsFile(jf))
		if err != nil {
			return err
		}
		lakeFlag = f.Lake
	}
	st, lakeURL, err := openExistingLake(ctx, lakeFlag)
	if err != nil {
		return err
	}
	defer st.Close()
	refs, err := lake.ListRuns(ctx, st, o.job)
	if err != nil {
		return err
	}
	if len(refs) > o.limit {
		refs = refs[:o.limit]
	}
	runs := make([]runSummary, 0, len(refs))
	for _, ref := range refs {
		var rec runRecordFields
		if err := lake.ReadRun(ctx, st, ref, &rec); err != nil {
			o.g.logger.Warn("unreadable run record", "job", ref.Job, "run", ref.RunID, "error", err.Error())
			continue
		}
		r := rec.runSummary
		r.RunID, r.Job = ref.RunID, ref.Job
		r.ContributionKey = rec.ContributionDoc.Key
		if r.Kind == "" {
			r.Kind = "ingest" // ingest results carry no kind
		}
		runs = append(runs, r)
	}
	if o.json {
		return printJSON(o.g.streams.Out, map[string]any{"version": 1, "lake": lakeURL, "runs": runs})
	}
	return printRuns(o.g.streams.Out, runs)
}

func printRuns(w io.Writer, runs []runSummary) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tJOB\tKIND\tOUTCOME\tREAD\tWRITTEN\tQUARANTINED\tDUPLICATE\tBYTES\tDURATION\tRUN")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.Job, r.Kind, r.Outcome,
			humanize.Comma(r.RowsRead), humanize.Comma(r.RowsWritten), humanize.Comma(r.RowsQuarantined), humanize.Comma(r.RowsDuplicate),
			humanize.IBytes(uint64(max(r.BytesRead, 0))), (time.Duration(r.DurationMS) * time.Millisecond).String(), r.RunID)
	}
	tw.Flush()
	if len(runs) == 0 {
		b.WriteString("(no runs recorded)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
