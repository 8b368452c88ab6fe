package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txlake/txlake/storage/lake"
)

// The crash test runs the real binary, built once per test process.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// txlakeBinary builds ./cmd/txlake once and returns the executable's path.
func txlakeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "txlake-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "txlake")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

const (
	crashTable      = "transactions"
	crashDays       = 8
	crashRowsPerDay = 16000 // 8 × 16k rows: a full ingest takes a few seconds on 2 cores
)

// crashKill says when to kill one ingest run.
type crashKill struct {
	// frac > 0: kill after this fraction of a clean run's wall time.
	frac float64
	// manifests > 0: kill as soon as this many partition manifests differ
	// from their state before the run; -1: all of the reference's partitions.
	manifests int
	// index: kill as soon as the contribution index changed (the commit began).
	index bool
}

func (k crashKill) String() string {
	switch {
	case k.frac > 0:
		return fmt.Sprintf("at %.0f%% of a run", 100*k.frac)
	case k.index:
		return "after the contribution index changed"
	case k.manifests == -1:
		return "after every manifest changed"
	default:
		return fmt.Sprintf("after %d manifest(s) changed", k.manifests)
	}
}

// TestCrashDuringIngest SIGKILLs `txlake ingest` at many points of its run
// and checks that every partition is always in its old or its new committed
// state, and that a re-run completes the work exactly once.
func TestCrashDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds the binary and ingests for about a minute")
	}
	bin := txlakeBinary(t)
	root := t.TempDir()
	srcA, srcB := filepath.Join(root, "a"), filepath.Join(root, "b")
	for dir, seed := range map[string]string{srcA: "1", srcB: "2"} {
		cliMust(t, "gen", "--out", dir, "--days", fmt.Sprint(crashDays), "--rows-per-day", fmt.Sprint(crashRowsPerDay),
			"--seed", seed, "--compress", "gzip")
	}
	globA, globB := filepath.Join(srcA, "*.jsonl.gz"), filepath.Join(srcB, "*.jsonl.gz")

	// Reference states from clean runs into a fresh lake: A alone, then A and B.
	ref := filepath.Join(root, "ref")
	began := time.Now()
	crashIngest(t, bin, ref, globA)
	fullRun := time.Since(began) // only drives the kill delays; nothing asserts on it
	wantA := crashLakeHash(t, ref)
	partitions := len(crashManifests(t, ref))
	crashIngest(t, bin, ref, globB)
	wantAB := crashLakeHash(t, ref)
	if wantA == wantAB {
		t.Fatal("the two source sets give the same lake")
	}
	t.Logf("clean run %v, %d partitions", fullRun.Round(time.Millisecond), partitions)

	// Each cycle starts from an empty lake and walks every commit path:
	// created (A into nothing), replaced (A again), updated (B next to A),
	// replaced with another contribution present (B again).
	steps := []struct {
		path string
		glob string
		want string
	}{
		{"created", globA, wantA},
		{"replaced", globA, wantA},
		{"updated", globB, wantAB},
		{"replaced next to another contribution", globB, wantAB},
	}
	// Kill points: spread over the run's duration, and at the commit's
	// steps (index widened, first manifest, half of them, all of them).
	kills := []crashKill{
		{frac: 0.1}, {frac: 0.5}, {manifests: 1}, {index: true},
		{manifests: 1}, {manifests: partitions / 2}, {index: true}, {manifests: -1},
		{index: true}, {frac: 0.85}, {manifests: partitions / 2}, {frac: 0.3},
	}
	var killed int
	for i, k := range kills {
		step := steps[i%len(steps)]
		lakeDir := filepath.Join(root, fmt.Sprintf("lake%d", i/len(steps)))
		t.Run(fmt.Sprintf("%02d %s, kill %s", i, step.path, k), func(t *testing.T) {
			before := crashManifests(t, lakeDir)
			wasKilled, detail := crashKillIngest(t, bin, lakeDir, step.glob, k, fullRun, before, partitions)
			if wasKilled {
				killed++
			}
			after := crashCheckLake(t, lakeDir, before)
			t.Logf("killed %v (%s); %d of %d partitions then in a new state", wasKilled, detail, crashChanged(before, after), len(after))
			crashCheckNoDuplicates(t, lakeDir, after)

			crashIngest(t, bin, lakeDir, step.glob)
			done := crashCheckLake(t, lakeDir, after)
			if got := crashLakeHash(t, lakeDir); got != step.want {
				t.Errorf("after the re-run the lake holds %s, a clean ingest holds %s", got, step.want)
			}
			crashCheckNoGarbage(t, lakeDir, done)
		})
	}
	t.Logf("%d of %d runs were killed before they finished", killed, len(kills))
}

