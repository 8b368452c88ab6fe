package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
)

// rulesSchema has one rule of each kind with small parameters, so that
// hand-written rows can sit exactly on their edges.
const rulesSchema = `
table: pay
event_time: at
key: [id]
fields:
  - {name: id, type: string, required: true}
  - {name: customer, type: string}
  - {name: amount, type: 'decimal(18,2)'}
  - {name: currency, type: string}
  - {name: country, type: string}
  - {name: at, type: timestamp, required: true}
rules:
  - {name: fast, kind: velocity, key: [customer], count: 3, window: 1h}
  - {name: new_country, kind: novelty, key: [customer], field: country, lookback: 2d%s}
  - {name: odd_amount, kind: outlier, key: [customer], field: amount, lookback: 10d, method: zscore, threshold: 3, min_history: 3}
  - {name: big_usd, kind: condition, expr: 'amount > 1000 && currency == "USD"'}
`

func loadRulesSchema(t *testing.T, noveltyExtra string) *schemas.Schema {
	t.Helper()
	s, err := schemas.Parse("rules.yaml", []byte(fmt.Sprintf(rulesSchema, noveltyExtra)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pay is one row of the rules schema; empty strings are left out (null).
type pay struct{ id, customer, amount, currency, country, at string }

// ingestPays writes rows as one JSONL source file named name (in dir) and
// ingests it.
func ingestPays(t *testing.T, st storage.Store, s *schemas.Schema, dir, name string, rows []pay) *Result {
	t.Helper()
	path := filepath.Join(dir, name)
	writePays(t, path, rows)
	return run(t, Options{Schema: s, Sources: []string{path}, Store: st, LakeURL: "test", MaxQuarantineRatio: -1})
}

// writePays writes rows as a JSONL file; empty strings are left out (null).
func writePays(t *testing.T, path string, rows []pay) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		m := map[string]any{"id": r.id, "at": r.at}
		for k, v := range map[string]string{"customer": r.customer, "amount": r.amount, "currency": r.currency, "country": r.country} {
			if v != "" {
				m[k] = v
			}
		}
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lakeTags returns each row's tags, by id, as "a,b" ("" for none).
func lakeTags(t *testing.T, st storage.Store, table string) map[string]string {
	t.Helper()
	return lakeTagsBy(t, st, table, "id")
}

func lakeTagsBy(t *testing.T, st storage.Store, table, idColumn string) map[string]string {
	t.Helper()
	e, err := query.Open(t.Context(), st, query.ResolverFor(st, nil, nil), table)
	if err != nil {
		t.Fatal(err)
	}
	defer e.DB.Close()
	rows, err := e.DB.QueryContext(t.Context(), "SELECT "+idColumn+", array_to_string(tags, ',') FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, tags string
		if err := rows.Scan(&id, &tags); err != nil {
			t.Fatal(err)
		}
		out[id] = tags
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkTags(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("row %s is not in the lake", id)
		} else if g != w {
			t.Errorf("row %s: tags %q, want %q", id, g, w)
		}
	}
}

func hitsOf(res *Result) map[string]int64 {
	out := map[string]int64{}
	for _, h := range res.RuleHits {
		out[h.Rule] = h.Rows
	}
	return out
}

func TestRulesVelocityWindowEdges(t *testing.T) {
	s := loadRulesSchema(t, "")
	st, _ := newLocalLake(t)
	rows := []pay{
		// a: the 3rd row is exactly one window after the 1st: counted.
		{"a1", "a", "1", "EUR", "FR", "2026-03-02T10:00:00Z"},
		{"a2", "a", "1", "EUR", "FR", "2026-03-02T10:30:00Z"},
		{"a3", "a", "1", "EUR", "FR", "2026-03-02T11:00:00Z"},
		// b: one microsecond later the 1st row is out: N-1 rows, no tag.
		{"b1", "b", "1", "EUR", "FR", "2026-03-02T10:00:00Z"},
		{"b2", "b", "1", "EUR", "FR", "2026-03-02T10:30:00Z"},
		{"b3", "b", "1", "EUR", "FR", "2026-03-02T11:00:00.000001Z"},
		// c: rows at the same instant count for each other.
		{"c1", "c", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
		{"c2", "c", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
		{"c3", "c", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
		// a row without a key is never tagged.
		{"n1", "", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
		{"n2", "", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
		{"n3", "", "1", "EUR", "FR", "2026-03-02T12:00:00Z"},
	}
	// Input order must not matter: the rows go in reversed.
	rev := make([]pay, len(rows))
	for i, r := range rows {
		rev[len(rows)-1-i] = r
	}
	res := ingestPays(t, st, s, t.TempDir(), "in.jsonl", rev)
	checkTags(t, lakeTags(t, st, "pay"), map[string]string{
		"a1": "", "a2": "", "a3": "fast",
		"b1": "", "b2": "", "b3": "",
		"c1": "fast", "c2": "fast", "c3": "fast",
		"n1": "", "n2": "", "n3": "",
	})
	if h := hitsOf(res); h["fast"] != 4 {
		t.Errorf("rule_hits fast = %d, want 4 (%+v)", h["fast"], res.RuleHits)
	}
}

// A burst across midnight, split over two runs (and two partitions), is
// tagged as it would be in one run; a late event is judged against what is
// committed.
func TestRulesVelocityAcrossRunsAndMidnight(t *testing.T) {
	s := loadRulesSchema(t, "")
	day1 := []pay{
		{"d1", "d", "1", "EUR", "FR", "2026-03-01T23:40:00Z"},
		{"d2", "d", "1", "EUR", "FR", "2026-03-01T23:50:00Z"},
	}
	day2 := []pay{
		{"d3", "d", "1", "EUR", "FR", "2026-03-02T00:10:00Z"},
		{"d4", "d", "1", "EUR", "FR", "2026-03-02T02:00:00Z"},
	}
	want := map[string]string{"d1": "", "d2": "", "d3": "fast", "d4": ""}

	backfill, _ := newLocalLake(t)
	dir := t.TempDir()
	ingestPays(t, backfill, s, dir, "day1.jsonl", day1)
	r2 := ingestPays(t, backfill, s, dir, "day2.jsonl", day2)
	got := lakeTags(t, backfill, "pay")
	checkTags(t, got, want)
	if h := hitsOf(r2); h["fast"] != 1 {
		t.Errorf("second run: rule_hits fast = %d, want 1", h["fast"])
	}

	single, _ := newLocalLake(t)
	ingestPays(t, single, s, t.TempDir(), "all.jsonl", append(append([]pay{}, day1...), day2...))
	if one := lakeTags(t, single, "pay"); !reflect.DeepEqual(one, got) {
		t.Errorf("one run tags %v, run by run %v", one, got)
	}

	// Late events for day 2 arrive with day 3's run: one completes a burst
	// with committed rows (tagged), one precedes them (not tagged, and the
	// committed rows keep their tags: committed files never change).
	r3 := ingestPays(t, backfill, s, dir, "day3.jsonl", []pay{
		{"d5", "d", "1", "EUR", "FR", "2026-03-02T00:20:00Z"},
		{"d0", "d", "1", "EUR", "FR", "2026-03-01T22:00:00Z"},
		{"e1", "e", "1", "EUR", "FR", "2026-03-03T09:00:00Z"},
	})
	checkTags(t, lakeTags(t, backfill, "pay"), map[string]string{"d0": "", "d1": "", "d2": "", "d3": "fast", "d4": "", "d5": "fast", "e1": ""})
	if h := hitsOf(r3); h["fast"] != 1 {
		t.Errorf("late run: rule_hits fast = %d, want 1", h["fast"])
	}
}

func TestRulesNovelty(t *testing.T) {
	rows1 := []pay{
		{"e1", "e", "1", "EUR", "FR", "2026-03-01T10:00:00Z"},
		{"g1", "g", "1", "EUR", "FR", "2026-03-01T10:00:00Z"},
		{"g2", "g", "1", "EUR", "DE", "2026-03-03T10:00:00Z"},
	}
	rows2 := []pay{
		{"e2", "e", "1", "EUR", "FR", "2026-03-02T10:00:00Z"}, // seen
		{"e3", "e", "1", "EUR", "DE", "2026-03-02T11:00:00Z"}, // new for e
		{"e4", "e", "1", "EUR", "", "2026-03-02T12:00:00Z"},   // null: never new
		{"f1", "f", "1", "EUR", "US", "2026-03-02T10:00:00Z"}, // no history
		{"f2", "f", "1", "EUR", "US", "2026-03-02T11:00:00Z"}, // seen an hour ago
		// g: FR was 3 days ago, outside the 2-day lookback; DE the day before.
		{"g3", "g", "1", "EUR", "FR", "2026-03-04T10:00:00Z"},
		// exactly 2 days after e's DE row: the lookback includes its start.
		{"e5", "e", "1", "EUR", "DE", "2026-03-04T11:00:00Z"},
	}
	for _, tc := range []struct {
		extra string
		f1    string
	}{{"", ""}, {", no_history: skip", ""}, {", no_history: tag", "new_country"}} {
		t.Run("no_history"+tc.extra, func(t *testing.T) {
			s := loadRulesSchema(t, tc.extra)
			st, _ := newLocalLake(t)
			dir := t.TempDir()
			ingestPays(t, st, s, dir, "1.jsonl", rows1)
			ingestPays(t, st, s, dir, "2.jsonl", rows2)
			want := map[string]string{"e2": "", "e3": "new_country", "e4": "", "f1": tc.f1, "f2": "", "g3": "new_country", "e5": ""}
			if tc.f1 == "" {
				want["e1"], want["g1"] = "", ""
			} else {
				want["e1"], want["g1"] = "new_country", "new_country"
			}
			checkTags(t, lakeTags(t, st, "pay"), want)
		})
	}
}

func TestRulesOutlier(t *testing.T) {
	s := loadRulesSchema(t, "")
	var rows []pay
	at := func(h int) string { return fmt.Sprintf("2026-03-02T%02d:00:00Z", h) }
	for i, a := range []string{"10.00", "11.00", "12.00", "10.50"} {
		rows = append(rows, pay{fmt.Sprintf("h%d", i), "h", a, "EUR", "FR", at(i * 2)})
	}
	rows = append(rows,
		pay{"h9", "h", "500.00", "EUR", "FR", at(10)}, // far out: tagged
		pay{"i1", "i", "10.00", "EUR", "FR", at(1)},
		pay{"i2", "i", "11.00", "EUR", "FR", at(3)},
		pay{"i9", "i", "500.00", "EUR", "FR", at(5)}, // 2 earlier rows < min_history 3
		pay{"j1", "j", "10.00", "EUR", "FR", at(1)},
		pay{"j2", "j", "10.00", "EUR", "FR", at(3)},
		pay{"j3", "j", "10.00", "EUR", "FR", at(5)},
		pay{"j4", "j", "10.00", "EUR", "FR", at(7)},   // zero spread, same value
		pay{"j5", "j", "10.01", "EUR", "FR", at(9)},   // zero spread, differs: tagged
		pay{"j6", "j", "", "EUR", "FR", at(11)},       // null amount: never
		pay{"k1", "k", "5000.00", "USD", "US", at(1)}, // condition only
	)
	// One row per data file as well: a partition of more than ten files,
	// whose names ("part-…-10") do not sort in write order, must still be
	// tagged row for row.
	for _, perFile := range []int64{0, 1} {
		st, lakeDir := newLocalLake(t)
		var res *Result
		if perFile == 0 {
			res = ingestPays(t, st, s, t.TempDir(), "in.jsonl", rows)
		} else {
			dir := t.TempDir()
			var srcs []string
			for i, r := range rows {
				path := filepath.Join(dir, fmt.Sprintf("in-%02d.jsonl", i))
				writePays(t, path, []pay{r})
				srcs = append(srcs, path)
			}
			res = run(t, Options{Schema: s, Sources: srcs, Store: st, LakeURL: "test", MaxQuarantineRatio: -1, MaxRowsPerFile: perFile})
			if files, _ := filepath.Glob(filepath.Join(lakeDir, "pay", "dt=2026-03-02", "part-*-1?.parquet")); len(files) == 0 {
				t.Fatalf("no part-…-1x.parquet file: the partition has ten files or fewer")
			}
		}
		checkTags(t, lakeTags(t, st, "pay"), map[string]string{
			"h0": "", "h3": "", "h9": "odd_amount", "i9": "", "j4": "", "j5": "odd_amount", "j6": "", "k1": "big_usd",
		})
		want := map[string]int64{"fast": 0, "new_country": 0, "odd_amount": 2, "big_usd": 1}
		if h := hitsOf(res); !reflect.DeepEqual(h, want) {
			t.Errorf("rows per file %d: rule_hits %v, want %v", perFile, h, want)
		}
	}
}

// A re-run of the same input gives the same tags: the run's own earlier
// contribution is not history. A dry run counts condition hits and marks
// history rules as skipped.
func TestRulesRerunAndDryRun(t *testing.T) {
	s := loadRulesSchema(t, "")
	st, _ := newLocalLake(t)
	dir := t.TempDir()
	rows := []pay{
		{"a1", "a", "1", "EUR", "FR", "2026-03-02T10:00:00Z"},
		{"a2", "a", "1", "EUR", "FR", "2026-03-02T10:10:00Z"},
		{"a3", "a", "2000", "USD", "FR", "2026-03-02T10:20:00Z"},
	}
	r1 := ingestPays(t, st, s, dir, "in.jsonl", rows)
	t1 := lakeTags(t, st, "pay")
	r2 := ingestPays(t, st, s, dir, "in.jsonl", rows)
	t2 := lakeTags(t, st, "pay")
	if !reflect.DeepEqual(t1, t2) || t1["a3"] != "fast,big_usd" {
		t.Errorf("tags after the first run %v, after the re-run %v; want a3 = fast,big_usd", t1, t2)
	}
	if !reflect.DeepEqual(r1.RuleHits, r2.RuleHits) {
		t.Errorf("rule hits %+v then %+v", r1.RuleHits, r2.RuleHits)
	}

	res, err := Run(t.Context(), Options{Schema: s, Sources: []string{filepath.Join(dir, "in.jsonl")}, Store: st, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleHit{{Rule: "fast", Kind: "velocity", Skipped: true}, {Rule: "new_country", Kind: "novelty", Skipped: true},
		{Rule: "odd_amount", Kind: "outlier", Skipped: true}, {Rule: "big_usd", Kind: "condition", Rows: 1}}
	if !reflect.DeepEqual(res.RuleHits, want) {
		t.Errorf("dry run rule hits %+v, want %+v", res.RuleHits, want)
	}
}

func TestRulesSchemaErrors(t *testing.T) {
	base := "table: pay\nevent_time: at\nfields:\n  - {name: id, type: string}\n  - {name: amount, type: float64}\n  - {name: at, type: timestamp, required: true}\nrules:\n"
	for _, tc := range []struct{ rules, want string }{
		{"  - {name: x, kind: fast}", `unknown kind "fast"`},
		{"  - {name: x, kind: velocity, key: [id], window: 1h}", `needs "count"`},
		{"  - {name: x, kind: velocity, key: [nope], count: 3, window: 1h}", `unknown field "nope"`},
		{"  - {name: x, kind: velocity, key: [id], count: 3, window: soon}", `invalid duration "soon"`},
		{"  - {name: x, kind: velocity, key: [id], count: 1, window: 1h}", `"count" must be a whole number from 2`},
		{"  - {name: x, kind: outlier, key: [id], field: at, lookback: 1d}", "needs a numeric field"},
		{"  - {name: x, kind: novelty, key: [id], field: amount, lookback: 1d, threshold: 2}", `"threshold" does not apply to a novelty rule`},
		{"  - {name: x, kind: condition, expr: 'amount >'}", "invalid expression"},
		{"  - {name: x, kind: condition, expr: 'amount + 1'}", "invalid expression"},
		{"  - {name: x, kind: condition, expr: 'secret == 1'}", "invalid expression"},
		{"  - {name: X, kind: condition, expr: 'true'}", `rule name "X"`},
		{"  - {name: x, kind: condition, expr: 'true'}\n  - {name: x, kind: condition, expr: 'false'}", `duplicate rule name "x"`},
	} {
		_, err := schemas.Parse("s.yaml", []byte(base+tc.rules))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rules %q: error %v, want it to contain %q", tc.rules, err, tc.want)
		}
	}
	if _, err := schemas.Parse("s.yaml", []byte(strings.Replace(base, "name: id", "name: tags", 1)+"  - {name: x, kind: condition, expr: 'true'}")); err == nil ||
		!strings.Contains(err.Error(), `field named "tags"`) {
		t.Errorf("a tags field with rules: %v", err)
	}
}
