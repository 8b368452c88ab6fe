package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/archive"
	"github.com/txlake/txlake/jobs/verify"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
)

// archiveSmallFiles writes one day of gen data split into n sources of
// `lines` lines each and ingests them one by one, so partition 2026-01-01
// ends up with n small files of n contributions. It returns the lake and
// source paths.
func archiveSmallFiles(t *testing.T, n, lines int) (lakeDir string, sources []string) {
	t.Helper()
	tmp := t.TempDir()
	gen := filepath.Join(tmp, "gen")
	cliMust(t, "gen", "--out", gen, "--days", "1", "--rows-per-day", fmt.Sprint(n*lines), "--seed", "7")
	data, err := os.ReadFile(filepath.Join(gen, "transactions-2026-01-01.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	lakeDir = filepath.Join(tmp, "lake")
	for i := 0; i < n; i++ {
		src := filepath.Join(tmp, fmt.Sprintf("part-%03d.jsonl", i))
		end := min((i+1)*lines, len(all))
		if err := os.WriteFile(src, []byte(strings.Join(all[i*lines:end], "")), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, src)
		cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", src, "--log-level", "error")
	}
	return lakeDir, sources
}

// archiveManifest reads the manifest of one partition of the test table.
func archiveManifest(t *testing.T, lakeDir, dt string) *lake.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lakeDir, crashTable, "dt="+dt, lake.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	return svcParseManifest(t, crashTable, dt, b)
}

// archiveVerify runs verify --json and decodes the report.
func archiveVerify(t *testing.T, wantCode int, args ...string) (*verify.Result, cliResult) {
	t.Helper()
	r := cliRun(t, append([]string{"verify", "--json"}, args...)...)
	if r.code != wantCode {
		t.Fatalf("verify %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, wantCode, r.stdout, r.stderr)
	}
	var res verify.Result
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("verify stdout is not a report: %v\n%s", err, r.stdout)
	}
	return &res, r
}

var (
	reArchiveRun   = regexp.MustCompile(`[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}`)
	reArchiveSHA   = regexp.MustCompile(`[0-9a-f]{64}`)
	reArchiveBytes = regexp.MustCompile(`"(bytes_before|bytes_after|bytes|bytes_checked)": [0-9]+`)
	reArchiveSize  = regexp.MustCompile(`[0-9]+ bytes`)
	reArchiveCut   = regexp.MustCompile(`"(older_than_cutoff|delete_cutoff)": "[0-9-]+"`)
	reArchiveMod   = regexp.MustCompile(`modified [0-9TZ:-]+`)
)

// archiveNormalize replaces what differs between runs in archive and verify
// JSON: the lake path, run ids, hashes, byte sizes (the order of
// contributions in a compacted file follows their ids, which hash the
// temporary source paths; files are listed by run id, which is random),
// cutoffs (they follow the clock) and file times.
func archiveNormalize(s, lakeDir string) string {
	s = strings.ReplaceAll(s, lakeDir, "$LAKE")
	s = reArchiveRun.ReplaceAllString(s, "$$RUN_ID")
	s = reArchiveSHA.ReplaceAllString(s, "$$SHA256")
	s = reArchiveBytes.ReplaceAllString(s, `"$1": "$$BYTES"`)
	s = reArchiveCut.ReplaceAllString(s, `"$1": "$$CUTOFF"`)
	s = reArchiveSize.ReplaceAllString(s, "$$N bytes")
	return reArchiveMod.ReplaceAllString(s, "modified $$TIME")
}

// TestArchiveCompact200Files is the done-when of compaction: 200 small
// files of 200 contributions become files of the target size holding
// exactly the same rows; verify passes before and after, and re-ingesting
// one contribution afterwards still replaces exactly its rows.
func TestArchiveCompact200Files(t *testing.T) {
	const files, lines = 200, 12
	lakeDir, sources := archiveSmallFiles(t, files, lines)
	const dt = "2026-01-01"
	before := archiveManifest(t, lakeDir, dt)
	if len(before.Files) != files {
		t.Fatalf("setup: %d files in dt=%s, want %d", len(before.Files), dt, files)
	}
	wantRows := cliRowsHash(t, lakeDir)
	wantCount := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) FROM transactions"))
	vr, _ := archiveVerify(t, exitOK, "--lake", lakeDir)
	if !vr.OK || vr.Files < files {
		t.Fatalf("verify before: ok %v, %d files checked", vr.OK, vr.Files)
	}

	// Small files are ~7 KiB; aim for 64 KiB so the partition gets a few.
	const target = 64 << 10
	r := cliMust(t, "archive", "--lake", lakeDir, "--table", crashTable, "--older-than", "30d", "--compact", "--target-file-size", "64KiB", "--json")
	var res archive.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("archive --json: %v\n%s", err, r.stdout)
	}
	cliGolden(t, "archive-compact.json", archiveNormalize(r.stdout, lakeDir))

	after := archiveManifest(t, lakeDir, dt)
	var total int64
	for _, f := range after.Files {
		total += f.Bytes
	}
	wantFiles := int((total + target - 1) / target)
	if len(after.Files) < wantFiles || len(after.Files) > wantFiles+1 {
		t.Errorf("compaction left %d files of %d bytes in all; want about %d files of %d bytes", len(after.Files), total, wantFiles, target)
	}
	for i, f := range after.Files {
		if i < len(after.Files)-1 && (f.Bytes < target/2 || f.Bytes > target*3/2) {
			t.Errorf("compacted file %s is %d bytes, target %d", f.Name, f.Bytes, target)
		}
		if len(f.Segments) < 2 {
			t.Errorf("compacted file %s records %d contribution segments, want the contributions it merged", f.Name, len(f.Segments))
		}
	}
	if after.Rows != before.Rows || after.Generation != before.Generation+1 || len(after.Contributions) != len(before.Contributions) {
		t.Errorf("manifest after: %d rows gen %d %d contributions; before: %d rows gen %d %d contributions",
			after.Rows, after.Generation, len(after.Contributions), before.Rows, before.Generation, len(before.Contributions))
	}
	entries, err := os.ReadDir(filepath.Join(lakeDir, crashTable, "dt="+dt))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(after.Files)+1 {
		t.Errorf("the partition directory holds %d entries, want the %d listed files and the manifest (old files deleted)", len(entries), len(after.Files))
	}
	if got := cliRowsHash(t, lakeDir); got != wantRows {
		t.Errorf("rows after compaction differ (DuckDB hash %s, before %s)", got, wantRows)
	}
	if got := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) FROM transactions")); got != wantCount {
		t.Errorf("count after compaction %d, before %d", got, wantCount)
	}
	vr, _ = archiveVerify(t, exitOK, "--lake", lakeDir, "--orphan-grace", "0")
	if !vr.OK {
		t.Fatalf("verify after compaction: %+v", vr.Partitions)
	}
	archivePyarrowCheck(t, lakeDir)

	// A second run finds nothing left to compact.
	r = cliMust(t, "archive", "--lake", lakeDir, "--table", crashTable, "--older-than", "30d", "--compact", "--target-file-size", "64KiB", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Compacted != 0 {
		t.Errorf("second compaction: compacted %d partitions (%v)", res.Compacted, err)
	}

	// Re-ingesting one merged contribution replaces exactly its rows.
	cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", sources[17], "--log-level", "error")
	if got := cliRowsHash(t, lakeDir); got != wantRows {
		t.Errorf("after re-ingesting one compacted contribution the rows differ (%s, want %s)", got, wantRows)
	}
	re := archiveManifest(t, lakeDir, dt)
	if re.Rows != before.Rows {
		t.Errorf("after the re-ingest the partition holds %d rows, want %d", re.Rows, before.Rows)
	}
	archiveVerify(t, exitOK, "--lake", lakeDir, "--orphan-grace", "0")
}

