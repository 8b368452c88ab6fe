package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/ingest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// cliSchema is the schema file the tests ingest with, relative to the
// package directory (the working directory of go test).
const cliSchema = "../../schemas/transactions.yaml"

type cliResult struct {
	code           int
	stdout, stderr string
}

// cliRun runs the CLI in-process, as main does, and captures its streams.
func cliRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(t.Context(), args, &streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// cliMust runs the CLI and fails the test unless it exits 0.
func cliMust(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := cliRun(t, args...)
	if r.code != exitOK {
		t.Fatalf("txlake %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// cliGen writes deterministic test data into dir with `txlake gen`.
func cliGen(t *testing.T, dir string, extra ...string) {
	t.Helper()
	cliMust(t, append([]string{"gen", "--out", dir, "--days", "2", "--rows-per-day", "500", "--seed", "3"}, extra...)...)
}

// cliIngestJSON ingests sources into lake with --json and decodes the summary.
func cliIngestJSON(t *testing.T, lakeDir string, extra ...string) (*ingest.Result, cliResult) {
	t.Helper()
	r := cliMust(t, append([]string{"ingest", "--schema", cliSchema, "--lake", lakeDir, "--json"}, extra...)...)
	return cliDecodeResult(t, r.stdout), r
}

// cliDecodeResult decodes stdout as exactly one JSON ingest summary.
func cliDecodeResult(t *testing.T, stdout string) *ingest.Result {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var res ingest.Result
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not an ingest summary: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	return &res
}

// cliQuery runs `txlake query --format csv` and returns stdout.
func cliQuery(t *testing.T, lakeDir, sql string) string {
	t.Helper()
	return cliMust(t, "query", "--lake", lakeDir, "--format", "csv", sql).stdout
}

// cliRowsHash is the SHA-256 of every row of the table, sorted by key,
// without the partition column and the tags column. Tags depend on what was
// committed when a row arrived (docs/row-rules.md), and the runs these
// hashes compare commit in different orders (shards, concurrent runs,
// backfills); jobs/ingest's rules tests check the tags.
func cliRowsHash(t *testing.T, lakeDir string) string {
	t.Helper()
	out := cliQuery(t, lakeDir, "SELECT * EXCLUDE (dt, tags) FROM transactions ORDER BY transaction_id")
	if strings.Count(out, "\n") < 2 {
		t.Fatalf("the lake %s holds no rows:\n%s", lakeDir, out)
	}
	sum := sha256.Sum256([]byte(out))
	return hex.EncodeToString(sum[:])
}

// cliCSVInt parses a one-column, one-row CSV result.
func cliCSVInt(t *testing.T, out string) int64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row, got:\n%s", out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(lines[1]), 10, 64)
	if err != nil {
		t.Fatalf("not an integer: %q", lines[1])
	}
	return n
}

// cliManifests returns the _manifest.json files under dir.
func cliManifests(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "_manifest.json" {
			found = append(found, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return found
}

var (
	reRunID     = regexp.MustCompile(`"run_id": "[^"]*"`)
	reTimestamp = regexp.MustCompile(`"(started_at|finished_at)": "[^"]*"`)
	reDuration  = regexp.MustCompile(`"duration_ms": [0-9]+`)
	reTimings   = regexp.MustCompile(`"timings_ms": \{[^}]*\}`)
	reTook      = regexp.MustCompile(`(?m)^took [^\n]*$`)
)

// cliNormalize replaces what differs between runs: the temporary directory,
// the run id, the contribution id (a hash of source URLs under tmp),
// timestamps and durations.
func cliNormalize(s, tmp, runID, contribID string) string {
	s = strings.ReplaceAll(s, tmp, "$TMP")
	if runID != "" {
		s = strings.ReplaceAll(s, runID, "$RUN_ID")
	}
	if contribID != "" {
		s = strings.ReplaceAll(s, contribID, "$CONTRIBUTION_ID")
	}
	s = reRunID.ReplaceAllString(s, `"run_id": "$$RUN_ID"`)
	s = reTimestamp.ReplaceAllString(s, `"$1": "$$TIME"`)
	s = reDuration.ReplaceAllString(s, `"duration_ms": "$$DURATION_MS"`)
	s = reTimings.ReplaceAllString(s, `"timings_ms": "$$TIMINGS_MS"`)
	return s
}

// cliGolden compares got with testdata/golden/<name>, or rewrites it under -update.
func cliGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s differs from the golden file at line %d:\n got: %q\nwant: %q\n(run with -update if the change is intended)\nfull output:\n%s", path, i+1, gl, wl, got)
			return
		}
	}
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	emptyLake := filepath.Join(dir, "empty-lake")
	if err := os.Mkdir(emptyLake, 0o755); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(cliSchema)
	if err != nil {
		t.Fatal(err)
	}
	// A typo in a field key: the first "required: true" becomes "requird: true".
	const good, typo = "    required: true\n", "    requird: true\n"
	at := strings.Index(string(schema), good)
	if at < 0 {
		t.Fatalf("%s has no %q line", cliSchema, strings.TrimSpace(good))
	}
	badLine := strings.Count(string(schema[:at]), "\n") + 1
	badSchema := filepath.Join(dir, "bad-schema.yaml")
	if err := os.WriteFile(badSchema, []byte(string(schema[:at])+typo+string(schema[at+len(good):])), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.jsonl")
	if err := os.WriteFile(src, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // prefix of stdout, if set
		stderr     []string
		noManifest bool
	}{
		{name: "unknown command", args: []string{"bogus"}, code: exitUsage, stderr: []string{`unknown command "bogus"`}},
		{name: "unknown flag", args: []string{"ingest", "--bogus"}, code: exitUsage, stderr: []string{"unknown flag: --bogus"}},
		{name: "bad flag value", args: []string{"ingest", "--schema", cliSchema, "--source", src, "--workers", "x"}, code: exitUsage, stderr: []string{"--workers"}},
		{name: "ingest without schema", args: []string{"ingest", "--source", src, "--lake", lakeDir}, code: exitUsage, stderr: []string{"--schema is required"}},
		{name: "ingest without source", args: []string{"ingest", "--schema", cliSchema, "--lake", lakeDir}, code: exitUsage, stderr: []string{"--source is required"}},
		{name: "bad schema file", args: []string{"ingest", "--schema", badSchema, "--source", src, "--lake", lakeDir}, code: exitUsage,
			stderr: []string{badSchema + ":" + strconv.Itoa(badLine) + ":", `"requird"`}},
		{name: "missing schema file", args: []string{"ingest", "--schema", filepath.Join(dir, "nope.yaml"), "--source", src, "--lake", lakeDir}, code: exitUsage,
			stderr: []string{"nope.yaml"}},
		{name: "missing source file", args: []string{"ingest", "--schema", cliSchema, "--source", filepath.Join(dir, "nope.jsonl"), "--lake", lakeDir}, code: exitUsage,
			stderr: []string{filepath.Join(dir, "nope.jsonl"), "no such file"}},
		{name: "glob matching nothing", args: []string{"ingest", "--schema", cliSchema, "--source", filepath.Join(dir, "*.nothing"), "--lake", lakeDir}, code: exitUsage,
			stderr: []string{"*.nothing", "glob matches no files"}},
		{name: "quarantine ratio above 1", args: []string{"ingest", "--schema", cliSchema, "--source", src, "--lake", lakeDir, "--max-quarantine-ratio", "1.5"}, code: exitUsage,
			stderr: []string{"--max-quarantine-ratio 1.5"}},
		{name: "date with from", args: []string{"ingest", "--schema", cliSchema, "--source", src, "--lake", lakeDir, "--date", "2026-01-01", "--from", "2026-01-01"}, code: exitUsage,
			stderr: []string{"--date"}},
		{name: "query without SQL", args: []string{"query", "--lake", emptyLake}, code: exitUsage, stderr: []string{"give a SQL statement"}},
		{name: "query bad format", args: []string{"query", "--lake", emptyLake, "--format", "xml", "SELECT 1"}, code: exitUsage, stderr: []string{"--format"}},
		{name: "query bad SQL on an empty lake", args: []string{"query", "--lake", emptyLake, "SELEKT count(*) FROM transactions"}, code: exitFailure,
			stderr: []string{"txlake: query:", "has no tables yet"}},
		{name: "query on an empty lake", args: []string{"query", "--lake", emptyLake, "--format", "csv", "SELECT 42 AS answer"}, code: exitOK, stdout: "answer\n42\n"},
		{name: "version", args: []string{"version"}, code: exitOK, stdout: "txlake "},
		{name: "version with an argument", args: []string{"version", "x"}, code: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cliRun(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, tc.stdout) {
				t.Errorf("stdout %q does not start with %q", r.stdout, tc.stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, r.stderr)
				}
			}
			if tc.code == exitUsage && r.stdout != "" {
				t.Errorf("a usage error printed to stdout:\n%s", r.stdout)
			}
		})
	}
	// None of the failed ingests may have committed anything.
	if m := cliManifests(t, lakeDir); len(m) > 0 {
		t.Errorf("failed ingests committed %v", m)
	}
}

func TestCLIIngestGolden(t *testing.T) {
	t.Setenv("TXLAKE_PII_KEY", "") // the golden files hold masked PII
	for _, tc := range []struct {
		name   string
		golden string
		gen    []string
		ingest []string
		human  bool
	}{
		{name: "jsonl", golden: "ingest.json"},
		{name: "dry run", golden: "ingest-dry-run.json", ingest: []string{"--dry-run"}},
		{name: "csv", golden: "ingest-csv.json", gen: []string{"--format", "csv"}},
		{name: "human", golden: "ingest.txt", human: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			src, lakeDir := filepath.Join(tmp, "src"), filepath.Join(tmp, "lake")
			cliGen(t, src, tc.gen...)
			args := append([]string{"ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", filepath.Join(src, "*")}, tc.ingest...)
			if !tc.human {
				args = append(args, "--json")
			}
			r := cliMust(t, args...)

			var res *ingest.Result
			if tc.human {
				// The same run again with --json, into a fresh lake, tells the
				// ids to normalise and the counts the human text must show.
				res, _ = cliIngestJSON(t, filepath.Join(tmp, "lake2"), "--source", filepath.Join(src, "*"))
				res.RunID = regexp.MustCompile(`run (\S+) \(`).FindStringSubmatch(r.stdout + "run ? (")[1]
			} else {
				res = cliDecodeResult(t, r.stdout)
			}
			if !res.Reconciled || res.RowsRead != res.RowsWritten+res.RowsQuarantined+res.RowsDuplicate {
				t.Errorf("not reconciled: read %d, written %d, quarantined %d, duplicate %d",
					res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate)
			}
			if res.RowsRead != 1000 || len(res.Sources) != 2 {
				t.Errorf("read %d rows from %d sources, want 1000 from 2", res.RowsRead, len(res.Sources))
			}
			wantOutcome := "committed"
			if slicesContain(tc.ingest, "--dry-run") {
				wantOutcome = "dry_run"
				if m := cliManifests(t, lakeDir); len(m) > 0 {
					t.Errorf("--dry-run committed %v", m)
				}
			} else if m := cliManifests(t, lakeDir); len(m) != len(res.Partitions) {
				t.Errorf("%d manifests in the lake, the summary lists %d partitions", len(m), len(res.Partitions))
			}
			if res.Outcome != wantOutcome {
				t.Errorf("outcome %q, want %q", res.Outcome, wantOutcome)
			}

			got := cliNormalize(r.stdout, tmp, res.RunID, res.Contribution.ID)
			if tc.human {
				// A run that took under a millisecond prints no "took" line.
				if !reTook.MatchString(got) {
					got += "\ntook $DURATION\n"
				}
				got = reTook.ReplaceAllString(got, "took $$DURATION")
			}
			cliGolden(t, tc.golden, got)
		})
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestCLIQualityThreshold(t *testing.T) {
	tmp := t.TempDir()
	src, lakeDir := filepath.Join(tmp, "src"), filepath.Join(tmp, "lake")
	cliGen(t, src, "--fault-rate", "0.5")
	for _, tc := range []struct {
		name string
		json bool
	}{{"human", false}, {"json", true}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", filepath.Join(src, "*"), "--max-quarantine-ratio", "0.1"}
			if tc.json {
				args = append(args, "--json")
			}
			r := cliRun(t, args...)
			if r.code != exitQuality {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitQuality, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "--max-quarantine-ratio 0.1") {
				t.Errorf("stderr does not name the threshold:\n%s", r.stderr)
			}
			if tc.json {
				res := cliDecodeResult(t, r.stdout)
				if res.Outcome != "threshold_breached" || res.Error == "" {
					t.Errorf("outcome %q error %q, want threshold_breached with an error", res.Outcome, res.Error)
				}
				if float64(res.RowsQuarantined) <= 0.1*float64(res.RowsRead) {
					t.Errorf("quarantined %d of %d rows: not above the threshold", res.RowsQuarantined, res.RowsRead)
				}
			} else if !strings.Contains(r.stdout, "threshold breached: nothing committed") {
				t.Errorf("stdout does not say nothing was committed:\n%s", r.stdout)
			}
			if m := cliManifests(t, lakeDir); len(m) > 0 {
				t.Errorf("a breached threshold committed %v", m)
			}
			var data []string
			filepath.WalkDir(lakeDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
					data = append(data, p)
				}
				return nil
			})
			if len(data) > 0 {
				t.Errorf("a breached threshold left data or quarantine files: %v", data)
			}
		})
	}
}

