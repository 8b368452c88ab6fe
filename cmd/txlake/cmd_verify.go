package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/verify"
)

type verifyOptions struct {
	g           *globalOptions
	lake        string
	table       string
	from, to    string
	json        bool
	repair      bool
	orphanGrace time.Duration
	workers     int
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := &verifyOptions{g: g}
	cmd := &cobra.Command{
		Use:   "verify [--lake URL] [--table T] [--from D --to D] [--json] [--repair]",
		Short: "Check every partition's manifest against the stored files",
		Long: `Verify checks each partition of the lake: every file its manifest lists must
exist with the recorded byte size, SHA-256 and Parquet footer row count, and
every data file in the partition directory must be listed by the manifest.
It reports per partition and exits 1 when it finds any problem.

Unlisted files younger than --orphan-grace are reported as pending, not as
orphans: a run that is still writing has such files until it commits.
--repair deletes orphans (unlisted files older than the grace period), never
a file a manifest lists. Files in GLACIER or DEEP_ARCHIVE are checked for
existence and size only (restore them first to check their content).

` + exitCodesHelp,
		Example: `  txlake verify
  txlake verify --table transactions --from 2026-01-01 --to 2026-01-31 --json
  txlake verify --table transactions --repair`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runVerify(cmd.Context(), o)
		},
	}
	addLakeFlag(cmd, &o.lake)
	f := cmd.Flags()
	f.StringVar(&o.table, "table", "", "verify only this table (default every table)")
	f.StringVar(&o.from, "from", "", "first partition date to verify (YYYY-MM-DD)")
	f.StringVar(&o.to, "to", "", "last partition date to verify (YYYY-MM-DD)")
	f.BoolVar(&o.json, "json", false, "print the report as one JSON document on stdout")
	f.BoolVar(&o.repair, "repair", false, "delete orphan files (never files a manifest lists)")
	f.DurationVar(&o.orphanGrace, "orphan-grace", verify.DefaultOrphanGrace, "unlisted files younger than this are a run in flight, not orphans")
	f.IntVar(&o.workers, "workers", 4, "files checked at once")
	return cmd
}

func (o *verifyOptions) validate() error {
	if o.workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", o.workers)
	}
	if o.orphanGrace < 0 {
		return fmt.Errorf("--orphan-grace %s: want a duration >= 0", o.orphanGrace)
	}
	return nil
}

func runVerify(ctx context.Context, o *verifyOptions) error {
	st, lakeURL, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	grace := o.orphanGrace
	if grace == 0 {
		grace = -1 // the flag's 0 means "no grace"
	}
	res, err := verify.Run(ctx, verify.Options{Store: st, LakeURL: lakeURL, Table: o.table, From: o.from, To: o.to,
		Repair: o.repair, OrphanGrace: grace, Workers: o.workers, Logger: o.g.logger})
	if err != nil {
		return err
	}
	if err := printReport(o.g.streams.Out, o.json, res, func(w io.Writer) error { return printVerifyReport(w, res) }, nil); err != nil {
		return err
	}
	if !res.OK {
		bad := 0
		for _, p := range res.Partitions {
			if p.Status != "ok" {
				bad++
			}
		}
		return fmt.Errorf("verify found %d problem(s) in %d partition(s) of %s; see the report (orphans: txlake verify --repair)", res.Problems, bad, res.Lake)
	}
	return nil
}

// printVerifyReport writes the human report: one line per partition, then
// the problems.
func printVerifyReport(w io.Writer, r *verify.Result) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\tpartition\tgeneration\tfiles\trows\tbytes\tstatus\t")
	for _, p := range r.Partitions {
		status := p.Status
		if len(p.Problems) > 0 {
			status = fmt.Sprintf("%d problem(s)", len(p.Problems))
		}
		if p.Archived > 0 {
			status += fmt.Sprintf(", %d archived file(s) not read", p.Archived)
		}
		if len(p.Pending) > 0 {
			status += fmt.Sprintf(", %d pending file(s)", len(p.Pending))
		}
		fmt.Fprintf(tw, "%s\tdt=%s\t%d\t%d\t%s\t%s\t%s\t\n", p.Table, p.Date, p.Generation, p.Files, humanize.Comma(p.Rows), humanize.IBytes(uint64(p.Bytes)), status)
	}
	tw.Flush()
	for _, p := range r.Partitions {
		for _, pr := range p.Problems {
			file := ""
			if pr.File != "" {
				file = pr.File + ": "
			}
			fmt.Fprintf(&b, "%s dt=%s  %s  %s%s\n", p.Table, p.Date, pr.Kind, file, pr.Detail)
		}
	}
	for _, k := range r.Repaired {
		fmt.Fprintf(&b, "repaired: deleted orphan %s\n", k)
	}
	verdict := "ok"
	if !r.OK {
		verdict = fmt.Sprintf("%d problem(s)", r.Problems)
	}
	fmt.Fprintf(&b, "\nverified %d partition(s), %s file(s), %s read: %s\n", len(r.Partitions), humanize.Comma(r.Files), humanize.IBytes(uint64(r.Bytes)), verdict)
	_, err := io.WriteString(w, b.String())
	return err
}
