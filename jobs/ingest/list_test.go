package ingest_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/local"
)

// A schema with list<string> fields, ingested from JSON lines and from CSV:
// the lists land as Parquet LIST<STRING> that DuckDB reads as VARCHAR[] and
// pyarrow as list<string>, element for element; bad lists are quarantined
// with the field and the element named.
const listIngestSchema = `table: transactions
event_time: created_at
key: [transaction_id]
fields:
  - name: transaction_id
    type: string
    required: true
  - name: created_at
    type: timestamp
    required: true
  - name: labels
    type: list<string>
    normalize: [trim, lower]
    enum: [vip, new, blocked]
  - name: notes
    type: list<string>
    required: true
rules:
  - name: vip
    kind: condition
    expr: '"vip" in labels'
`

func TestIngestListOfStrings(t *testing.T) {
	s, err := schemas.Parse("list.yaml", []byte(listIngestSchema))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jsonl := `{"transaction_id":"t1","created_at":"2026-01-02T10:00:00Z","labels":["VIP"," new "],"notes":["a,b","say \"hi\"","été",""]}
{"transaction_id":"t2","created_at":"2026-01-02T11:00:00Z","labels":[],"notes":[]}
{"transaction_id":"t3","created_at":"2026-01-02T12:00:00Z","labels":null,"notes":["x"]}
{"transaction_id":"t4","created_at":"2026-01-02T13:00:00Z","notes":["y"]}
{"transaction_id":"bad1","created_at":"2026-01-02T13:00:00Z","labels":["gold"],"notes":[]}
{"transaction_id":"bad2","created_at":"2026-01-02T13:00:00Z","labels":["vip",null],"notes":[]}
{"transaction_id":"bad3","created_at":"2026-01-02T13:00:00Z","labels":"vip","notes":[]}
{"transaction_id":"bad4","created_at":"2026-01-02T13:00:00Z","labels":[]}
{"transaction_id":"bad5","created_at":"2026-01-02T13:00:00Z","labels":{"a":"vip"},"notes":[]}
`
	csv := "transaction_id,created_at,labels,notes\n" +
		`t5,2026-01-03T10:00:00Z,"[""vip""]","[""p"",""q""]"` + "\n" +
		`t6,2026-01-03T11:00:00Z,,[]` + "\n" +
		`bad6,2026-01-03T12:00:00Z,vip,[]` + "\n" +
		`bad7,2026-01-03T12:00:00Z,[],` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(jsonl), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := t.TempDir()
	st, err := local.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(t.Context(), ingest.Options{Schema: s, Sources: []string{filepath.Join(dir, "*")}, Store: st,
		LakeURL: lakeDir, MaxQuarantineRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsRead != 13 || res.RowsWritten != 6 || res.RowsQuarantined != 7 || !res.Reconciled {
		t.Fatalf("read %d, written %d, quarantined %d; want 13, 6 and 7", res.RowsRead, res.RowsWritten, res.RowsQuarantined)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]string{}
	q, err := db.QueryContext(t.Context(), "SELECT split_part(split_part(raw_text, ',', 1), '\"', 4) || '/' || field || '/' || rule, reason FROM read_parquet("+
		sqlList([]string{filepath.Join(lakeDir, lake.QuarantineKey("transactions", res.Contribution.ID))})+")")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var k, reason string
		if err := q.Scan(&k, &reason); err != nil {
			t.Fatal(err)
		}
		got[k] = reason
	}
	q.Close()
	for _, want := range []string{"bad1/labels/enum", "bad2/labels/type", "bad3/labels/type", "bad4/notes/required", "bad5/labels/type"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no quarantine record %s in %v", want, got)
		}
	}
	if r := got["bad2/labels/type"]; !strings.Contains(r, "element 1 is null") {
		t.Errorf("reason for a null element: %q", r)
	}
	if len(res.RuleHits) != 1 || res.RuleHits[0].Rows != 2 {
		t.Errorf("rule hits %+v; want vip on t1 and t5", res.RuleHits)
	}

	files := manifestFiles(t, filepath.Join(lakeDir, "transactions"))
	// Each row's labels, notes and tags as JSON: what both readers must give.
	want := map[string]string{
		"t1": `[["vip","new"],["a,b","say \"hi\"","été",""],["vip"]]`,
		"t2": `[[],[],[]]`,
		"t3": `[null,["x"],[]]`,
		"t4": `[null,["y"],[]]`,
		"t5": `[["vip"],["p","q"],["vip"]]`,
		"t6": `[null,[],[]]`,
	}
	check := func(t *testing.T, reader string, got map[string]string) {
		t.Helper()
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: row %s is %s; want %s", reader, id, got[id], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s read %d rows; want %d", reader, len(got), len(want))
		}
	}

	t.Run("duckdb", func(t *testing.T) {
		rows, err := db.QueryContext(t.Context(), `SELECT transaction_id, typeof(labels) || ' ' || typeof(notes) || ' ' || typeof(tags),
			CAST(to_json([labels, notes, tags]) AS VARCHAR) FROM read_parquet(`+sqlList(files)+`)`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var id, types, v string
			if err := rows.Scan(&id, &types, &v); err != nil {
				t.Fatal(err)
			}
			if types != "VARCHAR[] VARCHAR[] VARCHAR[]" {
				t.Errorf("duckdb types %s", types)
			}
			got[id] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		check(t, "duckdb", got)
	})

	t.Run("pyarrow", func(t *testing.T) {
		py := interopPython(t, repoRoot(t))
		script := `
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
t = pa.concat_tables([pq.read_table(f) for f in sys.argv[1:]])
for name, nullable in (("labels", True), ("notes", False), ("tags", False)):
    f = t.schema.field(name)
    assert pa.types.is_list(f.type) and f.type.value_type == pa.string(), f
    assert f.nullable == nullable, f
print(json.dumps({r["transaction_id"]: json.dumps([r["labels"], r["notes"], r["tags"]], ensure_ascii=False, separators=(",", ":"))
                  for r in t.to_pylist()}))
`
		out, err := exec.CommandContext(t.Context(), py, append([]string{"-c", script}, files...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("pyarrow: %v\n%s", err, out)
		}
		var got map[string]string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		check(t, "pyarrow", got)
	})
}

func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TestIngestRefusesListScalarChange: a field that the table's files hold as
// a string cannot become a list<string> (nor the reverse): readers could not
// combine the two, so the ingest stops with a schema error and writes
// nothing. A field named like an earlier schema's rule-tags column counts.
func TestIngestRefusesListScalarChange(t *testing.T) {
	lakeDir := t.TempDir()
	st, err := local.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "a.jsonl")
	if err := os.WriteFile(src, []byte(`{"id":"1","at":"2026-01-02T10:00:00Z","labels":"x","tags":"y"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "table: t\nevent_time: at\nfields:\n  - {name: id, type: string}\n  - {name: at, type: timestamp, required: true}\n"
	ingestWith := func(extra string) error {
		s, err := schemas.Parse("s.yaml", []byte(base+extra))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ingest.Run(t.Context(), ingest.Options{Schema: s, Sources: []string{src}, Store: st, LakeURL: lakeDir, MaxQuarantineRatio: 1})
		return err
	}
	if err := ingestWith("  - {name: labels, type: string}\nrules:\n  - {name: r, kind: condition, expr: 'id == \"1\"'}\n"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ extra, want string }{
		{"  - {name: labels, type: list<string>}\n", `field "labels" is list<string>, but the table's files of schema sha256:`},
		{"  - {name: tags, type: string}\n", `field "tags" is string, but the table's files of schema sha256:`},
	} {
		err := ingestWith(tc.extra)
		var serr *schemas.SchemaError
		if !errors.As(err, &serr) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hold it as") {
			t.Errorf("%s: error %v; want a schema error containing %q", strings.TrimSpace(tc.extra), err, tc.want)
		}
	}
	// A compatible change (a new scalar field) still ingests.
	if err := ingestWith("  - {name: labels, type: string}\n  - {name: note, type: string}\n"); err != nil {
		t.Errorf("compatible change: %v", err)
	}
}
