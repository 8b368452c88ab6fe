package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/jobs/verify"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/mem"
)

const table = "transactions"

// memLake ingests n small sources of one day into a fresh mem store (the
// reference implementation of storage classes), one contribution each.
func memLake(t *testing.T, n int) (*mem.Store, []string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := gen.Generate(t.Context(), gen.Options{OutDir: dir, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 1, RowsPerDay: 40 * n, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "transactions-2026-01-01.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	s, err := schemas.Load(filepath.Join("..", "..", "schemas", "transactions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st := mem.New()
	var srcs []string
	for i := 0; i < n; i++ {
		src := filepath.Join(dir, fmt.Sprintf("s%02d.jsonl", i))
		if err := os.WriteFile(src, []byte(strings.Join(lines[i*40:(i+1)*40], "")), 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
		if _, err := ingest.Run(t.Context(), ingest.Options{Schema: s, Sources: []string{src}, Store: st, LakeURL: "mem://"}); err != nil {
			t.Fatal(err)
		}
	}
	return st, srcs
}

func mustVerify(t *testing.T, st storage.Store) *verify.Result {
	t.Helper()
	res, err := verify.Run(t.Context(), verify.Options{Store: st, OrphanGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("verify: %+v", res.Partitions[0].Problems)
	}
	return res
}

// TestStorageClassAndRestore runs the whole class cycle on the reference
// store: DEEP_ARCHIVE is recorded in the manifest, verify checks existence
// and size only, the files cannot be read, restore makes them readable,
// and STANDARD clears the class.
func TestStorageClassAndRestore(t *testing.T) {
	st, _ := memLake(t, 3)
	const dt = "2026-01-01"
	var locks []string
	lock := func(ctx context.Context, table, dt string, fn func(ctx context.Context) error) error {
		locks = append(locks, table+"/"+dt)
		return fn(ctx)
	}
	res, err := Run(t.Context(), Options{Store: st, Table: table, OlderThan: 24 * time.Hour, StorageClass: "DEEP_ARCHIVE", Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reclassed == 0 || len(locks) != res.Reclassed {
		t.Errorf("reclassed %d partitions under %d locks, want every swap under the lock", res.Reclassed, len(locks))
	}
	m, err := lake.ReadManifest(t.Context(), st, table, dt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.StorageClass != "DEEP_ARCHIVE" {
			t.Errorf("%s: manifest records class %q", f.Name, f.StorageClass)
		}
	}
	if _, err := st.Open(t.Context(), m.Key(m.Files[0])); !errors.Is(err, storage.ErrArchived) {
		t.Errorf("open an archived file: %v, want ErrArchived", err)
	}
	vr := mustVerify(t, st)
	if vr.Partitions[0].Archived == 0 {
		t.Error("verify does not count the archived files")
	}

	// Compaction leaves archived files alone.
	cres, err := Run(t.Context(), Options{Store: st, Table: table, OlderThan: 24 * time.Hour, Compact: true, TargetFileSize: 1 << 20})
	if err != nil || cres.Compacted != 0 {
		t.Errorf("compaction of an archived partition: %d compacted, %v", cres.Compacted, err)
	}

	rr, err := Restore(t.Context(), RestoreOptions{Store: st, Table: table, From: dt, To: dt, DryRun: true})
	if err != nil || rr.Ready || rr.Partitions[0].Requested != 0 {
		t.Fatalf("restore --dry-run: %+v, %v", rr, err)
	}
	rr, err = Restore(t.Context(), RestoreOptions{Store: st, Table: table, From: dt, To: dt, Days: 1, Tier: "Bulk"})
	if err != nil || rr.Partitions[0].Requested != len(m.Files) {
		t.Fatalf("restore: %+v, %v", rr, err)
	}
	rr, err = Restore(t.Context(), RestoreOptions{Store: st, Table: table, From: dt, To: dt})
	if err != nil || !rr.Ready || rr.Partitions[0].Restored != len(m.Files) || rr.Partitions[0].Requested != 0 {
		t.Fatalf("restore again: %+v, %v", rr, err)
	}
	if obj, err := st.Open(t.Context(), m.Key(m.Files[0])); err != nil {
		t.Errorf("open a restored file: %v", err)
	} else {
		obj.Close()
	}

	if _, err := Run(t.Context(), Options{Store: st, Table: table, OlderThan: 24 * time.Hour, StorageClass: "STANDARD"}); err != nil {
		t.Fatal(err)
	}
	m, _ = lake.ReadManifest(t.Context(), st, table, dt)
	for _, f := range m.Files {
		if f.StorageClass != "" {
			t.Errorf("%s: class %q after moving back to STANDARD", f.Name, f.StorageClass)
		}
	}
	if vr := mustVerify(t, st); vr.Partitions[0].Archived != 0 || vr.Files == 0 {
		t.Errorf("verify after STANDARD: %d archived, %d files read", vr.Partitions[0].Archived, vr.Files)
	}
}

// TestCompactionCommitsUnderTheLockAndChecksGeneration: a partition that
// changed between the compaction's read and its swap is not overwritten.
func TestCompactionCommitsUnderTheLockAndChecksGeneration(t *testing.T) {
	st, srcs := memLake(t, 4)
	before, err := lake.ReadManifest(t.Context(), st, table, "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schemas.Load(filepath.Join("..", "..", "schemas", "transactions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Table: table, OlderThan: 24 * time.Hour, Compact: true, TargetFileSize: 1 << 20,
		AfterCompactWrite: func(dt string) {
			if dt != "2026-01-01" {
				return
			}
			// Another run commits into the partition meanwhile.
			if _, err := ingest.Run(t.Context(), ingest.Options{Schema: s, Sources: srcs[:1], Store: st, LakeURL: "mem://"}); err != nil {
				t.Fatal(err)
			}
		}}
	_, err = Run(t.Context(), o)
	if !errors.Is(err, lake.ErrConcurrentChange) {
		t.Fatalf("compaction over a concurrent commit: %v, want ErrConcurrentChange", err)
	}
	after, err := lake.ReadManifest(t.Context(), st, table, "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation+1 || after.Rows != before.Rows {
		t.Errorf("after: generation %d, %d rows; want the concurrent commit's (generation %d, %d rows)", after.Generation, after.Rows, before.Generation+1, before.Rows)
	}
	mustVerify(t, st) // the compaction's files were removed, nothing is orphaned
}

func TestParseAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"12w", 12 * 7 * 24 * time.Hour, true},
		{"720h", 720 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"-1h", 0, false},
		{"d", 0, false},
		{"30 d", 0, false},
		{"1y", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAge(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseAge(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	if got := Cutoff(now, 30*24*time.Hour); got != "2026-03-01" {
		t.Errorf("Cutoff = %s, want 2026-03-01 (dt=2026-02-28 ended 30.5 days before)", got)
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30d", "12w", "720h", "1h30m", "999999w", "-5d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAge(s)
		if err == nil && d <= 0 {
			t.Errorf("ParseAge(%q) = %v without an error", s, d)
		}
	})
}