// TestVerifyCatchesFlippedByte flips one byte in the middle of an archived
// (compacted) file: verify exits 1 and names the file.
func TestVerifyCatchesFlippedByte(t *testing.T) {
	lakeDir, _ := archiveSmallFiles(t, 6, 40)
	cliMust(t, "archive", "--lake", lakeDir, "--table", crashTable, "--older-than", "30d", "--compact")
	m := archiveManifest(t, lakeDir, "2026-01-01")
	victim := m.Files[0]
	path := filepath.Join(lakeDir, crashTable, "dt=2026-01-01", victim.Name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, r := archiveVerify(t, exitFailure, "--lake", lakeDir)
	if res.OK || res.Problems == 0 {
		t.Fatal("verify --json reports ok for a flipped byte")
	}
	var found bool
	for _, p := range res.Partitions {
		for _, pr := range p.Problems {
			if pr.Kind == verify.KindSHA256 && pr.File == victim.Name {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("verify does not report a sha256 problem for %s:\n%s", victim.Name, r.stdout)
	}
	cliGolden(t, "verify-flipped.json", archiveNormalize(r.stdout, lakeDir))
	text := cliRun(t, "verify", "--lake", lakeDir)
	if text.code != exitFailure || !strings.Contains(text.stdout, victim.Name) || !strings.Contains(text.stdout, "sha256") {
		t.Errorf("verify (text): exit %d, want 1 and a line naming %s\n%s", text.code, victim.Name, text.stdout)
	}
}

// TestVerifyOrphansAndRepair: unlisted files past the grace period are
// orphans, younger ones are pending (a run in flight); a partition
// directory without a manifest is reported; --repair deletes orphans only.
func TestVerifyOrphansAndRepair(t *testing.T) {
	lakeDir, _ := archiveSmallFiles(t, 2, 30)
	dir := filepath.Join(lakeDir, crashTable, "dt=2026-01-01")
	m := archiveManifest(t, lakeDir, "2026-01-01")
	listed, err := os.ReadFile(filepath.Join(dir, m.Files[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-7 * time.Hour)
	write := func(path string, mod time.Time) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, listed, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	orphan := filepath.Join(dir, "part-20250101T000000Z-aaaaaa-0.parquet")
	pending := filepath.Join(dir, "part-20991231T000000Z-bbbbbb-0.parquet")
	stray := filepath.Join(lakeDir, crashTable, "dt=2025-12-31", "part-20250101T000000Z-cccccc-0.parquet")
	write(orphan, old)
	write(pending, time.Now())
	write(stray, old)

	res, r := archiveVerify(t, exitFailure, "--lake", lakeDir)
	kinds := map[string]string{}
	var pend []string
	for _, p := range res.Partitions {
		for _, pr := range p.Problems {
			kinds[p.Date+"/"+pr.File] = pr.Kind
		}
		pend = append(pend, p.Pending...)
	}
	want := map[string]string{
		"2026-01-01/" + filepath.Base(orphan): verify.KindOrphan,
		"2025-12-31/" + filepath.Base(stray):  verify.KindOrphan,
		"2025-12-31/":                         verify.KindNoManifest,
	}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("verify: %s reported as %q, want %q\n%s", k, kinds[k], v, r.stdout)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("verify reports %d problems, want %d: %v", len(kinds), len(want), kinds)
	}
	if len(pend) != 1 || pend[0] != filepath.Base(pending) {
		t.Errorf("pending files %v, want the young one", pend)
	}
	cliGolden(t, "verify-orphans.json", archiveNormalize(r.stdout, lakeDir))

	res, _ = archiveVerify(t, exitOK, "--lake", lakeDir, "--repair")
	if len(res.Repaired) != 2 {
		t.Errorf("--repair deleted %v, want the two orphans", res.Repaired)
	}
	for _, p := range []string{orphan, stray} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after --repair", p)
		}
	}
	if _, err := os.Stat(pending); err != nil {
		t.Errorf("--repair deleted the young (pending) file: %v", err)
	}
	for _, f := range m.Files {
		if _, err := os.Stat(filepath.Join(dir, f.Name)); err != nil {
			t.Errorf("--repair touched listed file %s: %v", f.Name, err)
		}
	}
	// With no grace the young file is an orphan too.
	archiveVerify(t, exitFailure, "--lake", lakeDir, "--orphan-grace", "0")
}

// TestArchiveRetention: --delete-after lists the partitions past retention
// and deletes nothing without --yes (or with --dry-run); with --yes they
// are gone, manifest first, then files; younger partitions stay.
func TestArchiveRetention(t *testing.T) {
	tmp := t.TempDir()
	lakeDir := filepath.Join(tmp, "lake")
	cliGen(t, filepath.Join(tmp, "gen"))
	cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", filepath.Join(tmp, "gen", "*.jsonl"), "--log-level", "error")
	// An age whose cutoff is 2026-01-02: dt=2026-01-01 is past it.
	age := fmt.Sprintf("%dh", int(time.Since(time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC))/time.Hour))
	keepRows := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) FROM transactions WHERE dt >= DATE '2026-01-02'"))
	list := func(args ...string) *archive.Result {
		t.Helper()
		r := cliMust(t, append([]string{"archive", "--lake", lakeDir, "--table", crashTable, "--older-than", "1h", "--delete-after", age, "--json"}, args...)...)
		var res archive.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		return &res
	}
	var old []string // partitions past retention
	for _, m := range cliManifests(t, lakeDir) {
		if dt := strings.TrimPrefix(filepath.Base(filepath.Dir(m)), "dt="); dt < "2026-01-02" {
			old = append(old, dt)
		}
	}
	total := len(cliManifests(t, lakeDir))
	if len(old) == 0 || len(old) == total {
		t.Fatalf("setup: %d of %d partitions before 2026-01-02", len(old), total)
	}
	for _, args := range [][]string{nil, {"--yes", "--dry-run"}} {
		res := list(args...)
		if res.PendingDeletes != len(old) || res.Deleted != 0 || len(res.Partitions) != len(old) || res.Partitions[0].Retention != "would_delete" {
			t.Errorf("archive %v: %+v, want %v listed as would_delete", args, res, old)
		}
		if len(cliManifests(t, lakeDir)) != total {
			t.Fatalf("archive %v deleted a partition", args)
		}
	}
	text := cliMust(t, "archive", "--lake", lakeDir, "--table", crashTable, "--older-than", "1h", "--delete-after", age)
	if !strings.Contains(text.stdout, "NOT deleted") || !strings.Contains(text.stdout, "dt="+old[0]) {
		t.Errorf("text report does not list the partitions it would delete:\n%s", text.stdout)
	}
	res := list("--yes")
	if res.Deleted != len(old) || res.Partitions[0].Retention != "deleted" {
		t.Errorf("archive --yes: %+v", res)
	}
	for _, dt := range old {
		if _, err := os.Stat(filepath.Join(lakeDir, crashTable, "dt="+dt, lake.ManifestName)); !os.IsNotExist(err) {
			t.Errorf("the deleted partition %s still has a manifest: %v", dt, err)
		}
		left, _ := filepath.Glob(filepath.Join(lakeDir, crashTable, "dt="+dt, "*.parquet"))
		if len(left) != 0 {
			t.Errorf("files left in the deleted partition: %v", left)
		}
	}
	if got := cliCSVInt(t, cliQuery(t, lakeDir, "SELECT count(*) FROM transactions")); got != keepRows {
		t.Errorf("after retention the table holds %d rows, want the %d from 2026-01-02 on", got, keepRows)
	}
	archiveVerify(t, exitOK, "--lake", lakeDir, "--orphan-grace", "0")
}

