package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Formats and compressions accepted by Options.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"

	CompressNone = "none"
	CompressGzip = "gzip"
	CompressZstd = "zstd"
)

// DefaultFaultRate is the fault rate the CLI uses when --fault-rate is not
// given.
const DefaultFaultRate = 0.01

// Limits checked by Options.Validate.
const (
	MaxRowsPerDay = 1 << 30
	MaxDays       = 100_000
	MaxCustomers  = 10_000_000
)

// ErrInvalidOptions is wrapped by every error that Generate and
// Options.Validate return for options that can never work (as opposed to
// I/O failures).
var ErrInvalidOptions = errors.New("invalid options")

// Options say what Generate writes.
type Options struct {
	OutDir      string    // created if missing; must not be an existing non-directory
	Start       time.Time // first day; only its UTC date counts
	Days        int       // number of days (files), >= 1
	RowsPerDay  int       // data lines per file, >= 1
	Seed        int64     // same options and seed give byte-identical files
	Format      string    // FormatJSONL (default when empty) or FormatCSV
	Compression string    // CompressNone (default when empty), CompressGzip or CompressZstd
	// FaultRate is the share of row slots carrying a fault, in [0,1]; 0
	// disables faults (the CLI's default is DefaultFaultRate).
	FaultRate float64
	// FraudRate is the share of rows, in [0,MaxFraudRate], that belong to an
	// injected fraud pattern (see LabelVelocity); 0 disables fraud and the
	// labels files. Each day's labels go to OutDir/LabelsFileName(day).
	FraudRate float64
	Drift     *Drift // nil for no drift
	// Customers is the size of the customer population; 0 means
	// max(2000, RowsPerDay/5), at most MaxCustomers.
	Customers int
	// Parallelism bounds how many days are generated at once; 0 means
	// GOMAXPROCS. It never changes the output.
	Parallelism int
}

// Summary says what Generate wrote. Its JSON form is the output of
// `txlake gen --json`.
type Summary struct {
	Files []File `json:"files"` // in day order
	Rows  int64  `json:"rows"`  // data lines, without CSV headers and empty lines
	// Faults counts deliberate faults by kind; every kind of FaultKinds is
	// present. Duplicates and late rows are rows too; empty lines are not.
	Faults     map[string]int64 `json:"faults"`
	Late       int64            `json:"late"`       // = Faults["late"]
	Duplicates int64            `json:"duplicates"` // = Faults["duplicate"]
	// Fraud counts labelled rows by label (every label of FraudLabels is
	// present) and LabelFiles lists the labels files, in day order; both
	// are empty when FraudRate is 0.
	Fraud      map[string]int64 `json:"fraud,omitempty"`
	LabelFiles []File           `json:"label_files,omitempty"`
}

// File is one written file.
type File struct {
	Path  string `json:"path"`  // OutDir joined with the file name
	Rows  int64  `json:"rows"`  // data lines
	Bytes int64  `json:"bytes"` // size on disk (compressed if compressed)
}

