package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// driftSpec is the drift `gen` injects from 2026-01-06 on: amounts ×2.5,
// 40% of rows moved to Brazil (with its currency), a new currency CHF, and
// 30% of emails null.
const driftSpec = "from=2026-01-06,amount_scale=2.5,country=BR:0.4,new_currency=CHF,null_rate=email:0.3"

// driftLake generates eight days of logs with driftSpec, ingests them and
// returns the temporary directory and the lake inside it.
func driftLake(t *testing.T) (tmp, lakeDir string) {
	t.Helper()
	tmp = t.TempDir()
	logs, lakeDir := filepath.Join(tmp, "logs"), filepath.Join(tmp, "lake")
	cliMust(t, "gen", "--out", logs, "--days", "8", "--rows-per-day", "500", "--seed", "3", "--drift", driftSpec)
	cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", filepath.Join(logs, "*"))
	return tmp, lakeDir
}

// driftArgs are the arguments of a drift run over lakeDir comparing an early
// window with the drifted 2026-01-07.
func driftArgs(lakeDir string, extra ...string) []string {
	return append([]string{"drift", "--lake", lakeDir, "--table", "transactions", "--as-of", "2026-01-08",
		"--reference", "2026-01-01..2026-01-04", "--current", "2026-01-07"}, extra...)
}

type driftJSON struct {
	Version       int      `json:"version"`
	DriftDetected bool     `json:"drift_detected"`
	Reasons       []string `json:"reasons"`
	Reference     struct {
		Rows int64 `json:"rows"`
	} `json:"reference"`
	Current struct {
		Rows int64 `json:"rows"`
	} `json:"current"`
	Columns []struct {
		Name           string   `json:"name"`
		Kind           string   `json:"kind"`
		PII            bool     `json:"pii"`
		Method         string   `json:"method"`
		Drifted        bool     `json:"drifted"`
		PValue         *float64 `json:"p_value"`
		AdjustedPValue *float64 `json:"adjusted_p_value"`
		NewCategories  []struct {
			Value string `json:"value"`
		} `json:"new_categories"`
	} `json:"columns"`
	SkippedColumns []struct {
		Name string `json:"name"`
	} `json:"skipped_columns"`
}

func decodeDrift(t *testing.T, s string) driftJSON {
	t.Helper()
	var d driftJSON
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("not a drift report: %v\n%s", err, s)
	}
	return d
}

func TestDriftFlagsInjectedDrift(t *testing.T) {
	tmp, lakeDir := driftLake(t)
	r := cliMust(t, driftArgs(lakeDir, "--format", "json")...)
	d := decodeDrift(t, r.stdout)
	if d.Version != 1 || !d.DriftDetected || d.Reference.Rows == 0 || d.Current.Rows == 0 {
		t.Fatalf("version %d drift_detected %v rows %d/%d, want version 1, drift, rows", d.Version, d.DriftDetected, d.Reference.Rows, d.Current.Rows)
	}
	drifted := map[string]bool{}
	for _, c := range d.Columns {
		drifted[c.Name] = c.Drifted
	}
	for _, name := range []string{"amount", "country", "currency", "email"} {
		if v, ok := drifted[name]; !ok || !v {
			t.Errorf("column %s: drifted %v (compared %v), want drifted", name, v, ok)
		}
	}
	for _, name := range []string{"channel", "status", "merchant_category"} {
		if v, ok := drifted[name]; !ok || v {
			t.Errorf("column %s: drifted %v (compared %v), want compared and not drifted", name, v, ok)
		}
	}
	for _, c := range d.Columns {
		if c.Name == "currency" && (len(c.NewCategories) == 0 || c.NewCategories[0].Value != "CHF") {
			t.Errorf("currency: new categories %+v, want CHF first", c.NewCategories)
		}
	}
	for _, s := range d.SkippedColumns {
		if s.Name == "amount" || s.Name == "country" {
			t.Errorf("column %s skipped", s.Name)
		}
	}
	cliGolden(t, "drift.json", driftNormalizeJSON(t, r.stdout, tmp))

	text := cliMust(t, driftArgs(lakeDir)...)
	cliGolden(t, "drift.txt", strings.ReplaceAll(text.stdout, tmp, "$TMP"))
}

