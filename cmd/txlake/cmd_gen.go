package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/gen"
)

// genOptions are the flags of `txlake gen`.
type genOptions struct {
	g *globalOptions

	out        string
	days       int
	rowsPerDay int
	start      string
	seed       int64
	format     string
	compress   string
	faultRate  float64
	fraudRate  float64
	drift      string
	json       bool

	opts gen.Options // built by validate
}

func newGenCmd(g *globalOptions) *cobra.Command {
	return genCommand(g, runGen)
}

// genCommand builds the command with run as its action, so tests can check
// flags→options without generating anything.
func genCommand(g *globalOptions, run func(context.Context, *genOptions) error) *cobra.Command {
	o := &genOptions{g: g}
	cmd := &cobra.Command{
		Use:   "gen --out DIR [flags]",
		Short: "Write deterministic synthetic transaction logs",
		Long: `Write synthetic transaction logs that match schemas/transactions.yaml, one file
per UTC day: DIR/transactions-YYYY-MM-DD.jsonl or .csv, plus .gz or .zst when
compressed. The same flags always give byte-identical files.

About --fault-rate of the rows carry a deliberate fault, spread over the kinds
malformed, wrong_type, missing_field, bad_value, invalid_utf8, duplicate, late
and empty_line. --drift changes the data from a given day on, for example
  --drift from=2026-01-20,amount_scale=1.8,country=BR:0.4,new_currency=CHF,null_rate=email:0.3
Keys: from (required), amount_scale, country=CC:share, new_currency=CODE,
null_rate=field:rate (email, country, channel, card_number, merchant_category).

--fraud-rate R (0..0.5, default 0 = off) makes about R of the rows part of an
injected fraud pattern, split roughly evenly between bursts (one customer buys
10-15 times within 40 minutes), new-country purchases (a country the customer
has not used in the previous 30 days) and outlier amounts (40-100 times the
customer's typical amount). Fraud rows are valid and never carry a fault. The
ground truth goes to DIR/labels-YYYY-MM-DD.jsonl (plain JSON lines), one line
per labelled row:
  {"transaction_id":"tx_...","label":"velocity","customer_id":"c_...",
   "created_at":"2026-01-02T10:11:12.345Z","burst_id":"b_20260102_3","burst_seq":10}
Labels: velocity (burst rows 10 on), burst (burst rows 1-9), novelty, outlier;
burst_id and burst_seq only on burst rows. With fraud on, customers are drawn
uniformly and ordinary rows stay in the customer's home country, so that the
labels are the whole truth; with --fraud-rate 0 the output does not change.

With --json, stdout is one JSON document:
  {"files":[{"path":...,"rows":...,"bytes":...}],"rows":...,
   "faults":{"malformed":...,...},"late":...,"duplicates":...,
   "fraud":{"velocity":...,"burst":...,"novelty":...,"outlier":...},
   "label_files":[{"path":...,"rows":...,"bytes":...}]}
("fraud" and "label_files" only with --fraud-rate > 0.)
`,
		Example: `  txlake gen --out ./logs --days 30 --rows-per-day 50000 --compress zstd
  txlake gen --out ./logs --format csv --drift from=2026-01-05,amount_scale=2 --json
  txlake gen --out ./logs --days 30 --fraud-rate 0.02`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory to write the files into (created if missing)")
	f.IntVar(&o.days, "days", 7, "number of days, one file each")
	f.IntVar(&o.rowsPerDay, "rows-per-day", 10000, "rows per file")
	f.StringVar(&o.start, "start", "2026-01-01", "first day (YYYY-MM-DD, UTC)")
	f.Int64Var(&o.seed, "seed", 1, "random seed; the same seed gives the same bytes")
	f.StringVar(&o.format, "format", gen.FormatJSONL, "file format: jsonl or csv")
	f.StringVar(&o.compress, "compress", gen.CompressNone, "compression: none, gzip or zstd")
	f.Float64Var(&o.faultRate, "fault-rate", gen.DefaultFaultRate, "share of rows with a deliberate fault, 0..1 (0 disables)")
	f.Float64Var(&o.fraudRate, "fraud-rate", 0, "share of rows in injected fraud patterns, 0..0.5 (0 disables); labels go to DIR/labels-*.jsonl")
	f.StringVar(&o.drift, "drift", "", "drift spec, e.g. from=2026-01-20,amount_scale=1.8")
	f.BoolVar(&o.json, "json", false, "print the summary as one JSON document on stdout")
	return cmd
}

// validate checks the flags and builds o.opts.
func (o *genOptions) validate() error {
	if o.out == "" {
		return errors.New("gen: --out is required")
	}
	start, err := time.Parse(time.DateOnly, o.start)
	if err != nil {
		return fmt.Errorf("gen: --start %q: want YYYY-MM-DD", o.start)
	}
	o.opts = gen.Options{
		OutDir:      o.out,
		Start:       start,
		Days:        o.days,
		RowsPerDay:  o.rowsPerDay,
		Seed:        o.seed,
		Format:      o.format,
		Compression: o.compress,
		FaultRate:   o.faultRate,
		FraudRate:   o.fraudRate,
	}
	if o.drift != "" {
		d, err := gen.ParseDrift(o.drift)
		if err != nil {
			return fmt.Errorf("gen: --%w", err)
		}
		o.opts.Drift = &d
	}
	if err := o.opts.Validate(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

func runGen(ctx context.Context, o *genOptions) error {
	began := time.Now()
	s, err := gen.Generate(ctx, o.opts)
	if errors.Is(err, gen.ErrInvalidOptions) {
		return usage(fmt.Errorf("gen: %w", err))
	}
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	took := time.Since(began)
	if o.g.logger != nil {
		o.g.logger.Debug("gen done", "files", len(s.Files), "rows", s.Rows, "took", took)
	}
	if o.json {
		enc := json.NewEncoder(o.g.streams.Out)
		return enc.Encode(s)
	}
	return writeGenSummary(o, s, took)
}

// writeGenSummary prints the human summary of a gen run.
func writeGenSummary(o *genOptions, s gen.Summary, took time.Duration) error {
	var bytes int64
	for _, f := range s.Files {
		bytes += f.Bytes
	}
	files := fmt.Sprintf("%d in %s", len(s.Files), o.opts.OutDir)
	if n := len(s.Files); n > 0 {
		files += " (" + filepath.Base(s.Files[0].Path)
		if n > 1 {
			files += " … " + filepath.Base(s.Files[n-1].Path)
		}
		files += ")"
	}
	var total int64
	var kinds []string
	for _, k := range gen.FaultKinds() {
		total += s.Faults[k]
		if s.Faults[k] > 0 {
			kinds = append(kinds, k+" "+genThousands(s.Faults[k]))
		}
	}
	faults := genThousands(total)
	if len(kinds) > 0 {
		faults += " (" + strings.Join(kinds, ", ") + ")"
	}
	tw := tabwriter.NewWriter(o.g.streams.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "files\t%s\n", files)
	fmt.Fprintf(tw, "rows\t%s\n", genThousands(s.Rows))
	fmt.Fprintf(tw, "bytes\t%s (%s)\n", genThousands(bytes), genByteSize(bytes))
	fmt.Fprintf(tw, "faults\t%s\n", faults)
	if s.Fraud != nil {
		var total int64
		var kinds []string
		for _, k := range gen.FraudLabels() {
			total += s.Fraud[k]
			kinds = append(kinds, k+" "+genThousands(s.Fraud[k]))
		}
		fmt.Fprintf(tw, "fraud\t%s (%s) in %d labels files\n", genThousands(total), strings.Join(kinds, ", "), len(s.LabelFiles))
	}
	fmt.Fprintf(tw, "took\t%s\n", took.Round(time.Millisecond))
	return tw.Flush()
}

// genThousands formats n with comma thousands separators: 1,234,567.
func genThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// genByteSize formats a byte count in binary units: 12.3 MiB.
func genByteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