// TestArchiveUsageErrors: bad flags exit 2 with a clear message.
func TestArchiveUsageErrors(t *testing.T) {
	lakeDir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no table", []string{"archive", "--older-than", "30d", "--compact"}, "--table"},
		{"bad age", []string{"archive", "--table", "t", "--older-than", "30x", "--compact"}, "30x"},
		{"nothing to do", []string{"archive", "--table", "t", "--older-than", "30d"}, "nothing to do"},
		{"yes without retention", []string{"archive", "--table", "t", "--older-than", "30d", "--compact", "--yes"}, "--yes"},
		{"bad size", []string{"archive", "--table", "t", "--older-than", "30d", "--compact", "--target-file-size", "huge"}, "huge"},
		{"bad class", []string{"archive", "--lake", lakeDir, "--table", "t", "--older-than", "30d", "--storage-class", "COLD"}, "COLD"},
		{"class on a file lake", []string{"archive", "--lake", lakeDir, "--table", "t", "--older-than", "30d", "--storage-class", "GLACIER_IR"}, "storage classes"},
		{"bad table", []string{"archive", "--lake", lakeDir, "--table", "../x", "--older-than", "30d", "--compact"}, "invalid table"},
		{"archive unknown table", []string{"archive", "--lake", lakeDir, "--table", "nosuch", "--older-than", "30d", "--compact"}, "no such table"},
		{"verify unknown table", []string{"verify", "--lake", lakeDir, "--table", "nosuch"}, "no such table"},
		{"restore unknown table", []string{"restore", "--lake", lakeDir, "--table", "nosuch", "--from", "2026-01-01", "--to", "2026-01-02"}, "no such table"},
		{"verify bad range", []string{"verify", "--lake", lakeDir, "--from", "2026-02-01", "--to", "2026-01-01"}, "after"},
		{"restore without range", []string{"restore", "--lake", lakeDir, "--table", "t"}, "--from"},
		{"restore bad tier", []string{"restore", "--lake", lakeDir, "--table", "t", "--from", "2026-01-01", "--to", "2026-01-02", "--tier", "Fast"}, "Fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cliRun(t, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("exit %d, want 2 with %q in:\n%s", r.code, tc.msg, r.stderr)
			}
		})
	}
	if got := bytes.Count([]byte(cliRun(t, "archive", "--help").stdout), []byte("75")); got == 0 {
		t.Error("archive --help does not list the exit codes")
	}
}