func TestDriftFailOnDrift(t *testing.T) {
	_, lakeDir := driftLake(t)
	r := cliRun(t, driftArgs(lakeDir, "--fail-on-drift")...)
	if r.code != exitDrift {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, exitDrift, r.stderr)
	}
	if !strings.Contains(r.stdout, "DRIFT DETECTED") || !strings.Contains(r.stderr, "drift detected in table transactions") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	// Two windows before the drift do not drift, even with --fail-on-drift.
	r = cliRun(t, "drift", "--lake", lakeDir, "--table", "transactions", "--reference", "2026-01-01..2026-01-03",
		"--current", "2026-01-04", "--fail-on-drift", "--format", "json")
	if r.code != exitOK {
		t.Fatalf("early windows: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if d := decodeDrift(t, r.stdout); d.DriftDetected {
		t.Fatalf("early windows: drift detected: %s", r.stdout)
	}
	// Relative ranges resolve against --as-of.
	r = cliRun(t, "drift", "--lake", lakeDir, "--table", "transactions", "--as-of", "2026-01-08",
		"--reference", "last 4 days before 2026-01-05", "--current", "yesterday", "--fail-on-drift")
	if r.code != exitDrift {
		t.Fatalf("relative ranges: exit %d, want %d\n%s", r.code, exitDrift, r.stderr)
	}
}

