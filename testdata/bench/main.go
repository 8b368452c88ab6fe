// Command bench measures `txlake ingest` against DuckDB's own COPY ... TO
// (FORMAT parquet, PARTITION_BY (dt)) on the same generated logs, in one run,
// alternating the two, and writes the results as JSON (`make bench`; see
// docs/performance.md). It lives under testdata so that `go build ./...`
// leaves it out; run it with `go run ./testdata/bench`.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// jsonlBytesPerRow is the average size of a `txlake gen` JSON line, used to
// turn -bytes into --rows-per-day; the CSV twin has the same rows.
const (
	jsonlBytesPerRow = 307
	days             = 8
)

type config struct {
	bin, schema, dir, out string
	bytes                 int64
	runs                  int
	formats               []string
	drift, rssOnly        bool
	rules                 bool
}

// Run is one timed run of one tool.
type Run struct {
	Seconds  float64 `json:"seconds"`
	MaxRSSMB float64 `json:"max_rss_mb,omitempty"` // txlake only
	// CPUSeconds is the child's user+system CPU time: steadier than the
	// wall time when other work shares the machine.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Side is one tool on one input.
type Side struct {
	Runs          []Run   `json:"runs"`
	MedianSeconds float64 `json:"median_seconds"`
	MBPerSec      float64 `json:"mb_per_s"`
	RowsPerSec    float64 `json:"rows_per_s"`
	PeakRSSMB     float64 `json:"peak_rss_mb,omitempty"`
	MedianCPU     float64 `json:"median_cpu_seconds"`
}

// Input is one format's measurements.
type Input struct {
	Format string  `json:"format"`
	Bytes  int64   `json:"bytes"`
	Rows   int64   `json:"rows"`
	Txlake Side    `json:"txlake"`
	DuckDB *Side   `json:"duckdb,omitempty"`
	Ratio  float64 `json:"ratio_txlake_over_duckdb,omitempty"`
	// CPURatio is the ratio of the median CPU times.
	CPURatio float64 `json:"cpu_ratio_txlake_over_duckdb,omitempty"`
}

// Results is the JSON document written to -out.
type Results struct {
	Time       time.Time         `json:"time"`
	Commit     string            `json:"commit"`
	GoVersion  string            `json:"go_version"`
	CPUs       int               `json:"cpus"`
	LoadBefore string            `json:"loadavg_before"`
	LoadAfter  string            `json:"loadavg_after"`
	Mode       string            `json:"mode"` // "compare" or "rss"
	Schema     string            `json:"schema"`
	Rules      bool              `json:"rules"` // false with -rules=false: the schema's rules_file left out
	Inputs     []Input           `json:"inputs"`
	Drift      map[string]string `json:"drift,omitempty"`
}

func main() {
	var c config
	var size, formats string
	flag.StringVar(&c.bin, "bin", "bin/txlake", "the txlake binary")
	flag.StringVar(&c.schema, "schema", "schemas/transactions.yaml", "schema file")
	flag.BoolVar(&c.rules, "rules", true, "keep the schema's row rules; -rules=false ingests with a copy of the schema without its rules_file")
	flag.StringVar(&c.dir, "dir", ".cache/bench", "work directory (generated logs are kept and reused)")
	flag.StringVar(&c.out, "out", "", "results file (default DIR/results-<timestamp>.json)")
	flag.StringVar(&size, "bytes", "1G", "approximate size of the JSONL input: 256M, 1G, 4G ...")
	flag.IntVar(&c.runs, "runs", 3, "timed runs of each tool per format")
	flag.StringVar(&formats, "formats", "jsonl,csv", "input formats to measure")
	flag.BoolVar(&c.drift, "drift", true, "also run the drift benchmark (jobs/drift)")
	flag.BoolVar(&c.rssOnly, "rss", false, "only run txlake once on the JSONL input and report its peak RSS")
	duckSQL := flag.String("duckdb-sql", "", "internal: run this statement in DuckDB and exit (the DuckDB child process)")
	flag.Parse()
	if *duckSQL != "" {
		if err := duckChild(*duckSQL); err != nil {
			fatal(err)
		}
		return
	}
	n, err := parseSize(size)
	if err != nil {
		fatal(err)
	}
	c.bytes = n
	c.formats = strings.Split(formats, ",")
	if err := run(context.Background(), c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("BENCH_BYTES %q: want a size such as 256M or 1G", s)
	}
	return int64(f * float64(mult)), nil
}

func run(ctx context.Context, c config) error {
	res := &Results{Time: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), LoadBefore: loadavg(), Mode: "compare"}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		res.Commit = strings.TrimSpace(string(out))
	}
	if c.rssOnly {
		res.Mode = "rss"
		c.formats = []string{"jsonl"}
		c.runs = 1
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	if !c.rules {
		var err error
		if c.schema, err = withoutRules(c.schema, c.dir); err != nil {
			return err
		}
	}
	res.Schema, res.Rules = c.schema, c.rules
	// Disk: the input, its CSV twin and two output lakes.
	need := c.bytes * 3
	if c.rssOnly {
		need = c.bytes * 3 / 2
	}
	if free := freeBytes(c.dir); free >= 0 && free < need {
		return fmt.Errorf("%s has %d MiB free; this run needs about %d MiB", c.dir, free>>20, need>>20)
	}
	rowsPerDay := max(c.bytes/jsonlBytesPerRow/days, 1)
	fmt.Printf("bench: %d CPUs, load average %s, schema %s\n", res.CPUs, res.LoadBefore, c.schema)
	for _, format := range c.formats {
		in, err := generate(c, format, rowsPerDay)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d rows, %.0f MiB in %s\n", format, in.rows, float64(in.bytes)/(1<<20), in.dir)
		item := Input{Format: format, Bytes: in.bytes, Rows: in.rows}
		var tx, dk []Run
		for i := 0; i < c.runs; i++ {
			r, err := runTxlake(ctx, c, in)
			if err != nil {
				return err
			}
			fmt.Printf("  run %d: txlake %.2fs (CPU %.2fs, peak RSS %.0f MB)", i+1, r.Seconds, r.CPUSeconds, r.MaxRSSMB)
			tx = append(tx, r)
			if !c.rssOnly {
				d, err := runDuckDB(ctx, c, in)
				if err != nil {
					return err
				}
				fmt.Printf(", duckdb %.2fs (CPU %.2fs, peak RSS %.0f MB)", d.Seconds, d.CPUSeconds, d.MaxRSSMB)
				dk = append(dk, d)
			}
			fmt.Println()
		}
		item.Txlake = side(tx, in)
		if !c.rssOnly {
			d := side(dk, in)
			item.DuckDB = &d
			item.Ratio = item.Txlake.MedianSeconds / d.MedianSeconds
			item.CPURatio = item.Txlake.MedianCPU / d.MedianCPU
		}
		res.Inputs = append(res.Inputs, item)
	}
	if c.drift && !c.rssOnly {
		d, err := runDrift(ctx, c)
		if err != nil {
			return err
		}
		res.Drift = d
	}
	res.LoadAfter = loadavg()
	printSummary(res)
	out := c.out
	if out == "" {
		out = filepath.Join(c.dir, "results-"+res.Time.Format("20060102T150405Z")+".json")
	}
	doc, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(doc, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("results:", out)
	return nil
}

func side(runs []Run, in *input) Side {
	secs, cpu := make([]float64, len(runs)), make([]float64, len(runs))
	s := Side{Runs: runs}
	for i, r := range runs {
		secs[i], cpu[i] = r.Seconds, r.CPUSeconds
		s.PeakRSSMB = max(s.PeakRSSMB, r.MaxRSSMB)
	}
	s.MedianSeconds, s.MedianCPU = median(secs), median(cpu)
	s.MBPerSec = float64(in.bytes) / (1 << 20) / s.MedianSeconds
	s.RowsPerSec = float64(in.rows) / s.MedianSeconds
	return s
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

func printSummary(res *Results) {
	fmt.Printf("\n%-6s %-7s %9s %10s %12s %10s %9s\n", "input", "tool", "median", "MiB/s", "rows/s", "peak RSS", "CPU")
	for _, in := range res.Inputs {
		fmt.Printf("%-6s %-7s %8.2fs %10.1f %12.0f %7.0f MB %8.2fs\n", in.Format, "txlake", in.Txlake.MedianSeconds, in.Txlake.MBPerSec, in.Txlake.RowsPerSec, in.Txlake.PeakRSSMB, in.Txlake.MedianCPU)
		if in.DuckDB != nil {
			fmt.Printf("%-6s %-7s %8.2fs %10.1f %12.0f %7.0f MB %8.2fs\n", in.Format, "duckdb", in.DuckDB.MedianSeconds, in.DuckDB.MBPerSec, in.DuckDB.RowsPerSec, in.DuckDB.PeakRSSMB, in.DuckDB.MedianCPU)
			fmt.Printf("%-6s ratio txlake/duckdb %.2f (CPU time %.2f)\n", in.Format, in.Ratio, in.CPURatio)
		}
	}
	if res.Drift != nil {
		fmt.Printf("drift report: %s\n", res.Drift["line"])
	}
	fmt.Printf("load average before %s, after %s\n", res.LoadBefore, res.LoadAfter)
}

// input is one generated data set.
type input struct {
	format, dir string
	bytes, rows int64
}

// generate writes (or reuses) DIR/<format>-<rowsPerDay>/ with `txlake gen`.
func generate(c config, format string, rowsPerDay int64) (*input, error) {
	dir := filepath.Join(c.dir, fmt.Sprintf("%s-%d", format, rowsPerDay))
	stamp := filepath.Join(dir, ".gen.json")
	if doc, err := os.ReadFile(stamp); err == nil {
		if in, err := parseGen(doc, format, dir); err == nil {
			return in, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin, "gen", "--out", dir, "--days", strconv.Itoa(days),
		"--rows-per-day", strconv.FormatInt(rowsPerDay, 10), "--seed", "11", "--format", format, "--json")
	cmd.Stderr = os.Stderr
	doc, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("txlake gen: %w", err)
	}
	in, err := parseGen(doc, format, dir)
	if err != nil {
		return nil, err
	}
	return in, os.WriteFile(stamp, doc, 0o644)
}

func parseGen(doc []byte, format, dir string) (*input, error) {
	var g struct {
		Files []struct {
			Bytes int64 `json:"bytes"`
		} `json:"files"`
		Rows int64 `json:"rows"`
	}
	if err := json.Unmarshal(doc, &g); err != nil {
		return nil, fmt.Errorf("txlake gen --json: %w", err)
	}
	in := &input{format: format, dir: dir, rows: g.Rows}
	for _, f := range g.Files {
		in.bytes += f.Bytes
	}
	if len(g.Files) == 0 {
		return nil, errors.New("txlake gen wrote no files")
	}
	return in, nil
}

// runChild runs cmd and returns its wall time and peak RSS. Both tools run
// as children of this small process: Linux counts the parent's peak RSS at
// exec time into a child's rusage maxrss, so running DuckDB in this process
// would inflate txlake's figure.
func runChild(cmd *exec.Cmd) (Run, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Run{Seconds: time.Since(start).Seconds()}
	if err != nil {
		return r, nil, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSMB = float64(ru.Maxrss) * 1024 / 1e6 // Linux: KiB
		r.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return r, stdout.Bytes(), nil
}

// runTxlake runs one `txlake ingest` into a fresh lake as a child process.
func runTxlake(ctx context.Context, c config, in *input) (Run, error) {
	lakeDir := filepath.Join(c.dir, "lake-txlake")
	if err := os.RemoveAll(lakeDir); err != nil {
		return Run{}, err
	}
	r, stdout, err := runChild(exec.CommandContext(ctx, c.bin, "ingest", "--schema", c.schema, "--source", filepath.Join(in.dir, "*."+in.format),
		"--lake", lakeDir, "--json", "--log-level", "warn"))
	if err != nil {
		return Run{}, fmt.Errorf("txlake ingest: %w", err)
	}
	var sum struct {
		RowsRead   int64 `json:"rows_read"`
		Reconciled bool  `json:"reconciled"`
	}
	if err := json.Unmarshal(stdout, &sum); err != nil || !sum.Reconciled || sum.RowsRead == 0 {
		return Run{}, fmt.Errorf("txlake ingest: unexpected summary (%v): %.300s", err, stdout)
	}
	return r, nil
}

// The DuckDB side applies the same casts and normalisation as
// schemas/transactions.yaml (docs/performance.md).
const duckSelect = `SELECT transaction_id, customer_id,
    TRY_CAST(%s AS DECIMAL(18,2)) AS amount,
    upper(trim(currency)) AS currency, upper(trim(country)) AS country,
    %s AS merchant_id, lower(trim(%s)) AS merchant_category,
    lower(channel) AS channel, lower(trim(status)) AS status, lower(trim(email)) AS email, card_number,
    COALESCE(TRY_CAST(created_at AS TIMESTAMPTZ), make_timestamp(TRY_CAST(created_at AS BIGINT) * 1000)::TIMESTAMPTZ) AS created_at,
    CAST(COALESCE(TRY_CAST(created_at AS TIMESTAMPTZ), make_timestamp(TRY_CAST(created_at AS BIGINT) * 1000)::TIMESTAMPTZ) AS DATE) AS dt
  FROM %s`

func duckQuery(in *input, out string) string {
	glob := filepath.Join(in.dir, "*."+in.format)
	var q string
	if in.format == "csv" {
		q = fmt.Sprintf(duckSelect, "amount", "merchant_id", "merchant_category",
			fmt.Sprintf(`read_csv('%s', header = true, ignore_errors = true,
      columns = {transaction_id: 'VARCHAR', customer_id: 'VARCHAR', amount: 'VARCHAR', currency: 'VARCHAR',
                 country: 'VARCHAR', merchant_id: 'VARCHAR', merchant_category: 'VARCHAR', channel: 'VARCHAR',
                 status: 'VARCHAR', email: 'VARCHAR', card_number: 'VARCHAR', created_at: 'VARCHAR'})`, glob))
	} else {
		q = fmt.Sprintf(duckSelect, "COALESCE(amount, amt)", "json_extract_string(merchant, '$.id')", "json_extract_string(merchant, '$.category')",
			fmt.Sprintf(`read_json('%s', format = 'newline_delimited', ignore_errors = true,
      columns = {transaction_id: 'VARCHAR', customer_id: 'VARCHAR', amount: 'VARCHAR', amt: 'VARCHAR', currency: 'VARCHAR',
                 country: 'VARCHAR', merchant: 'JSON', channel: 'VARCHAR', status: 'VARCHAR', email: 'VARCHAR',
                 card_number: 'VARCHAR', created_at: 'VARCHAR'})`, glob))
	}
	return fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)", q, out)
}

// runDuckDB runs the COPY in a child process (this program with
// -duckdb-sql), like txlake, so both times include a process start.
func runDuckDB(ctx context.Context, c config, in *input) (Run, error) {
	out := filepath.Join(c.dir, "lake-duckdb")
	if err := os.RemoveAll(out); err != nil {
		return Run{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return Run{}, err
	}
	r, _, err := runChild(exec.CommandContext(ctx, self, "-duckdb-sql", duckQuery(in, out)))
	if err != nil {
		return Run{}, fmt.Errorf("duckdb COPY: %w", err)
	}
	return r, nil
}

func duckChild(query string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		return err
	}
	_, err = db.Exec(query)
	return err
}

var benchLine = regexp.MustCompile(`^BenchmarkDriftReport\S*\s+\d+\s+(.*)$`)

// runDrift runs `make bench-drift`'s benchmark and keeps its metrics.
func runDrift(ctx context.Context, c config) (map[string]string, error) {
	lakeDir, err := filepath.Abs(filepath.Join(c.dir, "..", "bench-drift-lake"))
	if err != nil {
		return nil, err
	}
	fmt.Println("drift benchmark (jobs/drift BenchmarkDriftReport) ...")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "DriftReport", "-benchtime", "1x", "-timeout", "30m", "./jobs/drift")
	cmd.Env = append(os.Environ(), "TXLAKE_BENCH_LAKE="+lakeDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("drift benchmark: %w\n%s", err, out)
	}
	for _, ln := range strings.Split(string(out), "\n") {
		if m := benchLine.FindStringSubmatch(strings.TrimSpace(ln)); m != nil {
			d := map[string]string{"line": strings.Join(strings.Fields(m[1]), " ")}
			f := strings.Fields(m[1])
			for i := 0; i+1 < len(f); i += 2 {
				d[f[i+1]] = f[i]
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("drift benchmark printed no result:\n%s", out)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

// withoutRules writes a copy of the schema file without its rules_file line
// into dir (the ingest without the DuckDB phase of the history rules) and
// returns its path.
func withoutRules(schema, dir string) (string, error) {
	b, err := os.ReadFile(schema)
	if err != nil {
		return "", err
	}
	var out []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(line, "rules_file:") {
			out = append(out, line)
		}
	}
	path := filepath.Join(dir, "norules-"+filepath.Base(schema))
	return path, os.WriteFile(path, []byte(strings.Join(out, "")), 0o644)
}