// withDefaults fills the defaults documented on Options.
func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatJSONL
	}
	if o.Compression == "" {
		o.Compression = CompressNone
	}
	if o.Customers == 0 {
		o.Customers = min(MaxCustomers, max(2000, o.RowsPerDay/5))
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	o.Start = utcDay(o.Start)
	if o.Drift != nil {
		d := *o.Drift
		d.From = utcDay(d.From)
		o.Drift = &d
	}
	return o
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var (
	minStart = time.Date(1970, 1, 8, 0, 0, 0, 0, time.UTC)
	maxEnd   = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Validate reports the first problem with o (after defaults) as an error
// wrapping ErrInvalidOptions. It does not touch the file system.
func (o Options) Validate() error {
	o = o.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	switch {
	case o.OutDir == "":
		return bad("out dir is required")
	case o.Days < 1 || o.Days > MaxDays:
		return bad("days %d: want 1..%d", o.Days, MaxDays)
	case o.RowsPerDay < 1 || o.RowsPerDay > MaxRowsPerDay:
		return bad("rows per day %d: want 1..%d", o.RowsPerDay, MaxRowsPerDay)
	case o.Customers < 1 || o.Customers > MaxCustomers:
		return bad("customers %d: want 1..%d", o.Customers, MaxCustomers)
	case o.Format != FormatJSONL && o.Format != FormatCSV:
		return bad("format %q: want jsonl or csv", o.Format)
	case o.Compression != CompressNone && o.Compression != CompressGzip && o.Compression != CompressZstd:
		return bad("compression %q: want none, gzip or zstd", o.Compression)
	case !(o.FaultRate >= 0 && o.FaultRate <= 1):
		return bad("fault rate %g: want a number in [0,1]", o.FaultRate)
	case !(o.FraudRate >= 0 && o.FraudRate <= MaxFraudRate):
		return bad("fraud rate %g: want a number in [0,%g]", o.FraudRate, MaxFraudRate)
	case o.Start.Before(minStart) || o.Start.AddDate(0, 0, o.Days).After(maxEnd):
		return bad("start %s with %d days: dates must lie between %s and %s",
			o.Start.Format(time.DateOnly), o.Days, minStart.Format(time.DateOnly), maxEnd.Format(time.DateOnly))
	}
	if o.Drift != nil {
		if err := o.Drift.validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
	}
	return nil
}

// FileName returns the name of the file for day under o's format and
// compression, e.g. transactions-2026-01-02.jsonl.gz.
func (o Options) FileName(day time.Time) string {
	o = o.withDefaults()
	name := "transactions-" + utcDay(day).Format(time.DateOnly) + "." + o.Format
	switch o.Compression {
	case CompressGzip:
		name += ".gz"
	case CompressZstd:
		name += ".zst"
	}
	return name
}

// Generate writes o.Days files into o.OutDir, one per UTC day from o.Start,
// and says what it wrote. Each file is written under a temporary name and
// renamed into place when complete, so a file with the final name is always
// whole; an existing file of that name is replaced. Days are generated
// concurrently (see Options.Parallelism). Invalid options give an error
// wrapping ErrInvalidOptions before anything is written. On error or when
// ctx is cancelled, no temporary file is left behind, but days already
// completed stay.
func Generate(ctx context.Context, o Options) (Summary, error) {
	if err := o.Validate(); err != nil {
		return Summary{}, err
	}
	o = o.withDefaults()
	if fi, err := os.Stat(o.OutDir); err == nil && !fi.IsDir() {
		return Summary{}, fmt.Errorf("%w: out dir %s exists and is not a directory", ErrInvalidOptions, o.OutDir)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("create out dir: %w", err)
	}

	pop := newPopulation(o.Seed, o.Customers)
	files := make([]File, o.Days)
	stats := make([]dayStats, o.Days)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, o.Parallelism)
	var wg sync.WaitGroup
days:
	for i := range o.Days {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break days
		}
		wg.Go(func() {
			defer func() { <-sem }()
			day := o.Start.AddDate(0, 0, i)
			f, st, err := writeDay(ctx, pop, &o, day)
			if err != nil {
				cancel(err)
				return
			}
			files[i], stats[i] = f, st
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Summary{}, err
	}

	s := Summary{Files: files, Faults: map[string]int64{}}
	for _, k := range FaultKinds() {
		s.Faults[k] = 0
	}
	for _, st := range stats {
		s.Rows += st.rows
		for k := faultMalformed; k < numFaultKinds; k++ {
			s.Faults[k.String()] += st.faults[k]
		}
	}
	s.Late, s.Duplicates = s.Faults[FaultLate], s.Faults[FaultDuplicate]
	if o.FraudRate > 0 {
		s.Fraud = map[string]int64{}
		for _, l := range FraudLabels() {
			s.Fraud[l] = 0
		}
		for _, st := range stats {
			for k := fraudVelocity; k < numFraudKinds; k++ {
				s.Fraud[k.String()] += st.fraud[k]
			}
			s.LabelFiles = append(s.LabelFiles, st.labelFile)
		}
	}
	return s, nil
}

// writeDay generates one day into a temporary file and renames it into place.
func writeDay(ctx context.Context, pop *population, o *Options, day time.Time) (_ File, _ dayStats, err error) {
	final := filepath.Join(o.OutDir, o.FileName(day))
	f, err := os.CreateTemp(o.OutDir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	cw := &countingWriter{w: f}
	var w io.Writer = cw
	var enc io.WriteCloser
	// The compressors write to their output in small pieces (a few hundred
	// bytes for flate); buffer them so each piece is not a system call.
	bw := bufio.NewWriterSize(cw, 1<<18)
	switch o.Compression {
	case CompressGzip:
		enc = gzip.NewWriter(bw) // no name or mod time in the header: output stays deterministic
	case CompressZstd:
		enc, err = zstd.NewWriter(bw, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
		}
	}
	if enc != nil {
		w = enc
	}
	plan := newDayPlan(pop, o, day)
	st, err := generateDay(ctx, plan, w, nil)
	if err != nil {
		return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
	}
	if enc != nil {
		if err = enc.Close(); err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
		}
	}
	if err = f.Chmod(0o644); err == nil {
		if err = f.Sync(); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
	}
	if err = os.Rename(f.Name(), final); err != nil {
		return File{}, dayStats{}, fmt.Errorf("write %s: %w", final, err)
	}
	if plan.fraud != nil {
		st.fraud = plan.fraud.counts
		if st.labelFile, err = writeLabels(o.OutDir, day, plan.fraud); err != nil {
			return File{}, dayStats{}, err
		}
	}
	return File{Path: final, Rows: st.rows, Bytes: cw.n}, st, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