// crashIngest runs the binary's ingest to completion.
func crashIngest(t *testing.T, bin, lakeDir, glob string) {
	t.Helper()
	cmd, stderr := crashCommand(t, bin, lakeDir, glob)
	if err := cmd.Run(); err != nil {
		t.Fatalf("ingest %s into %s: %v\n%s", glob, lakeDir, err, stderr)
	}
}

func crashCommand(t *testing.T, bin, lakeDir, glob string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(t.Context(), bin, "ingest", "--schema", cliSchema, "--source", glob, "--lake", lakeDir, "--log-format", "json")
	// A killed run leaves its commit leases held until they expire: a short
	// TTL keeps the re-runs quick.
	cmd.Env = append(os.Environ(), "TXLAKE_LOCK_TTL=1s")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	return cmd, &stderr
}

// crashKillIngest starts an ingest and SIGKILLs it at k. It reports whether
// the kill stopped the run (false: it had already finished, with exit 0).
func crashKillIngest(t *testing.T, bin, lakeDir, glob string, k crashKill, fullRun time.Duration, before map[string][]byte, partitions int) (bool, string) {
	t.Helper()
	indexBefore := crashReadDir(t, filepath.Join(lakeDir, crashTable, "_contributions"))
	cmd, stderr := crashCommand(t, bin, lakeDir, glob)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	want := k.manifests
	if want == -1 {
		want = partitions
	}
	deadline := time.Now().Add(time.Duration(k.frac * float64(fullRun)))
	var detail string
	for detail == "" {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("ingest failed before it was killed: %v\n%s", err, stderr)
			}
			return false, "the run finished first"
		default:
		}
		switch {
		case k.frac > 0:
			if !time.Now().Before(deadline) {
				detail = fmt.Sprintf("after %v", time.Duration(k.frac*float64(fullRun)).Round(time.Millisecond))
			}
		case k.index:
			if !mapsEqualBytes(indexBefore, crashReadDir(t, filepath.Join(lakeDir, crashTable, "_contributions"))) {
				detail = "the contribution index changed"
			}
		default:
			if n := crashChanged(before, crashManifests(t, lakeDir)); n >= want {
				detail = fmt.Sprintf("%d manifests changed", n)
			}
		}
		if detail == "" {
			time.Sleep(500 * time.Microsecond)
		}
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	err := <-exited
	if err == nil {
		return false, detail + "; the run finished before the kill"
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("ingest failed before it was killed: %v\n%s", err, stderr)
	}
	return true, detail
}

