package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/archive"
)

type restoreOptions struct {
	g           *globalOptions
	lake        string
	table       string
	from, to    string
	days        int
	tier        string
	dryRun      bool
	json        bool
	lockTimeout time.Duration
}

func newRestoreCmd(g *globalOptions) *cobra.Command {
	o := &restoreOptions{g: g}
	cmd := &cobra.Command{
		Use:   "restore --table T --from D --to D [--days N] [--tier Standard|Bulk|Expedited]",
		Short: "Bring archived (GLACIER, DEEP_ARCHIVE) partitions back online for reading",
		Long: `Restore sends an S3 RestoreObject request for every file of the table's
partitions in [--from, --to] whose storage class needs one (GLACIER,
DEEP_ARCHIVE). S3 then makes a temporary readable copy, which takes minutes to
hours depending on --tier, and keeps it for --days. Run restore again to see
the progress: files already being restored are not requested twice. Files in
classes that are readable in place (STANDARD_IA, GLACIER_IR, ...) need nothing.
It exits 0 once the requests are accepted; the report says whether the range
is readable yet (--json: "ready").

` + exitCodesHelp,
		Example: `  txlake restore --table transactions --from 2025-01-01 --to 2025-01-31
  txlake restore --table transactions --from 2025-01-01 --to 2025-01-31 --tier Bulk --days 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runRestore(cmd.Context(), o)
		},
	}
	addLakeFlag(cmd, &o.lake)
	f := cmd.Flags()
	addLockTimeoutFlag(f, &o.lockTimeout)
	f.StringVar(&o.table, "table", "", "the table (required)")
	f.StringVar(&o.from, "from", "", "first partition date (YYYY-MM-DD, required)")
	f.StringVar(&o.to, "to", "", "last partition date (YYYY-MM-DD, required)")
	f.IntVar(&o.days, "days", 7, "days the restored copies stay readable")
	f.StringVar(&o.tier, "tier", "Standard", "retrieval tier: Standard, Bulk or Expedited")
	f.BoolVar(&o.dryRun, "dry-run", false, "report the state, send no request")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON document on stdout")
	return cmd
}

func (o *restoreOptions) validate() error {
	if o.table == "" || o.from == "" || o.to == "" {
		return errors.New("--table, --from and --to are required")
	}
	if o.days < 1 {
		return fmt.Errorf("--days %d: want at least 1", o.days)
	}
	return nil
}

func runRestore(ctx context.Context, o *restoreOptions) error {
	st, lakeURL, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	lo, err := lockOptions(o.lockTimeout)
	if err != nil {
		return err
	}
	res, err := archive.Restore(ctx, archive.RestoreOptions{Store: st, LakeURL: lakeURL, Table: o.table, From: o.from, To: o.to,
		Days: o.days, Tier: o.tier, DryRun: o.dryRun, Logger: o.g.logger, Lock: archive.LeaseLock(st, lo)})
	if res == nil {
		return err
	}
	return printReport(o.g.streams.Out, o.json, res, func(w io.Writer) error { return printRestoreReport(w, res) }, err)
}

func printRestoreReport(w io.Writer, r *archive.RestoreResult) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "partition\tarchived files\trequested now\tin progress\trestored\t")
	for _, p := range r.Partitions {
		fmt.Fprintf(tw, "dt=%s\t%d\t%d\t%d\t%d\t\n", p.Date, p.Archived, p.Requested, p.InProgress, p.Restored)
	}
	tw.Flush()
	if r.Ready {
		b.WriteString("\nevery archived file of the range is readable\n")
	} else {
		b.WriteString("\nrestores are under way; run txlake restore again later to check (S3: minutes with Expedited, hours with Standard or Bulk)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