// TestCrashDuringCompaction SIGKILLs `txlake archive --compact` (the real
// binary) at points spread over its run and at its commit steps (new files
// stored, manifest swapped): the partition is always in its old or its new
// committed state with the same rows, and a re-run plus verify --repair
// leave a clean lake.
func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds the binary")
	}
	bin := txlakeBinary(t)
	template, _ := archiveSmallFiles(t, 60, 300)
	want := crashLakeHash(t, template)
	compact := func(lakeDir string) *exec.Cmd {
		return exec.CommandContext(t.Context(), bin, "archive", "--lake", lakeDir, "--table", crashTable,
			"--older-than", "30d", "--compact", "--target-file-size", "256KiB", "--log-format", "json")
	}
	copyLake := func(name string) string {
		dst := filepath.Join(t.TempDir(), name)
		if err := os.CopyFS(dst, os.DirFS(template)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	ref := copyLake("ref")
	began := time.Now()
	if out, err := compact(ref).CombinedOutput(); err != nil {
		t.Fatalf("clean compaction: %v\n%s", err, out)
	}
	fullRun := time.Since(began) // only drives the kill delays
	if got := crashLakeHash(t, ref); got != want {
		t.Fatalf("a clean compaction changed the rows: %s, want %s", got, want)
	}
	t.Logf("clean compaction %v", fullRun.Round(time.Millisecond))

	type kill struct {
		frac     float64 // of a clean run's wall time
		newFiles bool    // as soon as a compacted file is stored
		swapped  bool    // as soon as a manifest changed
	}
	kills := []kill{{frac: 0.2}, {frac: 0.5}, {frac: 0.8}, {newFiles: true}, {swapped: true}, {frac: 0.65}, {newFiles: true}, {swapped: true}}
	var killed int
	for i, k := range kills {
		t.Run(fmt.Sprintf("%02d %+v", i, k), func(t *testing.T) {
			lakeDir := copyLake(fmt.Sprint(i))
			before := crashManifests(t, lakeDir)
			cmd := compact(lakeDir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.Now().Add(time.Duration(k.frac * float64(fullRun)))
			finished := false
		poll:
			for {
				select {
				case err := <-exited:
					if err != nil {
						t.Fatalf("archive failed before it was killed: %v\n%s", err, &stderr)
					}
					finished = true
					break poll
				default:
				}
				switch {
				case k.frac > 0 && !time.Now().Before(deadline):
					break poll
				case k.newFiles:
					if m, _ := filepath.Glob(filepath.Join(lakeDir, crashTable, "dt=*", "*-c*.parquet")); len(m) > 0 {
						break poll
					}
				case k.swapped:
					if crashChanged(before, crashManifests(t, lakeDir)) > 0 {
						break poll
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
			if !finished {
				if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Fatal(err)
				}
				if err := <-exited; err != nil {
					killed++
				}
			}
			after := crashCheckLake(t, lakeDir, before)
			if got := crashLakeHash(t, lakeDir); got != want {
				t.Errorf("after the kill the lake holds %s, want %s", got, want)
			}
			t.Logf("%d of %d partitions in their compacted state", crashChanged(before, after), len(after))

			if out, err := compact(lakeDir).CombinedOutput(); err != nil {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			cliMust(t, "verify", "--lake", lakeDir, "--orphan-grace", "0", "--repair")
			done := crashManifests(t, lakeDir)
			crashCheckNoGarbage(t, lakeDir, done)
			if got := crashLakeHash(t, lakeDir); got != want {
				t.Errorf("after the re-run the lake holds %s, want %s", got, want)
			}
			for dt, b := range done {
				if m := svcParseManifest(t, crashTable, dt, b); dt == "2026-01-01" && len(m.Files) > 8 {
					t.Errorf("dt=%s still has %d files after the re-run", dt, len(m.Files))
				}
			}
		})
	}
	t.Logf("%d of %d runs were killed before they finished", killed, len(kills))
}

// archivePyarrowCheck reads the lake with pyarrow (testdata/interop/
// check_parquet.py): the compacted files keep ingest's contract (column
// types and order, zstd, the schema's key-value metadata) and hold the
// manifests' rows. Without the Python venv it only logs, or fails under
// TXLAKE_REQUIRE_SERVICES=1.
func archivePyarrowCheck(t *testing.T, lakeDir string) {
	t.Helper()
	py := os.Getenv("TXLAKE_PYTHON")
	if py == "" {
		py = filepath.Join("..", "..", ".cache", "venv", "bin", "python")
	}
	if _, err := exec.LookPath(py); err != nil {
		msg := fmt.Sprintf("no Python with pyarrow at %s (make deps, or set TXLAKE_PYTHON)", py)
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Log(msg + "; pyarrow check not run")
		return
	}
	s, err := schemas.Load(cliSchema)
	if err != nil {
		t.Fatal(err)
	}
	cols := s.ColumnNames()
	out, err := exec.CommandContext(t.Context(), py, filepath.Join("..", "..", "testdata", "interop", "check_parquet.py"),
		"--lake", lakeDir, "--table", crashTable, "--columns", strings.Join(cols, ",")).Output()
	var summary struct {
		Pyarrow      string   `json:"pyarrow"`
		Rows         int64    `json:"rows"`
		ManifestRows int64    `json:"manifest_rows"`
		OK           bool     `json:"ok"`
		Errors       []string `json:"errors"`
	}
	if jerr := json.Unmarshal(out, &summary); jerr != nil || err != nil || !summary.OK || summary.Rows != summary.ManifestRows {
		t.Fatalf("pyarrow check of the compacted lake: %v %v %+v\n%s", err, jerr, summary, out)
	}
	t.Logf("pyarrow %s reads %d rows from the compacted lake", summary.Pyarrow, summary.Rows)
}
