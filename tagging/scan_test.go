package tagging

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScanHitsMatchHitsSQL is the differential test of the velocity and
// novelty scans against HitsSQL's joins, on random data with null keys and
// values, many rows at one instant, rows exactly one window apart, awkward
// key text, with and without history, on a timestamp and a date event time.
func TestScanHitsMatchHitsSQL(t *testing.T) {
	for seed := range uint64(6) {
		for _, date := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/date=%v", seed, date), func(t *testing.T) { testScanDifferential(t, seed, date) })
		}
	}
}

func testScanDifferential(t *testing.T, seed uint64, date bool) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 7))
	db, unit, layout := differentialTables(t, date, "country VARCHAR, n BIGINT")
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	str := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	when := func(from int) string { return base.Add(time.Duration(from+rng.IntN(30)) * unit).Format(layout) }
	num := func() string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		return fmt.Sprint(rng.IntN(5))
	}
	var stmts []string
	rowsOf := [2]int64{}
	for range 200 + rng.IntN(300) {
		f := rng.IntN(2)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO cur VALUES (%s, %s, '%s', %s, %s, 'f%d', %d, %d)",
			str(pick("a", "b", "c", "3:EUR,", "it's", "")), str(pick("EUR", "EUR", "USD", "")), when(0),
			str(pick("FR", "DE", "BR", "", "fr")), num(), f, rowsOf[f], f))
		rowsOf[f]++
	}
	for range 150 + rng.IntN(200) {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO hist VALUES (%s, %s, '%s', %s, %s)",
			str(pick("a", "b", "c", "3:EUR,", "it's", "")), str(pick("EUR", "USD", "")), when(-35),
			str(pick("FR", "DE", "BR", "", "IT")), num()))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	window := time.Duration(1+rng.IntN(8)) * unit
	rules := []Rule{
		{Name: "v1", Kind: Velocity, Key: []string{"cust"}, Count: 1, Window: window},
		{Name: "v3", Kind: Velocity, Key: []string{"cust", "cur"}, Count: 3, Window: window},
		{Name: "v6", Kind: Velocity, Key: []string{"cust"}, Count: 6, Window: 2 * window},
		{Name: "n", Kind: Novelty, Key: []string{"cust"}, Field: "country", Lookback: window, NoHistory: NoHistorySkip},
		{Name: "nt", Kind: Novelty, Key: []string{"cust", "cur"}, Field: "country", Lookback: 3 * window, NoHistory: NoHistoryTag},
		{Name: "nn", Kind: Novelty, Key: []string{"cur"}, Field: "n", Lookback: window, NoHistory: NoHistorySkip},
	}
	for _, hist := range []string{"hist", ""} {
		for _, r := range rules {
			in := HistoryInput{Cur: "cur", Hist: hist, EventTime: "at", From: base.Add(-r.Span()), To: base.Add(60 * unit)}
			q, err := r.HitsSQL(in)
			if err != nil {
				t.Fatal(err)
			}
			want := collect(t, db, q)
			if len(want) == 0 && r.Name != "v6" {
				t.Errorf("rule %s, history %q: the reference tags nothing; the test data is too tame", r.Name, hist)
			}
			for _, v := range lookupVariants {
				got := v.hits(t, db, &r, in)
				for k := range want {
					if !got[k] {
						t.Errorf("rule %s (window %v), history %q, %s: row %s tagged by the SQL, not by ScanHits", r.Name, r.Span(), hist, v.name, k)
					}
				}
				for k := range got {
					if !want[k] {
						t.Errorf("rule %s (window %v), history %q, %s: row %s tagged by ScanHits, not by the SQL", r.Name, r.Span(), hist, v.name, k)
					}
				}
			}
		}
	}
}

// lookupVariant is one way to look up a history rule's hits: in one scan,
// or in key buckets, each scanned directly or from StageSQL's files.
type lookupVariant struct {
	name    string
	buckets int
	staged  bool
}

// lookupVariants are checked by the differential tests. With 7 buckets
// and the tests' few keys, some buckets are empty.
var lookupVariants = []lookupVariant{{"one scan", 1, false}, {"3 buckets", 3, false}, {"7 buckets, staged", 7, true}}

// hits runs ScanHits over every bucket of the variant and returns the hits
// as "f<file>/<row>".
func (v lookupVariant) hits(t *testing.T, db *sql.DB, r *Rule, in HistoryInput) map[string]bool {
	t.Helper()
	in.Buckets = v.buckets
	if v.staged {
		dir := filepath.Join(t.TempDir(), "stage's [x]") // a quote and glob characters
		q, err := r.StageSQL(in, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		in.Staged = dir
	}
	got := map[string]bool{}
	for b := range v.buckets {
		in.Bucket = b
		err := r.ScanHits(t.Context(), db, in, func(file int, row int64) error {
			got[fmt.Sprintf("f%d/%d", file, row)] = true
			return nil
		})
		if err != nil {
			t.Fatalf("%s, bucket %d: %v", v.name, b, err)
		}
	}
	return got
}

func TestStageSQLErrors(t *testing.T) {
	r := Rule{Name: "v", Kind: Velocity, Key: []string{"cust"}, Count: 2, Window: time.Hour}
	if _, err := r.StageSQL(HistoryInput{Cur: "cur", EventTime: "at", Buckets: 1}, "d"); err == nil || !strings.Contains(err.Error(), "two or more key buckets") {
		t.Errorf("one bucket: %v", err)
	}
	c := Rule{Name: "c", Kind: Condition, Expr: "true"}
	if _, err := c.StageSQL(HistoryInput{Cur: "cur", EventTime: "at", Buckets: 4}, "d"); err == nil || !strings.Contains(err.Error(), "no history scan") {
		t.Errorf("condition rule: %v", err)
	}
}
