package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/drift"
)

type driftOptions struct {
	g           *globalOptions
	lake        string
	table       string
	reference   string
	current     string
	format      string
	out         string
	failOnDrift bool
	configFile  string
	asOf        string
	fdr         float64
	cache       cacheFlags
	webhooks    []string // --webhook URLs, validated by validate
	// --segment-by, --min-segment-rows and --trend-days (jobs/drift segment.go, trend.go).
	segmentBy      string
	minSegmentRows int64
	trendDays      int
	// now is the clock for --as-of's default and the report's timestamp.
	now func() time.Time
	// onReport, if set, sees the report once it is computed (drift jobs
	// record whether drift was detected).
	onReport func(*drift.Report)
}

func newDriftCmd(g *globalOptions) *cobra.Command {
	o := &driftOptions{g: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "drift --table T --reference RANGE --current RANGE",
		Short: "Compare a current range of partitions with a reference range, column by column",
		Long: `Drift compares the current range of a table's partitions with a reference
range inside DuckDB, over exactly the files the partition manifests list, and
reports per column a test or distance with its verdict, null rates, min, max
and p1/p50/p99, new and vanished categories, schema changes, and rows per day
against the reference's daily mean ± 3σ.

A RANGE is D, D..D (inclusive), today, yesterday, "last N days" (the N days
before --as-of, excluding it) or "last N days before D". Dates are UTC.

Default method per column (override per column with --config):
  numeric      KS p < 0.05 when the reference has ≤ 1000 non-null values,
               else Wasserstein-1 / reference std ≥ 0.1
  categorical  chi-square p < 0.05 (small), else Jensen–Shannon distance ≥ 0.1
  binary       two-proportion z-test p < 0.05 (small), else Jensen–Shannon ≥ 0.1
Identifiers (the schema key, id:* tags), the event time and other time fields
are not compared. PII-tagged columns are compared but their values never
appear in the report. The dataset drifts when the share of drifted columns
reaches drift_share (0.5), or on schema or volume drift.

The report format is documented in docs/drift-report.md.

` + exitCodesHelp,
		Example: `  txlake drift --table transactions --reference 2026-01-01..2026-01-28 --current 2026-01-29
  txlake drift --table transactions --reference "last 28 days before yesterday" --current yesterday --fail-on-drift
  txlake drift --table transactions --reference "last 7 days" --current today --format html --out drift.html
  txlake drift --table transactions --reference 2026-01-01..2026-01-04 --current 2026-01-07 --config drift.yaml --fdr 0.05 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runDrift(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addLakeFlag(cmd, &o.lake)
	o.cache.register(cmd)
	f.StringVar(&o.table, "table", "", "table to compare (required)")
	f.StringVar(&o.reference, "reference", "", "reference RANGE (required)")
	f.StringVar(&o.current, "current", "", "current RANGE (required)")
	f.StringVar(&o.format, "format", drift.FormatText, "report format: "+strings.Join(drift.Formats, ", "))
	f.StringVar(&o.out, "out", "", "write the report to FILE instead of stdout")
	f.BoolVar(&o.failOnDrift, "fail-on-drift", false, "exit 3 when drift is detected")
	f.StringVar(&o.configFile, "config", "", "YAML file with drift_share and per-column method, threshold and skip overrides")
	f.StringVar(&o.asOf, "as-of", "", "the date relative ranges count from, YYYY-MM-DD (default today, UTC)")
	f.Float64Var(&o.fdr, "fdr", 0, "apply Benjamini–Hochberg at this false discovery rate across the report's p-values, in (0, 1)")
	f.StringArrayVar(&o.webhooks, "webhook", nil, "after writing the report, POST it as JSON to URL, signed with $TXLAKE_WEBHOOK_SECRET (repeatable; see docs/drift-report.md)")
	f.StringVar(&o.segmentBy, "segment-by", "", "also compare the columns per value of this string or bool column (not PII), ranked by how much each segment moved")
	f.Int64Var(&o.minSegmentRows, "min-segment-rows", drift.DefaultMinSegmentRows, "with --segment-by, compare only values with at least this many rows in the reference and in the current range")
	f.IntVar(&o.trendDays, "trend-days", 0, "check the current range's last day against a linear trend with day of week fitted over the N days ending on it (N >= 14)")
	return cmd
}

func (o *driftOptions) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--table", o.table}, {"--reference", o.reference}, {"--current", o.current}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s; e.g. txlake drift --table transactions --reference 2026-01-01..2026-01-28 --current 2026-01-29", strings.Join(missing, ", "))
	}
	if !slices.Contains(drift.Formats, o.format) {
		return fmt.Errorf("--format %q: want %s", o.format, strings.Join(drift.Formats, ", "))
	}
	if o.fdr != 0 && !(o.fdr > 0 && o.fdr < 1) || math.IsNaN(o.fdr) {
		return fmt.Errorf("--fdr %v: want a false discovery rate in (0, 1), e.g. 0.05", o.fdr)
	}
	if o.asOf != "" {
		if _, err := time.Parse(time.DateOnly, o.asOf); err != nil {
			return fmt.Errorf("--as-of %q: want YYYY-MM-DD", o.asOf)
		}
	}
	if o.trendDays != 0 && o.trendDays < drift.MinTrendDays {
		return fmt.Errorf("--trend-days %d: want at least %d days (the fit has 8 parameters: intercept, day index and six day-of-week terms)", o.trendDays, drift.MinTrendDays)
	}
	if o.minSegmentRows < 1 {
		return fmt.Errorf("--min-segment-rows %d: want at least 1", o.minSegmentRows)
	}
	for _, u := range o.webhooks {
		if _, err := drift.ValidateWebhookURL(u); err != nil {
			return err
		}
	}
	return nil
}

// asOfTime returns the instant relative ranges are resolved against.
func (o *driftOptions) asOfTime() time.Time {
	if o.asOf != "" {
		t, _ := time.Parse(time.DateOnly, o.asOf) // checked by validate
		return t
	}
	return o.now().UTC()
}

func runDrift(ctx context.Context, o *driftOptions) error {
	asOf := o.asOfTime()
	ref, err := drift.ParseRange(o.reference, asOf)
	if err != nil {
		return fmt.Errorf("--reference: %w", err)
	}
	cur, err := drift.ParseRange(o.current, asOf)
	if err != nil {
		return fmt.Errorf("--current: %w", err)
	}
	cfg := drift.DefaultConfig()
	if o.configFile != "" {
		if cfg, err = drift.LoadConfig(o.configFile); err != nil {
			return err
		}
	}
	st, _, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	o.g.logger.Debug("drift", "table", o.table, "reference", ref.String(), "current", cur.String())
	rep, err := drift.Run(ctx, drift.Options{
		Store: st, Table: o.table, Reference: ref, Current: cur, Config: cfg,
		Resolver: o.cache.resolver(st, o.g.logger), AsOf: asOf, FDR: o.fdr, Now: o.now,
		SegmentBy: o.segmentBy, MinSegmentRows: o.minSegmentRows, TrendDays: o.trendDays,
	})
	if err != nil {
		return err
	}
	if o.onReport != nil {
		o.onReport(rep)
	}
	var buf bytes.Buffer
	if err := drift.Write(&buf, rep, o.format); err != nil {
		return err
	}
	if o.out == "" {
		if _, err := o.g.streams.Out.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := writeFileAtomic(o.out, buf.Bytes()); err != nil {
			return err
		}
		o.g.logger.Info("drift report written", "file", o.out, "format", o.format, "drift_detected", rep.DriftDetected,
			"drifted_columns", rep.DriftedColumns, "compared_columns", rep.ComparedColumns)
	}
	// Webhooks fire after the report is written, drift or not; a failure
	// exits 75 (temporary) or 1, unless --fail-on-drift's exit 3 applies.
	if err := drift.SendWebhooks(ctx, rep, drift.WebhookOptions{URLs: o.webhooks, Secret: []byte(os.Getenv(drift.WebhookSecretEnv)),
		Logger: o.g.logger, UserAgent: "txlake/" + version}); err != nil {
		if !o.failOnDrift || !rep.DriftDetected {
			return err
		}
		o.g.logger.Error("webhook failed; exiting 3 for the detected drift", "error", err.Error())
	}
	if o.failOnDrift && rep.DriftDetected {
		return &driftError{err: fmt.Errorf("drift detected in table %s (%s): %d of %d columns drifted, current %s against reference %s",
			rep.Table, strings.Join(rep.Reasons, ", "), rep.DriftedColumns, rep.ComparedColumns, cur, ref)}
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so readers never see a half-written file (reports, metrics).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
