package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/archive"
)

type archiveOptions struct {
	g            *globalOptions
	lake         string
	table        string
	olderThan    string
	compact      bool
	targetSize   string
	storageClass string
	deleteAfter  string
	yes          bool
	dryRun       bool
	json         bool
	lockTimeout  time.Duration

	opts archive.Options // filled by validate
}

func newArchiveCmd(g *globalOptions) *cobra.Command {
	o := &archiveOptions{g: g}
	cmd := &cobra.Command{
		Use:   "archive --table T --older-than AGE [--compact] [--storage-class CLASS] [--delete-after AGE] [flags]",
		Short: "Compact, re-class or delete a table's old partitions",
		Long: `Archive works on the partitions of a table that are older than --older-than
(a partition dt=D is older than AGE when its whole day lies AGE or more in
the past; AGE is like 30d, 12w or 720h):

  --compact            rewrite the partition's small files into files of about
                       --target-file-size; the rows are checked identical (count
                       and an order-independent hash) before the manifest swaps,
                       and the old files are deleted only after it
  --storage-class C    move the files to an S3 storage class (STANDARD_IA,
                       GLACIER_IR, GLACIER, DEEP_ARCHIVE, ...) and record it in
                       the manifest; GLACIER and DEEP_ARCHIVE need txlake restore
                       before they can be read
  --delete-after AGE   retention: delete the partitions older than AGE. Without
                       --yes they are only listed

--dry-run changes nothing and reports what would be done.

` + exitCodesHelp,
		Example: `  txlake archive --table transactions --older-than 30d --compact
  txlake archive --table transactions --older-than 90d --storage-class GLACIER_IR --json
  txlake archive --table transactions --older-than 90d --delete-after 400d          # lists
  txlake archive --table transactions --older-than 90d --delete-after 400d --yes    # deletes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runArchive(cmd.Context(), o)
		},
	}
	addLakeFlag(cmd, &o.lake)
	f := cmd.Flags()
	addLockTimeoutFlag(f, &o.lockTimeout)
	f.StringVar(&o.table, "table", "", "the table to archive (required)")
	f.StringVar(&o.olderThan, "older-than", "", "archive partitions older than this age, e.g. 30d, 12w, 720h (required)")
	f.BoolVar(&o.compact, "compact", false, "rewrite small files into files of --target-file-size")
	f.StringVar(&o.targetSize, "target-file-size", "128MiB", "size compacted files aim for")
	f.StringVar(&o.storageClass, "storage-class", "", "move the files to this S3 storage class")
	f.StringVar(&o.deleteAfter, "delete-after", "", "retention: delete partitions older than this age (lists them unless --yes)")
	f.BoolVar(&o.yes, "yes", false, "really delete the partitions past --delete-after")
	f.BoolVar(&o.dryRun, "dry-run", false, "report what would be done, change nothing")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON document on stdout")
	return cmd
}

func (o *archiveOptions) validate() error {
	if o.table == "" {
		return errors.New("--table is required")
	}
	if o.olderThan == "" {
		return errors.New("--older-than is required, e.g. --older-than 30d")
	}
	var err error
	if o.opts.OlderThan, err = archive.ParseAge(o.olderThan); err != nil {
		return fmt.Errorf("--older-than: %w", err)
	}
	if o.opts.TargetFileSize, err = archive.ParseSize(o.targetSize); err != nil {
		return fmt.Errorf("--target-file-size: %w", err)
	}
	if o.deleteAfter != "" {
		if o.opts.DeleteAfter, err = archive.ParseAge(o.deleteAfter); err != nil {
			return fmt.Errorf("--delete-after: %w", err)
		}
	}
	if o.yes && o.deleteAfter == "" {
		return errors.New("--yes confirms --delete-after; give both")
	}
	if !o.compact && o.storageClass == "" && o.deleteAfter == "" {
		return errors.New("nothing to do: give --compact, --storage-class or --delete-after")
	}
	o.opts.Table, o.opts.Compact, o.opts.StorageClass, o.opts.Yes, o.opts.DryRun = o.table, o.compact, o.storageClass, o.yes, o.dryRun
	return nil
}

func runArchive(ctx context.Context, o *archiveOptions) error {
	st, lakeURL, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := o.opts
	opts.Store, opts.LakeURL, opts.Logger = st, lakeURL, o.g.logger
	lo, err := lockOptions(o.lockTimeout)
	if err != nil {
		return err
	}
	opts.Lock = archive.LeaseLock(st, lo)
	res, err := archive.Run(ctx, opts)
	if res == nil {
		return err
	}
	return printReport(o.g.streams.Out, o.json, res, func(w io.Writer) error { return printArchiveReport(w, res) }, err)
}

// printReport prints a command's result as JSON or as text, and returns
// runErr, or the print error when runErr is nil.
func printReport(w io.Writer, asJSON bool, res any, text func(io.Writer) error, runErr error) error {
	var err error
	if asJSON {
		err = printJSON(w, res)
	} else {
		err = text(w)
	}
	if runErr != nil {
		return runErr
	}
	return err
}

// printArchiveReport writes the human report of an archive run.
func printArchiveReport(w io.Writer, r *archive.Result) error {
	var b strings.Builder
	head := "archive"
	if r.DryRun {
		head = "archive (dry run: nothing changed)"
	}
	fmt.Fprintf(&b, "%s: table %s, partitions before %s, run %s (%s)\n", head, r.Table, r.Cutoff, r.RunID, r.Lake)
	if len(r.Partitions) == 0 {
		b.WriteString("no partition is old enough\n")
	} else {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "partition\tgeneration\tcompaction\tstorage class\tretention\tnote\t")
		for _, p := range r.Partitions {
			comp, class := "-", "-"
			if c := p.Compaction; c != nil && c.Merged > 0 {
				comp = fmt.Sprintf("%d → %d files, %s → %s", c.FilesBefore, c.FilesAfter, humanize.IBytes(uint64(c.BytesBefore)), humanize.IBytes(uint64(c.BytesAfter)))
				if r.DryRun {
					comp = fmt.Sprintf("%d → ~%d files", c.FilesBefore, c.FilesAfter)
				}
			}
			if p.ClassFiles > 0 {
				class = fmt.Sprintf("%d files → %s", p.ClassFiles, r.StorageClass)
			}
			ret := p.Retention
			if ret == "" {
				ret = "-"
			}
			fmt.Fprintf(tw, "dt=%s\t%d\t%s\t%s\t%s\t%s\t\n", p.Date, p.Generation, comp, class, strings.ReplaceAll(ret, "_", " "), p.Note)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\ncompacted %d, re-classed %d, deleted %d partition(s)\n", r.Compacted, r.Reclassed, r.Deleted)
	if r.PendingDeletes > 0 {
		fmt.Fprintf(&b, "%d partition(s) are past retention (before %s) and were NOT deleted; add --yes to delete them\n", r.PendingDeletes, r.DeleteCutoff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