// crashManifests reads every partition manifest of the table: dt → bytes.
func crashManifests(t *testing.T, lakeDir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dirs, err := filepath.Glob(filepath.Join(lakeDir, crashTable, "dt=*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, lake.ManifestName))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(filepath.Base(d), "dt=")] = b
	}
	return out
}

// crashReadDir reads every file of dir: name → bytes.
func crashReadDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func mapsEqualBytes(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// crashChanged counts the partitions whose manifest differs from before.
func crashChanged(before, now map[string][]byte) int {
	n := 0
	for dt, b := range now {
		if !bytes.Equal(before[dt], b) {
			n++
		}
	}
	return n
}

// crashCheckLake checks every manifest against the files it lists, and that
// each partition is either as it was before (same bytes) or in a new state
// committed by one run, one generation later. It returns the manifests.
func crashCheckLake(t *testing.T, lakeDir string, before map[string][]byte) map[string][]byte {
	t.Helper()
	now := crashManifests(t, lakeDir)
	newRuns := map[string]bool{}
	for dt, old := range before {
		if _, ok := now[dt]; !ok {
			t.Errorf("dt=%s: the committed manifest disappeared", dt)
			continue
		}
		if bytes.Equal(old, now[dt]) {
			continue // the old committed state
		}
		om := svcParseManifest(t, crashTable, dt, old)
		nm := svcParseManifest(t, crashTable, dt, now[dt])
		if nm.Generation != om.Generation+1 || nm.RunID == om.RunID {
			t.Errorf("dt=%s: generation %d by run %s follows generation %d by run %s", dt, nm.Generation, nm.RunID, om.Generation, om.RunID)
		}
		newRuns[nm.RunID] = true
	}
	for dt, b := range now {
		m := svcParseManifest(t, crashTable, dt, b)
		if _, ok := before[dt]; !ok {
			if m.Generation != 1 {
				t.Errorf("dt=%s: a new partition starts at generation %d", dt, m.Generation)
			}
			newRuns[m.RunID] = true
		}
		crashVerifyFiles(t, lakeDir, m)
	}
	if len(newRuns) > 1 {
		t.Errorf("one run changed the lake, but manifests name runs %v", newRuns)
	}
	return now
}

// crashVerifyFiles recomputes the size and SHA-256 of every file m lists.
func crashVerifyFiles(t *testing.T, lakeDir string, m *lake.Manifest) {
	t.Helper()
	var rows, size int64
	for _, f := range m.Files {
		rows += f.Rows
		size += f.Bytes
		data, err := os.ReadFile(filepath.Join(lakeDir, filepath.FromSlash(m.Key(f))))
		if err != nil {
			t.Errorf("dt=%s lists %s: %v", m.Date, f.Name, err)
			continue
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("dt=%s: %s has %d bytes, sha256 %x; the manifest says %d bytes, sha256 %s",
				m.Date, f.Name, len(data), sum, f.Bytes, f.SHA256)
		}
	}
	if rows != m.Rows || size != m.Bytes {
		t.Errorf("dt=%s: files hold %d rows in %d bytes, the manifest says %d rows in %d bytes", m.Date, rows, size, m.Rows, m.Bytes)
	}
}

// crashCheckNoDuplicates queries the committed rows for repeated keys.
func crashCheckNoDuplicates(t *testing.T, lakeDir string, manifests map[string][]byte) {
	t.Helper()
	if len(manifests) == 0 {
		return // nothing committed, nothing to query
	}
	out := cliQuery(t, lakeDir, "SELECT count(*) - count(DISTINCT transaction_id) AS d FROM transactions")
	if d := cliCSVInt(t, out); d != 0 {
		t.Errorf("%d duplicate transaction_id rows in the committed lake", d)
	}
}

// crashLakeHash is an order-independent hash of every committed row,
// including its partition, with the row count.
func crashLakeHash(t *testing.T, lakeDir string) string {
	t.Helper()
	// Without tags: runs that commit dates in another order (a parallel
	// backfill) may tag differently; see cliRowsHash.
	out := cliQuery(t, lakeDir, "SELECT count(*) AS n, sum(hash(t)) AS h FROM (SELECT * EXCLUDE (tags) FROM transactions) t")
	return strings.TrimSpace(strings.TrimPrefix(out, "n,h\n"))
}

// crashCheckNoGarbage checks that every data file under dt=* is listed by
// its partition's manifest.
func crashCheckNoGarbage(t *testing.T, lakeDir string, manifests map[string][]byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(lakeDir, crashTable, "dt=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for dt, b := range manifests {
		m := svcParseManifest(t, crashTable, dt, b)
		for _, f := range m.Files {
			listed[filepath.Join(lakeDir, filepath.FromSlash(m.Key(f)))] = true
		}
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("unlisted data file left behind: %s", f)
		}
	}
}
