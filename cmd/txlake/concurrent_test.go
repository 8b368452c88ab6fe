package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// lockBackends are the lakes the concurrency test runs on: a local
// directory, S3 (versitygw) and HDFS (MiniDFSCluster).
var lockBackends = append([]remoteBackend{{name: "file", root: func(t *testing.T) string { return t.TempDir() }}}, remoteBackends...)

// lockProc is one `txlake ingest --json` process.
type lockProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// lockStart starts the binary's ingest of glob into lakeURL.
func lockStart(t *testing.T, lakeURL, glob string, env []string, extra ...string) *lockProc {
	t.Helper()
	args := append([]string{"ingest", "--schema", cliSchema, "--source", glob, "--lake", lakeURL, "--json", "--log-format", "json"}, extra...)
	return lockStartArgs(t, env, args...)
}

// lockStartArgs starts the binary with args.
func lockStartArgs(t *testing.T, env []string, args ...string) *lockProc {
	t.Helper()
	p := &lockProc{cmd: exec.CommandContext(t.Context(), txlakeBinary(t), args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// wait returns the process's exit code (-1: killed by a signal).
func (p *lockProc) wait(t *testing.T) int {
	t.Helper()
	err := <-p.done
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("ingest: %v\n%s", err, p.stderr.String())
	return 0
}

// committed waits for the process, requires exit 0, and decodes its summary.
func (p *lockProc) committed(t *testing.T) *ingest.Result {
	t.Helper()
	if code := p.wait(t); code != 0 {
		t.Fatalf("concurrent ingest exited %d\n%s", code, p.stderr.String())
	}
	res := cliDecodeResult(t, p.stdout.String())
	if res.Outcome != "committed" || !res.Reconciled {
		t.Fatalf("concurrent ingest: outcome %q, reconciled %v", res.Outcome, res.Reconciled)
	}
	return res
}

// TestConcurrentIngest runs several `txlake ingest` processes at once on one
// lake, on every backend:
//   - the same inputs: the lake ends with one consistent contribution, the
//     rows of a single run;
//   - disjoint inputs into the same partitions (shards): every run commits,
//     the lake holds the union of their rows once, and the counts add up;
//   - a run SIGKILLed while it holds the commit leases: a run with a short
//     --lock-timeout fails with exit 75 naming the holder, and the next run
//     takes the leases over once they expire and commits.
func TestConcurrentIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs several ingest processes per backend")
	}
	root := t.TempDir()
	const shards = 4
	var globs []string
	for i := range shards {
		dir := filepath.Join(root, fmt.Sprintf("shard%d", i))
		cliMust(t, "gen", "--out", dir, "--days", "3", "--rows-per-day", "1500", "--seed", fmt.Sprint(40+i))
		globs = append(globs, filepath.Join(dir, "*.jsonl"))
	}
	// References: one run of shard 0, and all shards one after the other.
	refOne, refAll := filepath.Join(root, "ref-one"), filepath.Join(root, "ref-all")
	cliIngestJSON(t, refOne, "--source", globs[0])
	wantOne := svcRowsHash(t, refOne)
	var wantRows int64
	for _, g := range globs {
		res, _ := cliIngestJSON(t, refAll, "--source", g)
		wantRows += res.RowsWritten
	}
	wantAll := svcRowsHash(t, refAll)

	for _, b := range lockBackends {
		t.Run(b.name, func(t *testing.T) {
			rootURL := b.root(t)
			t.Run("same inputs", func(t *testing.T) {
				lakeURL := rootURL + "/same"
				var procs []*lockProc
				for range 3 {
					procs = append(procs, lockStart(t, lakeURL, globs[0], nil))
				}
				ids := map[string]bool{}
				for _, p := range procs {
					ids[p.committed(t).Contribution.ID] = true
				}
				if len(ids) != 1 {
					t.Fatalf("the same inputs gave contributions %v", ids)
				}
				st := svcOpen(t, lakeURL)
				lockCheckOneRunPerContribution(t, svcCheckLake(t, st, crashTable, true), 1)
				if got := svcRowsHash(t, lakeURL); got != wantOne {
					t.Errorf("the lake holds rows %s; a single run holds %s", got, wantOne)
				}
				lockCheckReleased(t, st)
			})
			t.Run("same date, txlake run", func(t *testing.T) {
				// Two scheduled runs of one job and date at once: the
				// contribution is (job, date), so one of them replaces the
				// other's and the lake holds the rows once.
				lakeURL := rootURL + "/run"
				schema, err := filepath.Abs(cliSchema)
				if err != nil {
					t.Fatal(err)
				}
				jobs := filepath.Join(t.TempDir(), "jobs.yaml")
				doc := fmt.Sprintf("jobs:\n  pay:\n    kind: ingest\n    schema: %s\n    sources: ['%s']\n", schema, globs[0])
				if err := os.WriteFile(jobs, []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
				var procs []*lockProc
				for range 2 {
					procs = append(procs, lockStartArgs(t, nil, "run", "pay", "--jobs", jobs, "--date", "2026-01-02",
						"--lake", lakeURL, "--json", "--log-format", "json"))
				}
				ids := map[string]bool{}
				for _, p := range procs {
					ids[p.committed(t).Contribution.ID] = true
				}
				if len(ids) != 1 {
					t.Fatalf("two runs of one job and date gave contributions %v", ids)
				}
				st := svcOpen(t, lakeURL)
				lockCheckOneRunPerContribution(t, svcCheckLake(t, st, crashTable, true), 1)
				if got := svcRowsHash(t, lakeURL); got != wantOne {
					t.Errorf("the lake holds rows %s; a single run holds %s", got, wantOne)
				}
				lockCheckReleased(t, st)
			})
			t.Run("disjoint inputs", func(t *testing.T) {
				lakeURL := rootURL + "/disjoint"
				var procs []*lockProc
				for _, g := range globs {
					procs = append(procs, lockStart(t, lakeURL, g, nil))
				}
				var written int64
				rebased := 0
				for _, p := range procs {
					written += p.committed(t).RowsWritten
					rebased += strings.Count(p.stderr.String(), "no key overlap")
				}
				// Runs that overlapped in time commit on top of each other.
				t.Logf("%d partition commits found the partition changed and rebased", rebased)
				st := svcOpen(t, lakeURL)
				lockCheckOneRunPerContribution(t, svcCheckLake(t, st, crashTable, true), shards)
				n := cliCSVInt(t, svcQuery(t, lakeURL, "SELECT count(*) AS n FROM transactions"))
				dup := cliCSVInt(t, svcQuery(t, lakeURL, "SELECT count(*) - count(DISTINCT transaction_id) AS d FROM transactions"))
				if n != written || n != wantRows || dup != 0 {
					t.Errorf("the lake holds %d rows (%d duplicate ids); the runs wrote %d; sequential runs write %d", n, dup, written, wantRows)
				}
				if got := svcRowsHash(t, lakeURL); got != wantAll {
					t.Errorf("the lake holds rows %s; sequential runs hold %s", got, wantAll)
				}
				lockCheckReleased(t, st)
			})
			t.Run("holder killed", func(t *testing.T) {
				lakeURL := rootURL + "/killed"
				st := svcOpen(t, lakeURL)
				short := []string{"TXLAKE_LOCK_TTL=2s"}
				holder := lockStart(t, lakeURL, globs[0], append(short, "TXLAKE_TEST_COMMIT_HOLD=5m"))
				doc := lockWaitHeld(t, st, holder)
				if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				if code := holder.wait(t); code != -1 {
					t.Fatalf("holder exited %d before the kill\n%s", code, holder.stderr.String())
				}
				// The lease is still held (renewed until the kill): a run
				// that does not wait for it fails, naming the holder.
				impatient := lockStart(t, lakeURL, globs[1], short, "--lock-timeout", "0")
				if code := impatient.wait(t); code != exitTempFailure {
					t.Fatalf("run against a held lease exited %d, want %d\n%s", code, exitTempFailure, impatient.stderr.String())
				}
				if msg := impatient.stderr.String(); !strings.Contains(msg, "is held by run "+doc.Holder.RunID) || !strings.Contains(msg, "retry later") {
					t.Errorf("the lock error does not name holder run %s:\n%s", doc.Holder.RunID, msg)
				}
				// The next run waits for the dead holder's lease to expire
				// and takes it over.
				res := lockStart(t, lakeURL, globs[0], short, "--lock-timeout", "1m").committed(t)
				if res.RunID == doc.Holder.RunID {
					t.Fatal("the re-run reports the killed run's id")
				}
				lockCheckOneRunPerContribution(t, svcCheckLake(t, st, crashTable, true), 1)
				if got := svcRowsHash(t, lakeURL); got != wantOne {
					t.Errorf("after the takeover the lake holds rows %s; a single run holds %s", got, wantOne)
				}
				lockCheckReleased(t, st)
			})
		})
	}
}

// lockWaitHeld polls until p holds the leases of the generated days
// (2026-01-01..03; leases are taken in date order, so earlier dates of late
// events are held too) and returns one of their documents.
func lockWaitHeld(t *testing.T, st storage.Store, p *lockProc) lake.LeaseDoc {
	t.Helper()
	return lockWaitHeldDays(t, st, p, "dt=2026-01-03/")
}

// lockWaitHeldDays polls until p holds the lease of partition last (the
// latest date it writes, so it holds all its leases) and returns it.
func lockWaitHeldDays(t *testing.T, st storage.Store, p *lockProc, last string) lake.LeaseDoc {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			t.Fatalf("the holder ended (%v) before it held a lease\n%s", err, p.stderr.String())
		default:
		}
		held := map[string]lake.LeaseDoc{}
		for key := range svcKeys(t, st, "_locks/"+crashTable+"/dt=") {
			if doc, ok := lockReadDoc(t, st, key); ok && !doc.Released && doc.Holder.PID == p.cmd.Process.Pid {
				held[strings.TrimPrefix(doc.Resource, "_locks/"+crashTable+"/")] = doc
			}
		}
		if doc, ok := held[last]; ok {
			return doc
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the holder never took a partition lease")
	return lake.LeaseDoc{}
}

func lockReadDoc(t *testing.T, st storage.Store, key string) (lake.LeaseDoc, bool) {
	t.Helper()
	var doc lake.LeaseDoc
	obj, err := st.Open(t.Context(), key)
	if err != nil {
		return doc, false // replaced meanwhile
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil || json.Unmarshal(data, &doc) != nil {
		return doc, false // an HDFS claim not filled in yet
	}
	return doc, true
}

// lockCheckOneRunPerContribution checks that the partitions hold want
// contributions in all (each partition some of them: late events reach
// only some dates), and that each contribution's files are the files of
// the one run its manifest entry names (never a mix of two runs of one
// unit).
func lockCheckOneRunPerContribution(t *testing.T, manifests map[string]*lake.Manifest, want int) {
	t.Helper()
	if len(manifests) == 0 {
		t.Fatal("no partition was committed")
	}
	all := map[string]bool{}
	for dt, m := range manifests {
		runOf := map[string]string{}
		for _, c := range m.Contributions {
			if _, dup := runOf[c.ID]; dup {
				t.Errorf("dt=%s lists contribution %s twice", dt, c.ID)
			}
			runOf[c.ID] = c.RunID
			all[c.ID] = true
		}
		for _, f := range m.Files {
			if run, ok := runOf[f.Contribution]; !ok || !strings.HasPrefix(f.Name, "part-"+run+"-") {
				t.Errorf("dt=%s: file %s of contribution %s is not a file of its run %q", dt, f.Name, f.Contribution, run)
			}
		}
	}
	if len(all) != want {
		t.Errorf("the partitions hold %d contributions, want %d", len(all), want)
	}
}

// lockCheckReleased checks that no run marker is left and every lease's
// newest object is released.
func lockCheckReleased(t *testing.T, st storage.Store) {
	t.Helper()
	newest := map[string]string{}
	for key := range svcKeys(t, st, "_locks/") {
		if strings.Contains(key, "/runs/") {
			t.Errorf("run marker left behind: %s", key)
			continue
		}
		dir := key[:strings.LastIndex(key, "/")]
		if key > newest[dir] {
			newest[dir] = key
		}
	}
	if len(newest) == 0 {
		t.Error("no lease objects: the commits took no leases")
	}
	for _, key := range newest {
		if doc, ok := lockReadDoc(t, st, key); !ok || !doc.Released {
			t.Errorf("lease %s is not released: %+v", key, doc)
		}
	}
}

// TestConcurrentIngestOverlap: a run whose partition got rows with the same
// keys from another contribution while it ran (it deduplicated against a
// state that is gone) fails with exit 75 and says to re-run; the re-run
// then drops those rows as duplicates.
func TestConcurrentIngestOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs several ingest processes")
	}
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	cliMust(t, "gen", "--out", a, "--days", "2", "--rows-per-day", "1000", "--seed", "7")
	// The same rows under other names: another contribution, the same keys.
	if err := os.CopyFS(b, os.DirFS(a)); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(root, "lake")
	first := lockStart(t, lakeDir, filepath.Join(a, "*.jsonl"), []string{"TXLAKE_TEST_COMMIT_HOLD=3s"})
	lockWaitHeldDays(t, svcOpen(t, lakeDir), first, "dt=2026-01-02/")
	// The second run loads the (still empty) partitions while the first
	// holds them, then waits for the leases.
	second := lockStart(t, lakeDir, filepath.Join(b, "*.jsonl"), nil, "--lock-timeout", "1m")
	res := first.committed(t)
	if code := second.wait(t); code != exitTempFailure {
		t.Fatalf("the overlapping run exited %d, want %d\n%s", code, exitTempFailure, second.stderr.String())
	}
	if msg := second.stderr.String(); !strings.Contains(msg, "changed by another run") || !strings.Contains(msg, "re-run") {
		t.Errorf("the error does not say the partition changed and to re-run:\n%s", msg)
	}
	again, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(b, "*.jsonl"))
	if again.RowsWritten != 0 || again.RowsDuplicate != res.RowsWritten+res.RowsDuplicate {
		t.Errorf("the re-run wrote %d rows and found %d duplicates; want 0 and %d", again.RowsWritten, again.RowsDuplicate, res.RowsWritten+res.RowsDuplicate)
	}
	n := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) AS n FROM transactions"))
	if n != res.RowsWritten {
		t.Errorf("the lake holds %d rows, want the first run's %d", n, res.RowsWritten)
	}
	svcCheckLake(t, svcOpen(t, lakeDir), crashTable, true)
}
