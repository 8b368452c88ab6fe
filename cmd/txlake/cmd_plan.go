package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/backfill"
	"github.com/txlake/txlake/jobs/config"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
)

// PlanVersion is the version of the plan JSON contract.
const PlanVersion = 1

type planOptions struct {
	g        *globalOptions
	jobsFile string
	lake     string
	job      string
	from, to string
	shards   int
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	o := &planOptions{g: g}
	cmd := &cobra.Command{
		Use:   "plan JOB --from D --to D [--shards n]",
		Short: "Print the tasks of a job over a date range, with their status, as JSON (for Airflow)",
		Long: `Plan prints one JSON document listing a task per date (and per shard with
--shards n) from --from to --to, each with its status:

  committed       the contribution is committed from exactly the current inputs
  pending         never committed, or its last run failed part-way
  inputs_changed  committed, but the inputs differ now

and the txlake arguments that run it. Airflow maps a task over the entries
that are not committed (deploy/airflow/txlake_dag.py). Plan reads the lake
and checksums the inputs; it writes nothing. The format is documented in
docs/json-contracts.md. Jobs of other kinds than ingest are not tracked by
contributions: their tasks are always pending.

` + exitCodesHelp,
		Example: `  txlake plan payments --from 2026-01-01 --to 2026-01-31
  txlake plan payments --from 2026-01-31 --to 2026-01-31 --shards 8`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.job = args[0]
			if o.from == "" || o.to == "" {
				return usage(errors.New("--from and --to are required, e.g. --from 2026-01-01 --to 2026-01-31"))
			}
			if o.shards < 0 || o.shards > 4096 {
				return usage(fmt.Errorf("--shards %d: want 1..4096", o.shards))
			}
			return runPlan(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addJobsFlag(cmd, &o.jobsFile)
	addLakeFlag(cmd, &o.lake)
	addDateRangeFlags(cmd, &o.from, &o.to)
	f.IntVar(&o.shards, "shards", 0, "split each date into n shards (ingest jobs); 0 or 1: one task per date")
	return cmd
}

// plan is the JSON document `txlake plan` prints.
type plan struct {
	Version int            `json:"version"`
	Job     string         `json:"job"`
	Kind    string         `json:"kind"`
	Lake    string         `json:"lake"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	Shards  int            `json:"shards"`
	Counts  map[string]int `json:"counts"`
	Tasks   []planTask     `json:"tasks"`
}

// planTask is one (date, shard) task.
type planTask struct {
	Date  string `json:"date"`
	Shard string `json:"shard"` // "i/n", or "" when not sharded
	// Status is committed, pending or inputs_changed.
	Status string `json:"status"`
	// Contribution is the id of the task's contribution (ingest jobs).
	Contribution string `json:"contribution,omitempty"`
	// CommittedRun is the run that committed it, when committed.
	CommittedRun string `json:"committed_run,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Args run the task: txlake [global flags] ARGS...
	Args []string `json:"args"`
}

func runPlan(ctx context.Context, o *planOptions) error {
	dates, err := backfill.Dates(o.from, o.to, maxBackfillDays)
	if err != nil {
		return usage(err)
	}
	f, j, err := loadJob(o.jobsFile, o.job)
	if err != nil {
		return err
	}
	if o.shards > 1 && j.Kind != config.KindIngest {
		return usage(fmt.Errorf("job %q: --shards applies to ingest jobs only, not %s", j.Name, j.Kind))
	}
	st, lakeURL, err := openLake(ctx, jobsLake(o.lake, f))
	if err != nil {
		return err
	}
	defer st.Close()
	env := &jobEnv{g: o.g, file: f, st: st, lakeURL: lakeURL}
	p := plan{Version: PlanVersion, Job: j.Name, Kind: string(j.Kind), Lake: lakeURL, From: o.from, To: o.to,
		Shards: max(o.shards, 1), Counts: map[string]int{}, Tasks: []planTask{}}
	for _, s := range []backfill.Status{backfill.StatusCommitted, backfill.StatusPending, backfill.StatusInputsChanged} {
		p.Counts[string(s)] = 0
	}
	for _, date := range dates {
		t, _ := lake.ParseDate(date)
		for i := range p.Shards {
			var shard ingest.Shard
			if p.Shards > 1 {
				shard = ingest.Shard{Index: i, Count: p.Shards}
			}
			task := planTask{Date: date, Shard: shard.String(), Args: []string{"run", j.Name, "--date", date}}
			if shard.Count > 1 {
				task.Args = append(task.Args, "--shard", shard.String())
			}
			if j.Kind == config.KindIngest {
				task.Contribution = lake.ContributionID(lake.JobDateKey(j.Name, date, shard.String()))
				ch, err := taskStatus(ctx, env, j, t, shard)
				if err != nil {
					return err
				}
				task.Status, task.CommittedRun, task.Reason = string(ch.Status), ch.RunID, ch.Reason
			} else {
				task.Status, task.Reason = string(backfill.StatusPending), string(j.Kind)+" jobs are not tracked by contributions; always run"
			}
			p.Counts[task.Status]++
			p.Tasks = append(p.Tasks, task)
		}
	}
	return printJSON(o.g.streams.Out, p)
}

// taskStatus compares the committed contribution of an ingest job's (date,
// shard) with the inputs its run would read now. Inputs that cannot be
// listed (not landed yet: a glob that matches nothing) leave the task
// pending, or committed if it is; other errors (storage unreachable) fail.
func taskStatus(ctx context.Context, env *jobEnv, j *config.Job, date time.Time, shard ingest.Shard) (backfill.Check, error) {
	in := j.Ingest
	s, err := schemas.Load(in.Schema)
	if err != nil {
		return backfill.Check{}, err
	}
	dt := date.Format(lake.DateLayout)
	sources, err := ingestJobSources(in, date)
	if err != nil {
		return backfill.Check{}, err
	}
	cur, ierr := ingest.Identities(ctx, sources, ingest.Format(in.Format), shard, in.Workers)
	var se *ingest.SourceError
	if ierr != nil && !errors.As(ierr, &se) {
		return backfill.Check{}, ierr
	}
	return backfill.CheckContribution(ctx, env.st, s.Table, lake.JobDateKey(j.Name, dt, shard.String()), cur, ierr)
}
