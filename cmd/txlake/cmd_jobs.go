package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/drift"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/backend"
)

// defaultJobsFile is the jobs file when neither --jobs nor $TXLAKE_JOBS is set.
const defaultJobsFile = "jobs.yaml"

// addJobsFlag registers --jobs on cmd.
func addJobsFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "jobs", "", "jobs file (default $TXLAKE_JOBS, else ./jobs.yaml)")
}

// resolveJobsFile returns the jobs file to read.
func resolveJobsFile(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("TXLAKE_JOBS"); env != "" {
		return env
	}
	return defaultJobsFile
}

// jobsLake returns the lake flag value for jobs of f: --lake, else the
// file's lake (resolveLake then falls back to $TXLAKE_LAKE and ./lake).
func jobsLake(flag string, f *config.File) string {
	if flag != "" {
		return flag
	}
	return f.Lake
}

// loadJob reads the jobs file and checks the named job deeply (its schema
// and drift config load).
func loadJob(path, name string) (*config.File, *config.Job, error) {
	f, err := config.Load(resolveJobsFile(path))
	if err != nil {
		return nil, nil, err
	}
	j, err := f.Job(name)
	if err != nil {
		return nil, nil, err
	}
	if err := checkJobFiles(f, j); err != nil {
		return nil, nil, err
	}
	return f, j, nil
}

// checkJobFiles loads the files a job names, so a broken schema is a
// configuration error (exit 2) before any work.
func checkJobFiles(f *config.File, j *config.Job) error {
	switch {
	case j.Ingest != nil:
		if _, err := schemas.Load(j.Ingest.Schema); err != nil {
			return fmt.Errorf("%s:%d: job %q: %w", f.Path, j.Line, j.Name, err)
		}
		if j.Ingest.QuarantineRedact == "hash" && os.Getenv("TXLAKE_PII_KEY") == "" {
			return usage(fmt.Errorf("%s:%d: job %q: quarantine_redact hash needs $TXLAKE_PII_KEY for the HMAC key", f.Path, j.Line, j.Name))
		}
	case j.Drift != nil && j.Drift.Config != "":
		if _, err := drift.LoadConfig(j.Drift.Config); err != nil {
			return fmt.Errorf("%s:%d: job %q: %w", f.Path, j.Line, j.Name, err)
		}
	}
	return nil
}

type jobsOptions struct {
	g    *globalOptions
	file string
	json bool
}

func newJobsCmd(g *globalOptions) *cobra.Command {
	o := &jobsOptions{g: g}
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Validate and list the jobs of jobs.yaml",
		Long: `The jobs file (jobs.yaml) names the lake, defaults, and the jobs that
txlake run, backfill and plan execute. Its keys are documented in the README.

` + exitCodesHelp,
		Args: cobra.NoArgs,
	}
	validate := &cobra.Command{
		Use:     "validate",
		Short:   "Check the jobs file and every schema and drift config it names; errors give line numbers",
		Example: `  txlake jobs validate --jobs deploy/jobs.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJobsValidate(cmd.Context(), o)
		},
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the jobs: name, kind, table and inputs",
		Example: `  txlake jobs list --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJobsList(cmd.Context(), o)
		},
	}
	for _, c := range []*cobra.Command{validate, list} {
		addJobsFlag(c, &o.file)
	}
	list.Flags().BoolVar(&o.json, "json", false, "print the jobs as one JSON document on stdout")
	cmd.AddCommand(validate, list)
	return cmd
}

func runJobsValidate(_ context.Context, o *jobsOptions) error {
	f, err := config.Load(resolveJobsFile(o.file))
	if err != nil {
		return err
	}
	var errs []string
	for _, j := range f.Jobs {
		if err := checkJobFiles(f, j); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return usage(fmt.Errorf("%s", strings.Join(errs, "\n")))
	}
	_, err = fmt.Fprintf(o.g.streams.Out, "%s: %d job(s) OK\n", f.Path, len(f.Jobs))
	return err
}

// jobListEntry is one job of `jobs list --json`.
type jobListEntry struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Line    int      `json:"line"`
	Table   string   `json:"table,omitempty"`
	Schema  string   `json:"schema,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

func runJobsList(_ context.Context, o *jobsOptions) error {
	f, err := config.Load(resolveJobsFile(o.file))
	if err != nil {
		return err
	}
	entries := make([]jobListEntry, 0, len(f.Jobs))
	for _, j := range f.Jobs {
		e := jobListEntry{Name: j.Name, Kind: string(j.Kind), Line: j.Line, Table: j.Table()}
		if j.Ingest != nil {
			e.Schema = j.Ingest.Schema
			for _, s := range j.Ingest.Sources {
				e.Sources = append(e.Sources, backend.Redact(s.Text)) // no user:password@ in listings
			}
		}
		entries = append(entries, e)
	}
	if o.json {
		return printJSON(o.g.streams.Out, map[string]any{"version": 1, "file": f.Path, "lake": backend.Redact(f.Lake), "jobs": entries})
	}
	tw := tabwriter.NewWriter(o.g.streams.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tTABLE / SCHEMA\tINPUTS")
	for _, e := range entries {
		what := e.Table
		if what == "" {
			what = e.Schema
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Kind, what, strings.Join(e.Sources, " "))
	}
	return tw.Flush()
}