func TestDriftHTMLIsSelfContained(t *testing.T) {
	tmp, lakeDir := driftLake(t)
	out := filepath.Join(tmp, "drift.html")
	cliMust(t, driftArgs(lakeDir, "--format", "html", "--out", out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	d := decodeDrift(t, cliMust(t, driftArgs(lakeDir, "--format", "json")...).stdout)
	if n := strings.Count(page, "<svg"); n != len(d.Columns) || n == 0 {
		t.Errorf("%d <svg> charts for %d compared columns", n, len(d.Columns))
	}
	for _, bad := range []string{"http://", "https://", "<script src", "<link", "@import", "url(", "<img", "<iframe"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the HTML contains %q; it must not fetch anything", bad)
		}
	}
	for _, c := range d.Columns {
		if !strings.Contains(page, `id="col-`+c.Name+`"`) {
			t.Errorf("no section for column %s", c.Name)
		}
	}
}

// TestDriftNeverShowsPII checks that no value of a PII column reaches any
// report format.
func TestDriftNeverShowsPII(t *testing.T) {
	_, lakeDir := driftLake(t)
	vals := strings.Split(strings.TrimSpace(cliQuery(t, lakeDir,
		"SELECT DISTINCT v FROM (SELECT email AS v FROM transactions UNION ALL SELECT card_number FROM transactions) WHERE v IS NOT NULL AND length(v) >= 4")), "\n")[1:]
	if len(vals) < 10 {
		t.Fatalf("want PII values in the lake, got %d", len(vals))
	}
	for _, format := range []string{"json", "text", "markdown", "html"} {
		out := cliMust(t, driftArgs(lakeDir, "--format", format)...).stdout
		for _, v := range vals {
			if strings.Contains(out, v) {
				t.Fatalf("--format %s shows the PII value %q", format, v)
			}
		}
		// Domains of masked emails are values too.
		if strings.Contains(out, "@") {
			t.Fatalf("--format %s shows an email-like value", format)
		}
	}
}

func TestDriftFDRAndMarkdown(t *testing.T) {
	_, lakeDir := driftLake(t)
	r := cliMust(t, "drift", "--lake", lakeDir, "--table", "transactions", "--reference", "2026-01-01..2026-01-02",
		"--current", "2026-01-07", "--fdr", "0.05", "--format", "json")
	d := decodeDrift(t, r.stdout)
	adjusted := 0
	for _, c := range d.Columns {
		if c.PValue != nil {
			if c.AdjustedPValue == nil || *c.AdjustedPValue < *c.PValue {
				t.Errorf("column %s: p %v adjusted %v", c.Name, *c.PValue, c.AdjustedPValue)
			}
			adjusted++
		}
	}
	if adjusted == 0 {
		t.Fatalf("no p-value tests with a 2-day reference:\n%s", r.stdout)
	}
	md := cliMust(t, driftArgs(lakeDir, "--format", "markdown")...).stdout
	for _, want := range []string{"# Drift report: transactions", "| column | kind | method |", "| amount | numeric |", "## Volume"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestDriftConfig(t *testing.T) {
	tmp, lakeDir := driftLake(t)
	cfg := filepath.Join(tmp, "drift.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("columns:\n  amount: {method: psi, threshold: 0.2}\n  channel: {skip: true}\n")
	d := decodeDrift(t, cliMust(t, driftArgs(lakeDir, "--config", cfg, "--format", "json")...).stdout)
	for _, c := range d.Columns {
		if c.Name == "amount" && (c.Method != "psi" || !c.Drifted) {
			t.Errorf("amount: method %s drifted %v, want psi and drifted", c.Method, c.Drifted)
		}
		if c.Name == "channel" {
			t.Errorf("channel compared despite skip: true")
		}
	}
	for _, tt := range []struct{ name, config, want string }{
		{"unknown method", "columns:\n  amount:\n    method: ttest\n", "drift.yaml:3: column \"amount\": unknown method \"ttest\""},
		{"unknown key", "drift_share: 0.5\nthreshold: 2\n", "drift.yaml:2: drift config: unknown key \"threshold\""},
		{"unknown column", "columns:\n  amount: {skip: true}\n  amnt: {skip: true}\n", "drift.yaml:3: column \"amnt\" is not in the table"},
		{"method for the wrong kind", "columns:\n  country: {method: ks}\n", "drift.yaml:2: column \"country\": method ks does not suit a categorical column"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			write(tt.config)
			r := cliRun(t, driftArgs(lakeDir, "--config", cfg)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestDriftUsageErrors(t *testing.T) {
	_, lakeDir := driftLake(t)
	base := []string{"drift", "--lake", lakeDir, "--table", "transactions"}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing ranges", base, exitUsage, "missing --reference, --current"},
		{"bad range", append(base, "--reference", "2026-01-04..2026-01-01", "--current", "2026-01-07"), exitUsage, "--reference: range"},
		{"bad relative range", append(base, "--reference", "last week", "--current", "2026-01-07"), exitUsage, "want D, D..D"},
		{"bad format", append(base, "--reference", "2026-01-01", "--current", "2026-01-07", "--format", "pdf"), exitUsage, "--format"},
		{"bad fdr", append(base, "--reference", "2026-01-01", "--current", "2026-01-07", "--fdr", "1.5"), exitUsage, "--fdr"},
		{"bad as-of", append(base, "--reference", "today", "--current", "today", "--as-of", "tomorrow"), exitUsage, "--as-of"},
		{"unknown table", []string{"drift", "--lake", lakeDir, "--table", "payments", "--reference", "2026-01-01", "--current", "2026-01-07"}, exitUsage, "table \"payments\" not found"},
		{"empty range", append(base, "--reference", "2025-01-01..2025-01-31", "--current", "2026-01-07"), exitUsage, "holds no rows (the table has partitions from 2025-12-31 to 2026-01-08"},
		{"missing config", append(base, "--reference", "2026-01-01", "--current", "2026-01-07", "--config", filepath.Join(lakeDir, "nope.yaml")), exitUsage, "drift config not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cliRun(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

var reDriftTime = regexp.MustCompile(`"generated_at": "[^"]*"`)

// driftNormalizeJSON makes a JSON report comparable across runs: the
// temporary directory becomes $TMP, the timestamp $TIME, every number is
// rounded to 6 significant digits (DuckDB's parallel aggregation may change
// the last bits of sums), and magnitudes below 1e-12 (far-tail p-values,
// whose digits depend on the tail approximation) become 0. Keys come out
// sorted.
func driftNormalizeJSON(t *testing.T, s, tmp string) string {
	t.Helper()
	s = strings.ReplaceAll(s, tmp, "$TMP")
	s = reDriftTime.ReplaceAllString(s, `"generated_at": "$$TIME"`)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(roundNumbers(v), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func roundNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = roundNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = roundNumbers(e)
		}
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return x
		}
		f, err := x.Float64()
		if err != nil || f == 0 || math.IsInf(f, 0) {
			return x
		}
		if math.Abs(f) < 1e-12 {
			return json.Number("0")
		}
		return json.Number(strconv.FormatFloat(f, 'g', 6, 64))
	}
	return v
}

// TestDriftListColumn: a list<string> column is compared as the distribution
// of its elements. Labels drawn evenly from a, b, c in the reference and
// mostly d in the current day drift, with d a new category; an unchanged list
// column does not; a list cannot segment the report.
func TestDriftListColumn(t *testing.T) {
	tmp := t.TempDir()
	schema := filepath.Join(tmp, "s.yaml")
	if err := os.WriteFile(schema, []byte(`table: tx
event_time: at
key: [id]
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: timestamp, required: true}
  - {name: labels, type: list<string>}
  - {name: steady, type: list<string>}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for day := 1; day <= 5; day++ {
		for i := range 300 {
			labels := []string{[]string{"a", "b", "c"}[i%3], []string{"a", "b", "c"}[(i/3)%3]}
			if day == 5 && i%4 != 0 {
				labels = []string{"d"}
			}
			if i%10 == 0 {
				labels = nil // an empty list: no elements
			}
			row := map[string]any{"id": fmt.Sprintf("%d-%d", day, i), "at": fmt.Sprintf("2026-01-%02dT10:00:00Z", day),
				"labels": labels, "steady": []string{[]string{"x", "y"}[i%2]}}
			if labels == nil {
				row["labels"] = []string{}
			}
			line, _ := json.Marshal(row)
			b.Write(append(line, '\n'))
		}
	}
	src := filepath.Join(tmp, "in.jsonl")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(tmp, "lake")
	cliMust(t, "ingest", "--schema", schema, "--lake", lakeDir, "--source", src)
	args := []string{"drift", "--lake", lakeDir, "--table", "tx", "--as-of", "2026-01-06",
		"--reference", "2026-01-01..2026-01-04", "--current", "2026-01-05", "--format", "json"}
	d := decodeDrift(t, cliMust(t, args...).stdout)
	cols := map[string]int{}
	for i, c := range d.Columns {
		cols[c.Name] = i
	}
	li, ok := cols["labels"]
	if !ok {
		t.Fatalf("labels not compared: %+v", d)
	}
	if l := d.Columns[li]; l.Kind != "categorical" || !l.Drifted || len(l.NewCategories) == 0 || l.NewCategories[0].Value != "d" {
		t.Errorf("labels: %+v; want a drifted categorical column with the new category d", l)
	}
	if si, ok := cols["steady"]; !ok || d.Columns[si].Drifted {
		t.Errorf("steady: compared %v, %+v; want compared and not drifted", ok, d.Columns)
	}
	r := cliRun(t, append(args, "--segment-by", "labels")...)
	if r.code != 2 || !strings.Contains(r.stderr, "cannot be a segment key") {
		t.Errorf("--segment-by a list: exit %d, %s", r.code, r.stderr)
	}
}
