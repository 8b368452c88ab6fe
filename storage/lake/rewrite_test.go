package lake

import (
	"errors"
	"slices"
	"testing"

	"github.com/txlake/txlake/storage/mem"
)

// TestCommitRewrites: a contribution's commit swaps files of another
// contribution for their copy-on-write copies in the same manifest write,
// and the other contribution's row count follows.
func TestCommitRewrites(t *testing.T) {
	const table, dt = "payments", "2026-01-01"
	ctx := t.Context()
	st := mem.New()
	keyA, keyB := "pull:a:after=", "pull:a:after=x"
	filesA := stage(t, st, table, dt, "r1", keyA, 10, 4)
	c1 := &Commit{Table: table, RunID: "r1", ContributionKey: keyA, SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{dt: {Files: filesA, RowsWritten: 14}}, SeenGeneration: map[string]int64{dt: 0}}
	if _, err := c1.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}

	// B replaces 3 rows of A's first file and all 4 rows of its second.
	copyName := "part-r2-rw0.parquet"
	putFile(t, st, PartitionDir(table, dt)+copyName, "copy")
	copyFile := File{Name: copyName, Bytes: 4, Rows: 7, SHA256: "11", Contribution: ContributionID(keyA), SchemaFingerprint: "fp"}
	filesB := stage(t, st, table, dt, "r2", keyB, 7)
	c2 := &Commit{Table: table, RunID: "r2", ContributionKey: keyB, SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{dt: {Files: filesB, RowsWritten: 7,
			Rewrites: []Rewrite{{Old: filesA[0].Name, New: &copyFile}, {Old: filesA[1].Name}}}},
		SeenGeneration: map[string]int64{dt: 1}}
	if _, err := c2.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(ctx, st, table, dt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	if want := []string{filesB[0].Name, copyName}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	if m.Rows != 14 {
		t.Errorf("partition rows %d, want 14 (7 kept of A + 7 of B)", m.Rows)
	}
	if a, _ := m.Contribution(ContributionID(keyA)); a.RowsWritten != 7 {
		t.Errorf("contribution A rows_written %d, want 7", a.RowsWritten)
	}
	// The replaced files are garbage, collected by the commit.
	for _, f := range filesA {
		if _, err := st.Stat(ctx, PartitionDir(table, dt)+f.Name); err == nil {
			t.Errorf("%s still stored", f.Name)
		}
	}

	// A rewrite of a file the manifest no longer lists is a concurrent change.
	c3 := &Commit{Table: table, RunID: "r3", ContributionKey: "pull:a:after=y", SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r3", "pull:a:after=y", 1), RowsWritten: 1,
			Rewrites: []Rewrite{{Old: filesA[0].Name}}}}}
	if _, err := c3.Apply(ctx, st); !errors.Is(err, ErrConcurrentChange) {
		t.Fatalf("rewrite of an unlisted file: %v, want ErrConcurrentChange", err)
	}
}
