package ingest_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/archive"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/jobs/verify"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/local"
)

const replaceSchema = `table: transactions
event_time: created_at
key: [id]
update_policy: replace
version: v
fields:
  - name: id
    type: int64
    required: true
  - name: v
    type: int64
    required: true
  - name: created_at
    type: timestamp
    required: true
`

// unitLake is a local lake that tests fill one contribution at a time.
type unitLake struct {
	t       *testing.T
	s       *schemas.Schema
	st      *local.Store
	dir, in string
}

func newUnitLake(t *testing.T, schema string) *unitLake {
	t.Helper()
	s, err := schemas.Parse("s.yaml", []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	u := &unitLake{t: t, s: s, dir: t.TempDir(), in: t.TempDir()}
	if u.st, err = local.New(u.dir); err != nil {
		t.Fatal(err)
	}
	return u
}

// ingest writes lines (JSONL) as the source of contribution contrib and
// ingests it.
func (u *unitLake) ingest(contrib, lines string) *ingest.Result {
	u.t.Helper()
	src := filepath.Join(u.in, strings.ReplaceAll(contrib, ":", "_")+".jsonl")
	if err := os.WriteFile(src, []byte(lines), 0o644); err != nil {
		u.t.Fatal(err)
	}
	res, err := ingest.Run(u.t.Context(), ingest.Options{Schema: u.s, Sources: []string{src}, Store: u.st, LakeURL: u.dir, ContributionKey: contrib})
	if err != nil {
		u.t.Fatal(err)
	}
	if !res.Reconciled {
		u.t.Fatalf("%s does not reconcile: %+v", contrib, res)
	}
	return res
}

// compact runs `archive --compact` over the partitions older than a day.
func (u *unitLake) compact() {
	u.t.Helper()
	if _, err := archive.Run(u.t.Context(), archive.Options{Store: u.st, LakeURL: u.dir, Table: u.s.Table, OlderThan: 24 * time.Hour,
		Compact: true, TargetFileSize: 1 << 20}); err != nil {
		u.t.Fatal(err)
	}
}

// TestReplaceInCompactedFile: update_policy replace rewrites rows that
// `archive --compact` merged into one file of several contributions. The
// copy keeps the other rows and their segments, the contributions' counts
// follow, and a run that both re-ingests a contribution of the merged file
// and replaces another's row in it gets both.
func TestReplaceInCompactedFile(t *testing.T) {
	u := newUnitLake(t, replaceSchema)
	s, st, lakeDir := u.s, u.st, u.dir
	const dt = "2026-01-02"
	ingestRows := func(contrib string, rows map[int]int) *ingest.Result {
		t.Helper()
		var b strings.Builder
		for id := 1; id <= 30; id++ {
			if v, ok := rows[id]; ok {
				fmt.Fprintf(&b, `{"id":%d,"v":%d,"created_at":"%sT10:00:%02dZ"}`+"\n", id, v, dt, id)
			}
		}
		return u.ingest(contrib, b.String())
	}
	span := func(from, to, v int) map[int]int {
		m := map[int]int{}
		for id := from; id <= to; id++ {
			m[id] = v
		}
		return m
	}
	manifest := func() *lake.Manifest {
		t.Helper()
		m, err := lake.ReadManifest(t.Context(), st, s.Table, dt)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	written := func(m *lake.Manifest) map[string]int64 {
		out := map[string]int64{}
		for _, c := range m.Contributions {
			out[c.Key] = c.RowsWritten
		}
		return out
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// lakeRows is "id:v" of every row the manifest lists, in id order.
	lakeRows := func() string {
		t.Helper()
		m := manifest()
		var files []string
		for _, f := range m.Files {
			files = append(files, filepath.Join(lakeDir, filepath.FromSlash(m.Key(f))))
		}
		var got string
		q := "SELECT coalesce(string_agg(id || ':' || v, ' ' ORDER BY id), '') FROM read_parquet(" + sqlList(files) + ")"
		if err := db.QueryRowContext(t.Context(), q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := func(vs map[int]int) string {
		var parts []string
		for id := 1; id <= 30; id++ {
			if v, ok := vs[id]; ok {
				parts = append(parts, fmt.Sprintf("%d:%d", id, v))
			}
		}
		return strings.Join(parts, " ")
	}
	verifyLake := func() {
		t.Helper()
		res, err := verify.Run(t.Context(), verify.Options{Store: st, OrphanGrace: -1})
		if err != nil || !res.OK {
			t.Fatalf("verify: %v %+v", err, res)
		}
	}

	ingestRows("job:a", span(1, 10, 1))
	ingestRows("job:b", span(11, 20, 1))
	u.compact()
	if m := manifest(); len(m.Files) != 1 || len(m.Files[0].Segments) != 2 {
		t.Fatalf("after compaction: %+v; want one merged file of two segments", m.Files)
	}

	// c replaces a row of each segment of the merged file.
	vs := span(1, 20, 1)
	res := ingestRows("job:c", map[int]int{5: 2, 15: 2, 21: 1})
	if res.RowsReplaced != 2 || res.RowsWritten != 3 {
		t.Fatalf("c: written %d, replaced %d; want 3 and 2", res.RowsWritten, res.RowsReplaced)
	}
	vs[5], vs[15], vs[21] = 2, 2, 1
	if got := lakeRows(); got != want(vs) {
		t.Fatalf("after c:\n got %s\nwant %s", got, want(vs))
	}
	m := manifest()
	var merged *lake.File
	for i := range m.Files {
		if len(m.Files[i].Segments) > 0 {
			merged = &m.Files[i]
		}
	}
	if merged == nil || len(merged.Segments) != 2 || merged.Segments[0].Rows != 9 || merged.Segments[1].Rows != 9 || merged.Rows != 18 {
		t.Fatalf("the merged file's copy: %+v; want segments of 9 and 9 rows", merged)
	}
	if w := written(m); w["job:a"] != 9 || w["job:b"] != 9 || w["job:c"] != 3 || m.Rows != 21 {
		t.Errorf("contributions %v, %d rows; want a 9, b 9, c 3 of 21", w, m.Rows)
	}
	verifyLake()

	// Re-ingesting a (whose rows are in the merged file) in a run that also
	// replaces one of b's rows there: a's old rows go, b's row 12 goes, and
	// a's row 5 (v1) stays a duplicate of c's v2.
	a2 := span(1, 10, 1)
	a2[3], a2[12] = 5, 9
	res = ingestRows("job:a", a2)
	if res.RowsReplaced != 1 || res.RowsWritten != 10 || res.RowsDuplicate != 1 {
		t.Fatalf("a again: written %d, replaced %d, duplicate %d; want 10, 1 and 1", res.RowsWritten, res.RowsReplaced, res.RowsDuplicate)
	}
	vs[3], vs[12] = 5, 9
	if got := lakeRows(); got != want(vs) {
		t.Fatalf("after a again:\n got %s\nwant %s", got, want(vs))
	}
	m = manifest()
	if w := written(m); w["job:a"] != 10 || w["job:b"] != 8 || w["job:c"] != 3 || m.Rows != 21 {
		t.Errorf("contributions %v, %d rows; want a 10, b 8, c 3 of 21", w, m.Rows)
	}
	for _, c := range m.Contributions {
		for _, f := range m.Files {
			if c.Key == "job:a" && len(f.Segments) > 0 && f.Holds(c.ID) {
				t.Errorf("merged file %s still holds rows of the re-ingested contribution: %+v", f.Name, f)
			}
		}
	}
	verifyLake()
	// Re-running is a no-op.
	res = ingestRows("job:a", a2)
	if res.RowsReplaced != 0 || lakeRows() != want(vs) {
		t.Errorf("re-run: replaced %d; lake %s", res.RowsReplaced, lakeRows())
	}
	verifyLake()
}

// TestReingestCompactedIsNotItsOwnHistory: once `archive --compact` merged a
// contribution's rows into a shared file, re-ingesting that contribution
// does not count its own earlier rows as history (a velocity burst of two
// rows stays untagged), while other contributions still see them.
func TestReingestCompactedIsNotItsOwnHistory(t *testing.T) {
	u := newUnitLake(t, `table: pay
event_time: at
key: [id]
fields:
  - {name: id, type: string, required: true}
  - {name: customer, type: string}
  - {name: at, type: timestamp, required: true}
rules:
  - {name: fast, kind: velocity, key: [customer], count: 3, window: 1h}
`)
	ingestLines := u.ingest
	hits := func(res *ingest.Result) int64 {
		var n int64
		for _, h := range res.RuleHits {
			n += h.Rows
		}
		return n
	}
	a := `{"id":"a1","customer":"c1","at":"2026-01-02T10:00:00Z"}
{"id":"a2","customer":"c1","at":"2026-01-02T10:10:00Z"}
`
	if n := hits(ingestLines("job:a", a)); n != 0 {
		t.Fatalf("a: %d hits; two rows are no burst of 3", n)
	}
	ingestLines("job:b", `{"id":"b1","customer":"c2","at":"2026-01-02T11:00:00Z"}`+"\n")
	u.compact()
	m, err := lake.ReadManifest(t.Context(), u.st, u.s.Table, "2026-01-02")
	if err != nil || len(m.Files) != 1 || len(m.Files[0].Segments) != 2 {
		t.Fatalf("after compaction: %v %+v; want one merged file", err, m)
	}
	// Another contribution sees a's rows in the merged file.
	if n := hits(ingestLines("job:c", `{"id":"c1","customer":"c1","at":"2026-01-02T10:20:00Z"}`+"\n")); n != 1 {
		t.Errorf("c: %d hits; want 1 (a's two rows and c's make 3 within the hour)", n)
	}
	// a itself does not: re-ingested, its two rows are still no burst (c's
	// row comes after them).
	if n := hits(ingestLines("job:a", a)); n != 0 {
		t.Errorf("re-ingest of a after compaction: %d hits; its own earlier rows were counted as history", n)
	}
}
