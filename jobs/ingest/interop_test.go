package ingest_test

// Interop: what txlake writes must read back, with the documented types, in
// the tools data scientists use: pyarrow (through the committed script
// testdata/interop/check_parquet.py) and DuckDB.
//
// The Python comes from $TXLAKE_PYTHON (`make deps` sets it to the venv it
// creates), else from <repo>/.cache/venv/bin/python. Without a Python that can
// import pyarrow the pyarrow half is skipped, unless TXLAKE_REQUIRE_SERVICES=1
// (as in CI), where it fails.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/local"
)

func TestInteropPyarrowAndDuckDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	root := repoRoot(t)
	s, err := schemas.Load(filepath.Join(root, "schemas", "transactions.yaml"))
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}

	tmp := t.TempDir()
	logs := filepath.Join(tmp, "logs")
	sum, err := gen.Generate(ctx, gen.Options{
		OutDir:     logs,
		Start:      time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Days:       2,
		RowsPerDay: 2000,
		Seed:       42,
		FaultRate:  0.01,
		FraudRate:  0.03, // so that the tags column has values
	})
	if err != nil {
		t.Fatalf("gen: %v", err)
	}
	if sum.Rows != 4000 {
		t.Fatalf("gen wrote %d rows; want 4000", sum.Rows)
	}

	lakeDir := filepath.Join(tmp, "lake")
	st, err := local.New(lakeDir)
	if err != nil {
		t.Fatalf("local store: %v", err)
	}
	res, err := ingest.Run(ctx, ingest.Options{
		Schema:  s,
		Sources: []string{filepath.Join(logs, "*")},
		Store:   st,
		LakeURL: lakeDir,
		// gen's faults are quarantined; the zero value would allow none.
		MaxQuarantineRatio: 0.05,
	})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if res.Outcome != "committed" {
		t.Fatalf("ingest outcome %q, want committed", res.Outcome)
	}
	if res.RowsWritten < 3500 {
		t.Fatalf("rows_written = %d of %d read; expected most rows to be written", res.RowsWritten, res.RowsRead)
	}
	if got := res.RowsWritten + res.RowsQuarantined + res.RowsDuplicate; got != res.RowsRead {
		t.Fatalf("not reconciled: written %d + quarantined %d + duplicate %d != read %d",
			res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate, res.RowsRead)
	}

	if !s.HasRules() {
		t.Fatal("schemas/transactions.yaml declares no rules; this test checks the tags column")
	}
	cols := s.ColumnNames()
	var tagEntries int64
	for _, h := range res.RuleHits {
		tagEntries += h.Rows
	}
	if tagEntries == 0 {
		t.Fatalf("no rule hits on data generated with --fraud-rate: %+v", res.RuleHits)
	}
	files := manifestFiles(t, filepath.Join(lakeDir, s.Table))

	t.Run("pyarrow", func(t *testing.T) {
		py := interopPython(t, root)
		script := filepath.Join(root, "testdata", "interop", "check_parquet.py")
		cmd := exec.CommandContext(ctx, py, script, "--lake", lakeDir, "--table", s.Table, "--columns", strings.Join(cols, ","))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		runErr := cmd.Run()
		var summary struct {
			Pyarrow      string   `json:"pyarrow"`
			Partitions   []string `json:"partitions"`
			Files        int      `json:"files"`
			Rows         int64    `json:"rows"`
			ManifestRows int64    `json:"manifest_rows"`
			Fingerprints []string `json:"schema_fingerprints"`
			TagEntries   int64    `json:"tag_entries"`
			OK           bool     `json:"ok"`
			Errors       []string `json:"errors"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &summary); err != nil {
			t.Fatalf("check_parquet.py: %v (run error: %v)\nstdout:\n%s\nstderr:\n%s", err, runErr, stdout.String(), stderr.String())
		}
		if runErr != nil || !summary.OK {
			t.Fatalf("check_parquet.py failed (%v):\n%s\nstderr:\n%s", runErr, strings.Join(summary.Errors, "\n"), stderr.String())
		}
		t.Logf("pyarrow %s: %d files in %v, %d rows", summary.Pyarrow, summary.Files, summary.Partitions, summary.Rows)
		if summary.Rows != res.RowsWritten || summary.ManifestRows != res.RowsWritten {
			t.Errorf("pyarrow read %d rows (manifests say %d); ingest wrote %d", summary.Rows, summary.ManifestRows, res.RowsWritten)
		}
		if summary.TagEntries != tagEntries {
			t.Errorf("pyarrow read %d tags in the tags column; the run counted %d rule hits", summary.TagEntries, tagEntries)
		}
		if summary.Files != len(files) {
			t.Errorf("pyarrow read %d files; manifests list %d", summary.Files, len(files))
		}
		if len(summary.Fingerprints) != 1 || summary.Fingerprints[0] != s.Fingerprint {
			t.Errorf("files carry schema fingerprints %v; want [%s]", summary.Fingerprints, s.Fingerprint)
		}
	})

	t.Run("duckdb", func(t *testing.T) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatalf("open duckdb: %v", err)
		}
		defer db.Close()
		quoted := make([]string, len(files))
		for i, f := range files {
			quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
		}
		src := "read_parquet([" + strings.Join(quoted, ", ") + "])"

		var n, distinct int64
		if err := db.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT transaction_id) FROM "+src).Scan(&n, &distinct); err != nil {
			t.Fatalf("duckdb count: %v", err)
		}
		if n != res.RowsWritten || distinct != res.RowsWritten {
			t.Errorf("duckdb: count(*) = %d, count(DISTINCT transaction_id) = %d; ingest wrote %d", n, distinct, res.RowsWritten)
		}

		var tagsType string
		var dbTags int64
		if err := db.QueryRowContext(ctx, "SELECT any_value(typeof(tags)), sum(len(tags)) FROM "+src).Scan(&tagsType, &dbTags); err != nil {
			t.Fatalf("duckdb tags: %v", err)
		}
		if tagsType != "VARCHAR[]" || dbTags != tagEntries {
			t.Errorf("duckdb: tags is %s with %d entries; want VARCHAR[] with the %d rule hits of the run", tagsType, dbTags, tagEntries)
		}

		var amountType, createdType string
		if err := db.QueryRowContext(ctx, "SELECT typeof(amount), typeof(created_at) FROM "+src+" LIMIT 1").Scan(&amountType, &createdType); err != nil {
			t.Fatalf("duckdb typeof: %v", err)
		}
		if amountType != "DECIMAL(18,2)" {
			t.Errorf("duckdb typeof(amount) = %s, want DECIMAL(18,2)", amountType)
		}
		if createdType != "TIMESTAMP WITH TIME ZONE" {
			t.Errorf("duckdb typeof(created_at) = %s, want TIMESTAMP WITH TIME ZONE", createdType)
		}
	})
}

// manifestFiles returns the data files that the table's partition manifests
// list, sorted.
func manifestFiles(t *testing.T, tableDir string) []string {
	t.Helper()
	manifests, err := filepath.Glob(filepath.Join(tableDir, "dt=*", "_manifest.json"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no partition manifests under %s (%v)", tableDir, err)
	}
	var files []string
	for _, m := range manifests {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Files []struct {
				Name string `json:"name"`
			} `json:"files"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		for _, f := range doc.Files {
			files = append(files, filepath.Join(filepath.Dir(m), f.Name))
		}
	}
	if len(files) == 0 {
		t.Fatalf("manifests under %s list no files", tableDir)
	}
	sort.Strings(files)
	return files
}

// interopPython returns a Python that can import pyarrow, or skips the test
// (fails it when TXLAKE_REQUIRE_SERVICES=1).
func interopPython(t *testing.T, root string) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatalf(format+" (TXLAKE_REQUIRE_SERVICES=1; run `make deps`)", args...)
		}
		t.Skipf(format+" (run `make deps`, or set TXLAKE_PYTHON)", args...)
	}
	py := os.Getenv("TXLAKE_PYTHON")
	if py == "" {
		py = filepath.Join(root, ".cache", "venv", "bin", "python")
		if _, err := os.Stat(py); err != nil {
			unavailable("TXLAKE_PYTHON is unset and %s does not exist", py)
		}
	}
	out, err := exec.Command(py, "-c", "import pyarrow, pyarrow.parquet; print(pyarrow.__version__)").CombinedOutput()
	if err != nil {
		unavailable("%s cannot import pyarrow: %v: %s", py, err, strings.TrimSpace(string(out)))
	}
	return py
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