func TestCLIQuery(t *testing.T) {
	tmp := t.TempDir()
	src, lakeDir := filepath.Join(tmp, "src"), filepath.Join(tmp, "lake")
	cliGen(t, src)
	res, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(src, "*"))

	t.Run("csv count", func(t *testing.T) {
		out := cliQuery(t, lakeDir, "SELECT count(*) AS n FROM transactions")
		if !strings.HasPrefix(out, "n\n") {
			t.Errorf("no header line: %q", out)
		}
		if n := cliCSVInt(t, out); n != res.RowsWritten {
			t.Errorf("count(*) = %d, ingest wrote %d rows", n, res.RowsWritten)
		}
	})
	t.Run("quarantine count", func(t *testing.T) {
		out := cliQuery(t, lakeDir, "SELECT count(*) AS n FROM transactions_quarantine")
		if n := cliCSVInt(t, out); n != res.RowsQuarantined {
			t.Errorf("quarantine count(*) = %d, ingest quarantined %d rows", n, res.RowsQuarantined)
		}
	})
	t.Run("json lines", func(t *testing.T) {
		r := cliMust(t, "query", "--lake", lakeDir, "--format", "json",
			"SELECT dt, count(*) AS n FROM transactions GROUP BY dt ORDER BY dt")
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		var total int64
		var lines int
		for sc.Scan() {
			var row struct {
				DT string `json:"dt"`
				N  int64  `json:"n"`
			}
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&row); err != nil || dec.More() {
				t.Fatalf("line %q is not one JSON object {dt, n}: %v", sc.Text(), err)
			}
			if row.DT != res.Partitions[lines].Date || row.N != res.Partitions[lines].RowsTotal {
				t.Errorf("line %d = %+v, the ingest summary says %+v", lines+1, row, res.Partitions[lines])
			}
			total += row.N
			lines++
		}
		if lines != len(res.Partitions) || total != res.RowsWritten {
			t.Errorf("%d lines summing to %d rows, want %d partitions with %d rows", lines, total, len(res.Partitions), res.RowsWritten)
		}
	})
	t.Run("tables", func(t *testing.T) {
		r := cliMust(t, "query", "--lake", lakeDir, "--format", "csv", "--tables")
		if r.stdout != "view\ntransactions\ntransactions_quarantine\n" {
			t.Errorf("--tables printed %q", r.stdout)
		}
	})
}

