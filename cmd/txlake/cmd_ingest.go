package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
)

type ingestOptions struct {
	g                  *globalOptions
	schema             string
	sources            []string
	lake               string
	date, from, to     string
	format             string
	dryRun             bool
	json               bool
	maxLineBytes       int
	maxQuarantineRatio float64
	workers            int
	quarantineRedact   string
	lockTimeout        time.Duration
	metricsFile        string
	job                string
	pull               ingest.PullOptions
}

func newIngestCmd(g *globalOptions) *cobra.Command {
	o := &ingestOptions{g: g}
	cmd := &cobra.Command{
		Use:   "ingest --schema FILE --source URL_OR_GLOB... [flags]",
		Short: "Clean, de-duplicate and write transaction logs into the lake",
		Long: `Ingest reads JSON-lines or CSV sources (plain, gzip or zstd, detected by their
magic bytes), cleans every row against the schema, quarantines rejected rows
with the reason, drops duplicate keys, and commits zstd Parquet into
Hive-style dt=YYYY-MM-DD partitions of the lake, atomically.

A postgres://user@host:port/db?table=NAME (or ?query=<url-encoded SELECT>)
source pulls rows from PostgreSQL in one read-only snapshot; with --cursor,
only the rows above the watermark kept in the lake (_state/<job>.json).
The password comes from $PGPASSWORD or ~/.pgpass. See docs/postgres.md.

Ingesting the same sources again replaces their earlier contribution, so a
re-run never duplicates rows. Every run reconciles:
  rows_read = rows_written + rows_quarantined + rows_duplicate

` + exitCodesHelp,
		Example: `  txlake ingest --schema schemas/transactions.yaml --source 'landing/*.jsonl.gz'
  txlake ingest --schema s.yaml --source a.csv --source b.csv --lake /data/lake --json
  txlake ingest --schema s.yaml --source 'logs/*.jsonl' --from 2026-01-01 --to 2026-01-31 --dry-run
  PGPASSWORD=... txlake ingest --schema payments.yaml --source 'postgres://etl@db:5432/pay?table=payments' --cursor updated_at --cursor-lookback 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runIngest(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.schema, "schema", "", "schema file (YAML) (required)")
	f.StringArrayVar(&o.sources, "source", nil, "source file, glob or file:// URL; repeatable (required)")
	addLakeFlag(cmd, &o.lake)
	f.StringVar(&o.date, "date", "", "only write partition YYYY-MM-DD; rows of other dates are quarantined")
	f.StringVar(&o.from, "from", "", "first partition date to write (with --to)")
	f.StringVar(&o.to, "to", "", "last partition date to write (with --from)")
	f.StringVar(&o.format, "format", "auto", "source format: auto (by extension, then content), jsonl or csv")
	f.BoolVar(&o.dryRun, "dry-run", false, "read and validate everything, write nothing, and print what would change")
	f.BoolVar(&o.json, "json", false, "print the run summary as one JSON document on stdout")
	f.IntVar(&o.maxLineBytes, "max-line-bytes", 1<<20, "longest line decoded; longer lines are quarantined with their first 4 KiB")
	f.Float64Var(&o.maxQuarantineRatio, "max-quarantine-ratio", 1, "fail with exit 4 and commit nothing when quarantined/read rows exceed this ratio (0..1)")
	f.IntVar(&o.workers, "workers", 0, "decode workers (default: number of CPUs)")
	f.StringVar(&o.quarantineRedact, "quarantine-redact", "", "redact PII fields in the raw lines kept in quarantine: mask or hash (hash needs $TXLAKE_PII_KEY)")
	addLockTimeoutFlag(f, &o.lockTimeout)
	addMetricsFlag(cmd, &o.metricsFile)
	f.StringVar(&o.job, "job", "", "job name of the run record and of a pull's watermark _state/<job>.json (default: ingest; pg-<table> for a postgres:// source)")
	f.StringVar(&o.pull.Cursor, "cursor", "", "postgres:// source: pull incrementally by this column (e.g. updated_at or a bigint id); the watermark is kept in the lake")
	f.DurationVar(&o.pull.CursorLookback, "cursor-lookback", 0, "postgres:// source: also re-read rows up to this far below the watermark, for rows committed late (time cursors)")
	f.IntVar(&o.pull.BatchRows, "pg-batch-rows", 10000, "postgres:// source: rows per FETCH from the server-side cursor")
	f.DurationVar(&o.pull.StatementTimeout, "pg-statement-timeout", 5*time.Minute, "postgres:// source: server-side statement_timeout of each statement of the pull")
	return cmd
}

func (o *ingestOptions) validate() error {
	if o.schema == "" {
		return errors.New("--schema is required")
	}
	if len(o.sources) == 0 {
		return errors.New("--source is required (a file, glob or file:// URL; repeatable)")
	}
	if o.date != "" {
		if o.from != "" || o.to != "" {
			return errors.New("--date cannot be combined with --from/--to")
		}
		o.from, o.to = o.date, o.date
	}
	switch o.format {
	case "auto", "jsonl", "csv":
	default:
		return fmt.Errorf("--format %q: want auto, jsonl or csv", o.format)
	}
	if o.maxLineBytes < 1024 || o.maxLineBytes > 1<<30 {
		return fmt.Errorf("--max-line-bytes %d: want 1024..1073741824", o.maxLineBytes)
	}
	if o.maxQuarantineRatio < 0 || o.maxQuarantineRatio > 1 {
		return fmt.Errorf("--max-quarantine-ratio %g: want a ratio between 0 and 1", o.maxQuarantineRatio)
	}
	switch o.quarantineRedact {
	case "", "mask", "hash":
	default:
		return fmt.Errorf("--quarantine-redact %q: want mask or hash", o.quarantineRedact)
	}
	if o.workers < 0 {
		return fmt.Errorf("--workers %d: want 0 (auto) or more", o.workers)
	}
	pg := false
	for _, s := range o.sources {
		pg = pg || ingest.IsPostgresURL(s)
	}
	if !pg && (o.pull.Cursor != "" || o.pull.CursorLookback != 0) {
		return errors.New("--cursor and --cursor-lookback apply to a postgres:// source only")
	}
	if o.pull.Cursor != "" && o.from != "" {
		return errors.New("--date/--from/--to cannot be combined with --cursor: rows outside the window would be quarantined and the watermark would then pass them")
	}
	if pg && o.format != "auto" {
		return errors.New("--format does not apply to a postgres:// source")
	}
	if o.pull.BatchRows < 1 || o.pull.BatchRows > 1_000_000 {
		return fmt.Errorf("--pg-batch-rows %d: want 1..1000000", o.pull.BatchRows)
	}
	if o.pull.StatementTimeout < time.Millisecond {
		return fmt.Errorf("--pg-statement-timeout %s: want at least 1ms", o.pull.StatementTimeout)
	}
	if o.pull.CursorLookback < 0 {
		return fmt.Errorf("--cursor-lookback %s: must not be negative", o.pull.CursorLookback)
	}
	return nil
}

// addLockTimeoutFlag defines --lock-timeout, read by lockOptions.
func addLockTimeoutFlag(f *pflag.FlagSet, p *time.Duration) {
	f.DurationVar(p, "lock-timeout", lake.DefaultLockTimeout,
		"how long to wait for a partition another run is committing; then exit 75 (0: do not wait)")
}

// lockOptions are the commit's lease settings: --lock-timeout, and the
// lease TTL from $TXLAKE_LOCK_TTL (default 2m; tests shorten it).
func lockOptions(timeout time.Duration) (lake.LeaseOptions, error) {
	o := lake.LeaseOptions{Timeout: timeout}
	if timeout < 0 {
		return o, usage(fmt.Errorf("--lock-timeout %s: want 0 or more", timeout))
	}
	if timeout == 0 {
		o.Timeout = -1 // do not wait
	}
	if v := os.Getenv("TXLAKE_LOCK_TTL"); v != "" {
		ttl, err := time.ParseDuration(v)
		if err != nil || ttl < 100*time.Millisecond {
			return o, usage(fmt.Errorf("$TXLAKE_LOCK_TTL %q: want a duration of at least 100ms, like 2m", v))
		}
		o.TTL = ttl
	}
	// Tests only: pause the commit while it holds its leases, so a test can
	// kill a process that holds them.
	if v := os.Getenv("TXLAKE_TEST_COMMIT_HOLD"); v != "" {
		hold, err := time.ParseDuration(v)
		if err != nil {
			return o, usage(fmt.Errorf("$TXLAKE_TEST_COMMIT_HOLD %q: want a duration", v))
		}
		o.HoldAfterAcquire = hold
	}
	return o, nil
}

func runIngest(ctx context.Context, o *ingestOptions) error {
	s, err := schemas.Load(o.schema)
	if err != nil {
		return err
	}
	var piiKey []byte
	if k := os.Getenv("TXLAKE_PII_KEY"); k != "" {
		piiKey = []byte(k)
	}
	lock, err := lockOptions(o.lockTimeout)
	if err != nil {
		return err
	}
	job := o.job
	if job == "" && len(o.sources) == 1 && ingest.IsPostgresURL(o.sources[0]) {
		job = "pg-" + s.Table
	}
	st, lakeURL, err := openLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	var prog ingest.Progress
	if !o.json || o.g.streams.ErrTTY {
		prog = newProgress(o.g.streams.Err, o.g.streams.ErrTTY, o.g.logger, "ingest")
	}
	ratio := o.maxQuarantineRatio
	if ratio >= 1 {
		ratio = -1 // 1 means "no limit"
	}
	started := time.Now()
	res, err := ingest.Run(ctx, ingest.Options{
		Schema: s, Sources: o.sources, Format: ingest.Format(o.format), Store: st, LakeURL: lakeURL,
		DryRun: o.dryRun, MaxLineBytes: o.maxLineBytes, MaxQuarantineRatio: ratio, PIIKey: piiKey,
		Workers: o.workers, From: o.from, To: o.to, QuarantineRedact: o.quarantineRedact, Logger: o.g.logger, Progress: prog,
		Lock: lock, Job: job, Pull: o.pull,
	})
	if o.metricsFile != "" && !o.dryRun {
		if merr := writeIngestMetrics(o.metricsFile, res, err, started); merr != nil && err == nil {
			err = merr
		}
	}
	if res != nil {
		if o.json {
			if perr := printJSON(o.g.streams.Out, res); perr != nil && err == nil {
				err = perr
			}
		} else if err == nil || res.Outcome == "threshold_breached" {
			if perr := printIngestSummary(o.g.streams.Out, res); perr != nil && err == nil {
				err = perr
			}
		}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printIngestSummary writes the human summary of an ingest run.
func printIngestSummary(w io.Writer, r *ingest.Result) error {
	var b strings.Builder
	verb := "committed"
	switch r.Outcome {
	case "dry_run":
		verb = "dry run: nothing written"
	case "threshold_breached":
		verb = "threshold breached: nothing committed"
	}
	fmt.Fprintf(&b, "ingest %s: table %s, run %s (%s)\n", verb, r.Table, r.RunID, r.Lake)
	var size int64
	for _, s := range r.Sources {
		size += s.Bytes
	}
	if r.Pull != nil {
		printPullSummary(&b, r)
	} else {
		fmt.Fprintf(&b, "sources     %s files, %s stored, %s decoded\n", humanize.Comma(int64(len(r.Sources))), humanize.IBytes(uint64(size)), humanize.IBytes(uint64(r.BytesRead)))
	}
	check := "reconciled"
	if !r.Reconciled {
		check = "NOT RECONCILED"
	}
	fmt.Fprintf(&b, "rows        read %s = written %s + quarantined %s + duplicate %s  (%s)\n",
		humanize.Comma(r.RowsRead), humanize.Comma(r.RowsWritten), humanize.Comma(r.RowsQuarantined), humanize.Comma(r.RowsDuplicate), check)
	if r.RowsReplaced > 0 {
		fmt.Fprintf(&b, "replaced    %s stored rows by newer versions (update_policy: replace; counted in written)\n", humanize.Comma(r.RowsReplaced))
	}
	if r.EmptyLines > 0 {
		fmt.Fprintf(&b, "empty lines %s (skipped, not rows)\n", humanize.Comma(r.EmptyLines))
	}
	if len(r.RuleHits) > 0 {
		hits := make([]string, len(r.RuleHits))
		for i, h := range r.RuleHits {
			hits[i] = h.Rule + " " + humanize.Comma(h.Rows)
			if h.Skipped {
				hits[i] = h.Rule + " not evaluated (dry run)"
			}
		}
		fmt.Fprintf(&b, "rows tagged %s\n", strings.Join(hits, ", "))
	}
	if r.Contribution.Replaced {
		fmt.Fprintf(&b, "contribution %s replaced its earlier ingest\n", r.Contribution.ID)
	}
	if len(r.Partitions) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "partition\taction\twritten\tduplicate\tfiles\tbytes\trows in partition\t")
		for _, p := range r.Partitions {
			total := humanize.Comma(p.RowsTotal)
			if r.DryRun {
				total = "-"
			}
			fmt.Fprintf(tw, "dt=%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", p.Date, p.Action, humanize.Comma(p.RowsWritten), humanize.Comma(p.RowsDuplicate), p.Files, humanize.IBytes(uint64(p.Bytes)), total)
		}
		tw.Flush()
	}
	if len(r.QuarantineReasons) > 0 {
		b.WriteString("\nquarantined rows by reason")
		if r.QuarantineFile != "" {
			fmt.Fprintf(&b, " (kept in %s)", r.QuarantineFile)
		}
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for i, q := range r.QuarantineReasons {
			if i == 10 {
				fmt.Fprintf(tw, "  … %d more reasons\t\t\n", len(r.QuarantineReasons)-10)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\tfirst at %s\n", humanize.Comma(q.Rows), q.Example, q.FirstAt)
		}
		tw.Flush()
	}
	if len(r.UnknownFields) > 0 {
		var names []string
		for k, n := range r.UnknownFields {
			names = append(names, fmt.Sprintf("%s (%s)", k, humanize.Comma(n)))
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\nfields not in the schema (not stored): %s\n", strings.Join(names, ", "))
	}
	d := time.Duration(r.DurationMS) * time.Millisecond
	if d > 0 {
		sec := d.Seconds()
		fmt.Fprintf(&b, "\ntook %s: %s/s, %s rows/s\n", d.Round(time.Millisecond), humanize.IBytes(uint64(float64(r.BytesRead)/sec)), humanize.Comma(int64(float64(r.RowsRead)/sec)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printPullSummary writes the source line of a PostgreSQL pull.
func printPullSummary(b *strings.Builder, r *ingest.Result) {
	p := r.Pull
	src := ""
	if len(r.Sources) > 0 {
		src = r.Sources[0].URL
	}
	fmt.Fprintf(b, "source      %s (%s fetches of up to %s rows, %s as JSON)\n", src, humanize.Comma(p.Fetches), humanize.Comma(int64(p.BatchRows)), humanize.IBytes(uint64(r.BytesRead)))
	if p.Cursor == "" {
		b.WriteString("pull        full (no --cursor): replaces the previous full pull\n")
		return
	}
	before := p.WatermarkBefore
	if before == "" {
		before = "(first pull)"
	}
	fmt.Fprintf(b, "watermark   %s: %s -> %s", p.Cursor, before, p.WatermarkAfter)
	if p.LookbackSeconds > 0 {
		fmt.Fprintf(b, " (lookback %s)", time.Duration(p.LookbackSeconds)*time.Second)
	}
	b.WriteString("\n")
}
