package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Airflow DAG's mapped commands are exactly the tasks of the real
// `txlake plan` output, and running them leaves nothing to plan. The check
// runs deploy/airflow/test_txlake_dag.py with $TXLAKE_PYTHON (the test venv
// of `make deps`); it imports the DAG with Airflow too when that Python has
// it (see docs/scaling.md for why CI does not install Airflow).
func TestAirflowDAGCommandsMatchPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	py := os.Getenv("TXLAKE_PYTHON")
	if py == "" {
		py = filepath.Join("..", "..", ".cache", "venv", "bin", "python")
	}
	if _, err := exec.LookPath(py); err != nil {
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("no Python at %s (TXLAKE_REQUIRE_SERVICES=1; run `make deps`)", py)
		}
		t.Skipf("no Python at %s (run `make deps`, or set TXLAKE_PYTHON)", py)
	}
	bin := txlakeBinary(t)
	root := t.TempDir()
	src := filepath.Join(root, "logs")
	for _, seed := range []string{"1", "2", "3"} {
		cliMust(t, "gen", "--out", filepath.Join(src, seed), "--days", "2", "--rows-per-day", "300", "--seed", seed)
	}
	jobs := jobsFixture(t, root, filepath.Join(root, "lake"), filepath.Join(src, "*", `transactions-{{ .Date.Format "2006-01-02" }}.jsonl`))
	// One shard committed already: the DAG maps over the others only.
	cliMust(t, "run", "pay", "--jobs", jobs, "--date", "2026-01-02", "--shard", "0/3")
	script, err := filepath.Abs(filepath.Join("..", "..", "deploy", "airflow", "test_txlake_dag.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ date, shards string }{{"2026-01-01", "1"}, {"2026-01-02", "3"}} {
		out, err := exec.CommandContext(t.Context(), py, script, "--bin", bin, "--jobs", jobs, "--job", "pay",
			"--date", tc.date, "--shards", tc.shards).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK: ") {
			t.Fatalf("date %s, %s shard(s): %v\n%s", tc.date, tc.shards, err, out)
		}
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
}