func TestCLIIdempotentIngest(t *testing.T) {
	tmp := t.TempDir()
	srcA, srcB, lakeDir := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "lake")
	cliGen(t, srcA)
	cliGen(t, srcB, "--seed", "4")

	first, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(srcA, "*"))
	hash1 := cliRowsHash(t, lakeDir)
	second, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(srcA, "*"))
	hash2 := cliRowsHash(t, lakeDir)
	if hash1 != hash2 {
		t.Errorf("re-ingesting the same sources changed the rows: %s, then %s", hash1, hash2)
	}
	if first.Contribution.Replaced || !second.Contribution.Replaced || first.Contribution.ID != second.Contribution.ID {
		t.Errorf("contributions %+v then %+v: want the same id, replaced the second time", first.Contribution, second.Contribution)
	}
	if second.RowsWritten != first.RowsWritten || second.RowsDuplicate != first.RowsDuplicate {
		t.Errorf("the re-ingest wrote %d (duplicate %d), the first %d (duplicate %d)",
			second.RowsWritten, second.RowsDuplicate, first.RowsWritten, first.RowsDuplicate)
	}
	for _, p := range second.Partitions {
		if p.Action != "replaced" {
			t.Errorf("partition %s: action %q on a re-ingest, want replaced", p.Date, p.Action)
		}
	}

	other, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(srcB, "*"))
	if other.Contribution.ID == first.Contribution.ID {
		t.Fatalf("different sources share contribution %s", other.Contribution.ID)
	}
	out := cliQuery(t, lakeDir, "SELECT count(*) AS n, count(DISTINCT transaction_id) AS d FROM transactions")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	n, d, _ := strings.Cut(lines[1], ",")
	if n != d {
		t.Errorf("count(*) = %s but count(DISTINCT transaction_id) = %s", n, d)
	}
	if want := strconv.FormatInt(first.RowsWritten+other.RowsWritten, 10); n != want {
		t.Errorf("count(*) = %s, want %s (%d + %d written)", n, want, first.RowsWritten, other.RowsWritten)
	}
	// A third ingest of the first sources leaves the second contribution alone.
	cliIngestJSON(t, lakeDir, "--source", filepath.Join(srcA, "*"))
	if n2 := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) AS n FROM transactions")); strconv.FormatInt(n2, 10) != n {
		t.Errorf("after re-ingesting the first sources count(*) = %d, want %s", n2, n)
	}
}
