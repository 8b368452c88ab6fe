package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/ingest"
)

// SIGTERM (and Ctrl-C) stop an ingest cleanly: exit 1 with a message, no
// data file of the run left behind, every partition in its old or new
// state, and a run record saying the run failed.
func TestSigtermStopsIngestCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and ingests real data")
	}
	bin := txlakeBinary(t)
	root := t.TempDir()
	src := filepath.Join(root, "logs")
	cliMust(t, "gen", "--out", src, "--days", fmt.Sprint(crashDays), "--rows-per-day", fmt.Sprint(crashRowsPerDay), "--seed", "4", "--compress", "gzip")
	glob := filepath.Join(src, "*.jsonl.gz")

	ref := filepath.Join(root, "ref")
	began := time.Now()
	crashIngest(t, bin, ref, glob)
	full := time.Since(began)

	var interrupted int
	for i, frac := range []float64{0.2, 0.5, 0.8} {
		lakeDir := filepath.Join(root, fmt.Sprintf("lake%d", i))
		cmd, stderr := crashCommand(t, bin, lakeDir, glob)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(frac * float64(full))) // drives the signal; nothing asserts on timing
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			// finished before the signal: nothing to check beyond consistency
		case errors.As(err, &ee) && ee.ExitCode() == exitFailure:
			interrupted++
		default:
			t.Fatalf("SIGTERM at %.0f%%: %v\n%s", 100*frac, err, stderr)
		}
		manifests := crashManifests(t, lakeDir)
		crashCheckLake(t, lakeDir, map[string][]byte{})
		crashCheckNoGarbage(t, lakeDir, manifests)
		if err != nil {
			runs, _ := filepath.Glob(filepath.Join(lakeDir, "_runs", "ingest", "*.json"))
			if len(runs) != 1 {
				t.Fatalf("interrupted run left %d run records, want 1", len(runs))
			}
			b, rerr := os.ReadFile(runs[0])
			if rerr != nil {
				t.Fatal(rerr)
			}
			var rec ingest.Result
			if rerr := json.Unmarshal(b, &rec); rerr != nil || rec.Outcome != "failed" {
				t.Fatalf("run record outcome %q (%v), want failed", rec.Outcome, rerr)
			}
		}
		// The next run completes the work.
		crashIngest(t, bin, lakeDir, glob)
		if got, want := crashLakeHash(t, lakeDir), crashLakeHash(t, ref); got != want {
			t.Fatalf("after the re-run the lake holds %s, a clean ingest %s", got, want)
		}
	}
	t.Logf("%d of 3 runs were interrupted before they finished", interrupted)
}
