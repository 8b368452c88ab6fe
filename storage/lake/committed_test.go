package lake

import (
	"testing"

	"github.com/txlake/txlake/storage/mem"
)

// A contribution counts as committed only when every partition its index
// lists holds it from the index's run, and run records list newest first.
func TestCommittedContributionAndRuns(t *testing.T) {
	const table = "transactions"
	ctx := t.Context()
	st := mem.New()
	key := JobDateKey("pay", "2026-01-02", "")
	src := []Source{{URL: "file:///a", Bytes: 3, Checksum: "sha256:aa"}}
	if _, _, ok, err := CommittedContribution(ctx, st, table, key); ok || err != nil {
		t.Fatalf("empty lake: ok=%v err=%v", ok, err)
	}
	commit := func(run string) {
		c := &Commit{Table: table, RunID: run, ContributionKey: key, Sources: src, SchemaFingerprint: "fp", Now: testNow,
			Partitions: map[string]*PartitionWrite{
				"2026-01-01": {Files: stage(t, st, table, "2026-01-01", run, key, 2), RowsWritten: 2},
				"2026-01-02": {Files: stage(t, st, table, "2026-01-02", run, key, 9), RowsWritten: 9},
			}}
		if _, err := c.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	commit("r1")
	c, dates, ok, err := CommittedContribution(ctx, st, table, key)
	if !ok || err != nil || c.RunID != "r1" || len(dates) != 2 || !SameSources(c.Sources, src) {
		t.Fatalf("after a commit: %+v %v ok=%v err=%v", c, dates, ok, err)
	}
	// A commit that widened the index for run r2 and died before the
	// manifests: not committed (a re-run completes it).
	ix, err := readIndex(ctx, st, table, ContributionID(key))
	if err != nil {
		t.Fatal(err)
	}
	ix.RunID = "r2"
	if err := writeJSON(ctx, st, ContributionIndexKey(table, ix.ID), ix); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := CommittedContribution(ctx, st, table, key); ok || err != nil {
		t.Fatalf("half-done commit counts as committed (ok=%v err=%v)", ok, err)
	}
	commit("r2")
	if c, _, ok, _ := CommittedContribution(ctx, st, table, key); !ok || c.RunID != "r2" {
		t.Fatalf("after the re-run: %+v ok=%v", c, ok)
	}

	for _, r := range []RunRef{{"pay", "20260101T000000Z-aa"}, {"pay", "20260103T000000Z-bb"}, {"drift", "20260102T000000Z-cc"}} {
		if err := WriteRun(ctx, st, r.Job, r.RunID, map[string]string{"run_id": r.RunID}); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := ListRuns(ctx, st, "")
	if err != nil || len(refs) != 3 || refs[0].RunID != "20260103T000000Z-bb" || refs[1].Job != "drift" {
		t.Fatalf("ListRuns: %v %v", refs, err)
	}
	if refs, _ := ListRuns(ctx, st, "pay"); len(refs) != 2 {
		t.Errorf("ListRuns(pay): %v", refs)
	}
	if _, err := ListRuns(ctx, st, "../x"); err == nil {
		t.Error("ListRuns accepted a bad job name")
	}
	var rec map[string]string
	if err := ReadRun(ctx, st, refs[0], &rec); err != nil || rec["run_id"] != refs[0].RunID {
		t.Errorf("ReadRun: %v %v", rec, err)
	}
}
