package ingest

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/storage"
)

// Floors of the precision and recall of schemas/transactions.yaml's rules
// against `txlake gen --fraud-rate` ground truth. Each rule is scored
// against its own label; gen's "burst" rows (1 to 9 of a burst) are not
// positives of the velocity rule, which by design needs 10 rows.
var fraudFloors = map[string][2]float64{ // rule: {precision, recall}
	"velocity": {0.85, 0.95},
	"novelty":  {0.85, 0.80},
	"outlier":  {0.45, 0.65},
}

// TestRulesFraudPrecisionRecall ingests 14 days of generated logs with
// injected fraud day by day, as a backfill in date order does, and checks
// the rule tags against the labels. A single run over all the days (looked
// up in key buckets) must give exactly the same tags, and a re-run of one
// day must not change them.
func TestRulesFraudPrecisionRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests 14 days")
	}
	const days = 14
	s := loadSchema(t)
	logs := t.TempDir()
	sum, err := gen.Generate(t.Context(), gen.Options{OutDir: logs, Start: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Days: days, RowsPerDay: 3000, Seed: 5, FraudRate: 0.03})
	if err != nil {
		t.Fatal(err)
	}

	backfill, _ := newLocalLake(t)
	for d := range days {
		day := time.Date(2026, 2, 1+d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		run(t, Options{Schema: s, Sources: []string{filepath.Join(logs, "transactions-"+day+".jsonl")}, Store: backfill, LakeURL: "backfill"})
	}
	got := fraudTags(t, backfill)

	// The single run looks up in key buckets of about 5,000 rows (9 of
	// them): bucketing must not change a tag.
	single, _ := newLocalLake(t)
	run(t, Options{Schema: s, Sources: []string{filepath.Join(logs, "transactions-*.jsonl")}, Store: single, LakeURL: "single",
		HistoryBatchRows: 5000})
	if one := fraudTags(t, single); !reflect.DeepEqual(one, got) {
		diff := 0
		for id, tags := range one {
			if got[id] != tags {
				if diff < 10 {
					t.Errorf("row %s: one run tags %q, day by day %q", id, tags, got[id])
				}
				diff++
			}
		}
		t.Errorf("%d of %d rows differ between one run and a run per day", diff, len(one))
	}

	run(t, Options{Schema: s, Sources: []string{filepath.Join(logs, "transactions-2026-02-07.jsonl")}, Store: backfill, LakeURL: "backfill"})
	if again := fraudTags(t, backfill); !reflect.DeepEqual(again, got) {
		t.Errorf("re-running one day changed the tags")
	}

	e, err := query.Open(t.Context(), backfill, query.ResolverFor(backfill, nil, nil), s.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer e.DB.Close()
	q := fmt.Sprintf(`WITH l AS (SELECT transaction_id, label FROM read_json(%s)),
		r AS (SELECT unnest(['velocity', 'novelty', 'outlier']) AS rule)
		SELECT rule,
			count(*) FILTER (list_contains(t.tags, rule)) AS tagged,
			count(*) FILTER (list_contains(t.tags, rule) AND l.label = rule) AS tp,
			count(*) FILTER (l.label = rule) AS labelled
		FROM r, transactions t LEFT JOIN l USING (transaction_id) GROUP BY rule ORDER BY rule`,
		query.Literal(filepath.Join(logs, "labels-*.jsonl")))
	rows, err := e.DB.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var rule string
		var tagged, tp, labelled int64
		if err := rows.Scan(&rule, &tagged, &tp, &labelled); err != nil {
			t.Fatal(err)
		}
		seen++
		precision, recall := float64(tp)/float64(max(tagged, 1)), float64(tp)/float64(max(labelled, 1))
		t.Logf("%-8s tagged %4d, true %4d, labelled %4d: precision %.3f, recall %.3f", rule, tagged, tp, labelled, precision, recall)
		if f := fraudFloors[rule]; precision < f[0] || recall < f[1] || labelled == 0 {
			t.Errorf("rule %s: precision %.3f, recall %.3f (of %d labelled); floors %.2f, %.2f", rule, precision, recall, labelled, f[0], f[1])
		}
	}
	if err := rows.Err(); err != nil || seen != 3 {
		t.Fatalf("precision query: %v (%d rules)", err, seen)
	}
	t.Logf("generated %d rows, fraud %v", sum.Rows, sum.Fraud)
}

func fraudTags(t *testing.T, st storage.Store) map[string]string {
	return lakeTagsBy(t, st, "transactions", "transaction_id")
}
