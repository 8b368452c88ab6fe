package lake

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/mem"
)

var testNow = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func putFile(t *testing.T, st storage.Store, key, body string) {
	t.Helper()
	if err := st.Put(t.Context(), key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func keys(t *testing.T, st storage.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return out
}

// stage stores data files for a commit and returns their File entries.
func stage(t *testing.T, st storage.Store, table, dt, runID, contribKey string, rows ...int64) []File {
	t.Helper()
	var files []File
	for i, n := range rows {
		name := DataFileName(runID, i)
		putFile(t, st, PartitionDir(table, dt)+name, "data-"+name)
		files = append(files, File{Name: name, Bytes: int64(len("data-" + name)), Rows: n, SHA256: "00",
			Contribution: ContributionID(contribKey), SchemaFingerprint: "fp"})
	}
	return files
}

func TestCommitApply(t *testing.T) {
	const table = "transactions"
	ctx := t.Context()
	st := mem.New()
	keyA, keyB := "job:a:2026-01-01", "job:b:2026-01-01"

	// 1. Contribution A creates two partitions.
	c1 := &Commit{Table: table, RunID: "r1", ContributionKey: keyA, SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{
			"2026-01-01": {Files: stage(t, st, table, "2026-01-01", "r1", keyA, 10, 5), RowsWritten: 15},
			"2026-01-02": {Files: stage(t, st, table, "2026-01-02", "r1", keyA, 7), RowsWritten: 7, RowsDuplicate: 2},
		},
		SeenGeneration: map[string]int64{"2026-01-01": 0, "2026-01-02": 0}}
	res, err := c1.Apply(ctx, st)
	if err != nil {
		t.Fatalf("apply 1: %v", err)
	}
	if len(res) != 2 || res[0].Action != "created" || res[1].Action != "created" {
		t.Fatalf("apply 1 results = %+v, want two created", res)
	}
	m, err := ReadManifest(ctx, st, table, "2026-01-01")
	if err != nil || m == nil {
		t.Fatalf("read manifest: %v %v", m, err)
	}
	if m.Generation != 1 || m.Rows != 15 || len(m.Files) != 2 || len(m.Contributions) != 1 || m.Contributions[0].Key != keyA {
		t.Fatalf("manifest 1 = %+v", m)
	}
	if dates, err := PreviousDates(ctx, st, table, keyA); err != nil || !slices.Equal(dates, []string{"2026-01-01", "2026-01-02"}) {
		t.Fatalf("PreviousDates = %v, %v", dates, err)
	}

	// 2. Contribution B adds to 2026-01-01; A's files stay.
	c2 := &Commit{Table: table, RunID: "r2", ContributionKey: keyB, SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{
			"2026-01-01": {Files: stage(t, st, table, "2026-01-01", "r2", keyB, 3), RowsWritten: 3},
		},
		SeenGeneration: map[string]int64{"2026-01-01": 1}}
	res, err = c2.Apply(ctx, st)
	if err != nil {
		t.Fatalf("apply 2: %v", err)
	}
	if len(res) != 1 || res[0].Action != "updated" || res[0].RowsTotal != 18 || res[0].Generation != 2 {
		t.Fatalf("apply 2 results = %+v", res)
	}

	// 3. A is re-ingested and now only touches 2026-01-01: its files there
	// are replaced, 2026-01-02 loses its rows, B is untouched.
	c3 := &Commit{Table: table, RunID: "r3", ContributionKey: keyA, SchemaFingerprint: "fp", Now: testNow,
		Partitions: map[string]*PartitionWrite{
			"2026-01-01": {Files: stage(t, st, table, "2026-01-01", "r3", keyA, 4), RowsWritten: 4},
		},
		SeenGeneration: map[string]int64{"2026-01-01": 2}}
	res, err = c3.Apply(ctx, st)
	if err != nil {
		t.Fatalf("apply 3: %v", err)
	}
	got := map[string]PartitionResult{}
	for _, r := range res {
		got[r.Date] = r
	}
	if r := got["2026-01-01"]; r.Action != "replaced" || r.RowsTotal != 7 || r.Generation != 3 {
		t.Errorf("2026-01-01 = %+v, want replaced with 7 rows at generation 3", r)
	}
	if r := got["2026-01-02"]; r.Action != "removed" || r.RowsTotal != 0 {
		t.Errorf("2026-01-02 = %+v, want removed with 0 rows", r)
	}
	m, _ = ReadManifest(ctx, st, table, "2026-01-01")
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	if want := []string{DataFileName("r2", 0), DataFileName("r3", 0)}; !slices.Equal(names, want) {
		t.Errorf("files after replace = %v, want %v", names, want)
	}
	if len(m.Contributions) != 2 {
		t.Errorf("contributions = %+v, want A and B", m.Contributions)
	}
	// r1's files are garbage-collected from both partitions.
	wantKeys := []string{
		PartitionDir(table, "2026-01-01") + ManifestName,
		PartitionDir(table, "2026-01-01") + DataFileName("r2", 0),
		PartitionDir(table, "2026-01-01") + DataFileName("r3", 0),
	}
	if k := keys(t, st, PartitionDir(table, "2026-01-01")); !slices.Equal(k, wantKeys) {
		t.Errorf("keys in 2026-01-01 = %v, want %v", k, wantKeys)
	}
	if k := keys(t, st, PartitionDir(table, "2026-01-02")); !slices.Equal(k, []string{ManifestKey(table, "2026-01-02")}) {
		t.Errorf("keys in 2026-01-02 = %v, want only the manifest", k)
	}
	m2, _ := ReadManifest(ctx, st, table, "2026-01-02")
	if m2 == nil || len(m2.Files) != 0 || len(m2.Contributions) != 0 || m2.Rows != 0 {
		t.Errorf("2026-01-02 manifest = %+v, want empty", m2)
	}
	if dates, _ := PreviousDates(ctx, st, table, keyA); !slices.Equal(dates, []string{"2026-01-01"}) {
		t.Errorf("PreviousDates after narrowing = %v", dates)
	}
}

func TestCommitConcurrentChange(t *testing.T) {
	const table = "transactions"
	ctx := t.Context()
	st := mem.New()
	c1 := &Commit{Table: table, RunID: "r1", ContributionKey: "k1", Now: testNow,
		Partitions: map[string]*PartitionWrite{"2026-01-01": {Files: stage(t, st, table, "2026-01-01", "r1", "k1", 1), RowsWritten: 1}}}
	if _, err := c1.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	// A run that loaded the partition before c1 committed (generation 0).
	c2 := &Commit{Table: table, RunID: "r2", ContributionKey: "k2", Now: testNow,
		Partitions:     map[string]*PartitionWrite{"2026-01-01": {Files: stage(t, st, table, "2026-01-01", "r2", "k2", 1), RowsWritten: 1}},
		SeenGeneration: map[string]int64{"2026-01-01": 0}}
	_, err := c2.Apply(ctx, st)
	if !errors.Is(err, ErrConcurrentChange) {
		t.Fatalf("apply with stale generation: err = %v, want ErrConcurrentChange", err)
	}
	m, _ := ReadManifest(ctx, st, table, "2026-01-01")
	if m.Generation != 1 || len(m.Files) != 1 || m.Files[0].Name != DataFileName("r1", 0) {
		t.Errorf("manifest changed by a rejected commit: %+v", m)
	}
}

func TestCollectGarbage(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	dir := PartitionDir(table, dt)
	for _, name := range []string{"listed.parquet", "orphan.parquet", "part-running-0.parquet", "_manifest.json", "_other", ".hidden", "sub/nested.parquet"} {
		putFile(t, st, dir+name, "x")
	}
	putFile(t, st, PartitionDir(table, "2026-01-02")+"orphan.parquet", "x")
	m := &Manifest{Table: table, Date: dt, Files: []File{{Name: "listed.parquet"}}}

	deleted, err := CollectGarbage(t.Context(), st, m, "running")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{dir + "orphan.parquet"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted = %v, want %v", deleted, want)
	}
	want := []string{dir + ".hidden", dir + "_manifest.json", dir + "_other", dir + "listed.parquet", dir + "part-running-0.parquet", dir + "sub/nested.parquet"}
	if k := keys(t, st, dir); !slices.Equal(k, want) {
		t.Errorf("remaining = %v, want %v", k, want)
	}
	if k := keys(t, st, PartitionDir(table, "2026-01-02")); len(k) != 1 {
		t.Errorf("another partition was touched: %v", k)
	}

	// keepRun "" keeps none of the unlisted files.
	deleted, err = CollectGarbage(t.Context(), st, m, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{dir + "part-running-0.parquet"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted = %v, want %v", deleted, want)
	}
}

func TestValidateTable(t *testing.T) {
	for _, name := range []string{"transactions", "t", "a_b_1", strings.Repeat("a", 63)} {
		if err := ValidateTable(name); err != nil {
			t.Errorf("ValidateTable(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"../x", "a/b", "", "UPPER", "x\x00", "..", ".", "1abc", "a-b", "a b", `a\b`, strings.Repeat("a", 64), "é"} {
		t.Run(name, func(t *testing.T) {
			if err := ValidateTable(name); err == nil {
				t.Errorf("ValidateTable(%q) = nil, want an error", name)
			}
		})
	}
}

func TestReadManifestRejectsBadFileNames(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	for _, name := range []string{"../evil", "a/b.parquet", `a\b.parquet`, "", ".", "..", "x\x00.parquet", "_manifest.json"} {
		t.Run(name, func(t *testing.T) {
			st := mem.New()
			m := Manifest{Version: ManifestVersion, Table: table, Date: dt, Generation: 1, Files: []File{{Name: name, Rows: 1}}}
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Put(t.Context(), ManifestKey(table, dt), bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
			got, err := ReadManifest(t.Context(), st, table, dt)
			if err == nil {
				t.Fatalf("ReadManifest accepted file name %q: %+v", name, got)
			}
		})
	}
	t.Run("wrong table or date", func(t *testing.T) {
		st := mem.New()
		m := Manifest{Version: ManifestVersion, Table: "other", Date: dt}
		data, _ := json.Marshal(m)
		if err := st.Put(t.Context(), ManifestKey(table, dt), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadManifest(t.Context(), st, table, dt); err == nil {
			t.Error("ReadManifest accepted a manifest of another table")
		}
	})
	t.Run("missing", func(t *testing.T) {
		m, err := ReadManifest(t.Context(), mem.New(), table, dt)
		if m != nil || err != nil {
			t.Errorf("ReadManifest of a missing manifest = %v, %v; want nil, nil", m, err)
		}
	})
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"2026-01-01", true},
		{"2024-02-29", true},
		{"0001-01-01", true},
		{"9999-12-31", true},
		{"2026-1-01", false},
		{"2026-01-1", false},
		{"26-01-01", false},
		{"2026-02-30", false},
		{"2025-02-29", false},
		{"2026-13-01", false},
		{"2026-00-10", false},
		{" 2026-01-01", false},
		{"2026-01-01 ", false},
		{"2026-01-01T00:00:00Z", false},
		{"2026/01/01", false},
		{"", false},
		{"../2026-01-01", false},
		{"+2026-01-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDate(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseDate(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && d.Format(DateLayout) != tt.in {
				t.Errorf("ParseDate(%q) = %v", tt.in, d)
			}
		})
	}
}

func TestDateStringRoundTrip(t *testing.T) {
	for _, days := range []int64{-1, 0, 1, 20454, 2932896} {
		s := DateString(days)
		d, err := ParseDate(s)
		if err != nil {
			t.Fatalf("ParseDate(DateString(%d)=%q): %v", days, s, err)
		}
		if got := d.Unix() / 86400; got != days && !(days < 0 && d.Unix() == days*86400) {
			t.Errorf("round trip %d -> %q -> %d", days, s, got)
		}
	}
}
