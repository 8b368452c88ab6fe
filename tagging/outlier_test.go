package tagging

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // tables live on the one connection
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(t.Context(), "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// differentialTables opens DuckDB with the tables cur (a run's rows, with
// the row-identity columns) and hist of the differential tests: columns
// cust, cur, at (a TIMESTAMPTZ, or a DATE when date is set) and cols. It
// returns the time unit of the data's grid and its layout.
func differentialTables(t *testing.T, date bool, cols string) (*sql.DB, time.Duration, string) {
	t.Helper()
	db := openDuckDB(t)
	unit, typ, layout := time.Minute, "TIMESTAMPTZ", time.RFC3339
	if date {
		unit, typ, layout = 24*time.Hour, "DATE", time.DateOnly
	}
	for _, q := range []string{
		"CREATE TABLE cur (cust VARCHAR, cur VARCHAR, \"at\" " + typ + ", " + cols + ", _tx_file VARCHAR, _tx_row BIGINT, _tx_fileno INTEGER)",
		"CREATE TABLE hist (cust VARCHAR, cur VARCHAR, \"at\" " + typ + ", " + cols + ")",
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	return db, unit, layout
}

// TestSortedValuesMatchDuckDB checks median and mad of sortedValues, after
// random inserts and removes across block splits and merges, bit for bit
// against DuckDB's median() and mad().
func TestSortedValuesMatchDuckDB(t *testing.T) {
	db := openDuckDB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE v (g INTEGER, x DOUBLE)"); err != nil {
		t.Fatal(err)
	}
	sets := map[int]*sortedValues{}
	var vals []string
	for g, n := range []int{1, 2, 3, 4, 5, 10, 11, 100, 1023, 1024, 1025, 3000, 5001} {
		s := &sortedValues{}
		var extra []float64
		for i := range n + n/2 {
			var x float64
			switch rng.IntN(4) {
			case 0:
				x = float64(rng.IntN(5)) // ties
			case 1:
				x = float64(rng.IntN(1_000_000)) / 100 // cents
			case 2:
				x = rng.NormFloat64() * 1e6
			default:
				x = math.Ldexp(rng.Float64(), rng.IntN(80)-40)
			}
			s.insert(x)
			if i >= n {
				extra = append(extra, x) // removed again below
			} else {
				vals = append(vals, fmt.Sprintf("(%d, %s)", g, strconv.FormatFloat(x, 'g', -1, 64)))
			}
		}
		rng.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
		for _, x := range extra {
			s.remove(x)
		}
		if s.n != n {
			t.Fatalf("group %d: %d values, want %d", g, s.n, n)
		}
		for i := 1; i < n; i++ {
			if s.at(i-1) > s.at(i) {
				t.Fatalf("group %d: values out of order at %d", g, i)
			}
		}
		sets[g] = s
	}
	for len(vals) > 0 {
		k := min(len(vals), 5000)
		if _, err := db.ExecContext(t.Context(), "INSERT INTO v VALUES "+strings.Join(vals[:k], ", ")); err != nil {
			t.Fatal(err)
		}
		vals = vals[k:]
	}
	rows, err := db.QueryContext(t.Context(), "SELECT g, median(x), mad(x) FROM v GROUP BY g")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var g int
		var med, mad float64
		if err := rows.Scan(&g, &med, &mad); err != nil {
			t.Fatal(err)
		}
		s := sets[g]
		if m := s.median(); m != med {
			t.Errorf("group %d (%d values): median %v, DuckDB %v", g, s.n, m, med)
		}
		if m := s.mad(med); m != mad {
			t.Errorf("group %d (%d values): mad %v, DuckDB %v", g, s.n, m, mad)
		}
		checked++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if checked != len(sets) {
		t.Errorf("DuckDB returned %d groups, want %d", checked, len(sets))
	}
}

// TestOutlierHitsMatchHitsSQL is a differential test: on random runs and
// histories with ties, nulls, NaNs, rows at the same instant, even and odd
// windows, zero spreads and rows exactly at the lookback edge, with a
// timestamp or a date event time, OutlierHits
// must tag exactly the rows HitsSQL's window-function query tags (for
// z-scores, but for scores within 1e-9 of the threshold).
func TestOutlierHitsMatchHitsSQL(t *testing.T) {
	for _, method := range []string{MethodMAD, MethodZScore} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/%d", method, seed), func(t *testing.T) {
				testOutlierDifferential(t, method, seed, false)
			})
		}
		t.Run(method+"/date", func(t *testing.T) { testOutlierDifferential(t, method, 7, true) })
	}
}

// With date set, the event time is a DATE column, on a one-day grid.
func testOutlierDifferential(t *testing.T, method string, seed uint64, date bool) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 99))
	db, unit, layout := differentialTables(t, date, "amount DOUBLE")
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	lookback := 10 * unit
	str := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	value := func(mode int) string {
		switch {
		case rng.IntN(15) == 0:
			return "NULL"
		case rng.IntN(60) == 0:
			return "'NaN'"
		case rng.IntN(12) == 0:
			return strconv.Itoa(1000 + rng.IntN(3)) // far out
		}
		switch mode {
		case 0: // zero spread
			return "7"
		case 1: // few distinct values: ties
			return strconv.Itoa(rng.IntN(4))
		default:
			if method == MethodZScore {
				return strconv.FormatFloat(float64(rng.IntN(400))/4, 'g', -1, 64)
			}
			return strconv.FormatFloat(float64(rng.IntN(100_000))/100, 'g', -1, 64)
		}
	}
	key := func() (string, string) {
		c := []string{"a", "b", "c", "d", "3:EUR,", "it's", ""}[rng.IntN(7)]
		cur := []string{"EUR", "USD", ""}[rng.IntN(3)]
		if rng.IntN(10) > 0 && cur == "" {
			cur = "EUR"
		}
		return c, cur
	}
	modes := map[string]int{}
	modeOf := func(c, cur string) int {
		m, ok := modes[c+"/"+cur]
		if !ok {
			m = rng.IntN(3)
			modes[c+"/"+cur] = m
		}
		return m
	}
	// Times on a grid of 40 units: many rows share an instant and many
	// sit exactly lookback before another.
	when := func(from int) string {
		return base.Add(time.Duration(from+rng.IntN(40)) * unit).Format(layout)
	}
	var stmts []string
	rowsOf := [2]int64{}
	for range 300 + rng.IntN(300) {
		c, cur := key()
		f := rng.IntN(2)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO cur VALUES (%s, %s, '%s', %s, 'f%d', %d, %d)", str(c), str(cur),
			when(0), value(modeOf(c, cur)), f, rowsOf[f], f))
		rowsOf[f]++
	}
	for range 200 + rng.IntN(200) {
		c, cur := key()
		// History from before the run; some before From (never read).
		stmts = append(stmts, fmt.Sprintf("INSERT INTO hist VALUES (%s, %s, '%s', %s)", str(c), str(cur),
			when(-45), value(modeOf(c, cur))))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	for _, threshold := range []float64{0.5, 1, 2.5, 4} {
		r := Rule{Name: "o", Kind: Outlier, Key: []string{"cust", "cur"}, Field: "amount", Lookback: lookback,
			Method: method, Threshold: threshold, MinHistory: 1 + rng.IntN(4)}
		in := HistoryInput{Cur: "cur", Hist: "hist", EventTime: "at", From: base.Add(-lookback), To: base.Add(60 * unit)}
		if rng.IntN(3) == 0 {
			in.Hist = ""
		}
		want, edge := referenceOutliers(t, db, &r, in)
		if len(want) == 0 {
			t.Errorf("threshold %v: the reference tags nothing; the test data is too tame", threshold)
		}
		for _, v := range lookupVariants {
			got := v.hits(t, db, &r, in)
			for k := range want {
				if !got[k] && !edge[k] {
					t.Errorf("threshold %v, min_history %d, history %v, %s: row %s tagged by the SQL, not by OutlierHits",
						threshold, r.MinHistory, in.Hist != "", v.name, k)
				}
			}
			for k := range got {
				if !want[k] && !edge[k] {
					t.Errorf("threshold %v, min_history %d, history %v, %s: row %s tagged by OutlierHits, not by the SQL",
						threshold, r.MinHistory, in.Hist != "", v.name, k)
				}
			}
		}
	}
}

// referenceOutliers runs HitsSQL, and for z-scores lists the new rows whose
// DuckDB score is within 1e-9 of the threshold (either answer is right).
func referenceOutliers(t *testing.T, db *sql.DB, r *Rule, in HistoryInput) (want, edge map[string]bool) {
	q, err := r.HitsSQL(in)
	if err != nil {
		t.Fatal(err)
	}
	// HitsSQL treats NaN as a value; OutlierHits as a null.
	q = strings.Replace(q, "FROM "+ident(in.Cur)+" WHERE ", "FROM "+ident(in.Cur)+" WHERE NOT isnan(amount) AND ", 1)
	if in.Hist != "" {
		q = strings.Replace(q, "FROM "+ident(in.Hist)+" WHERE ", "FROM "+ident(in.Hist)+" WHERE NOT isnan(amount) AND ", 1)
	}
	want = collect(t, db, q)
	edge = map[string]bool{}
	if r.Method == MethodZScore {
		near := strings.Replace(q, "abs(_v - _m) / _s > "+strconv.FormatFloat(r.Threshold, 'g', -1, 64),
			"abs(abs(_v - _m) / _s - "+strconv.FormatFloat(r.Threshold, 'g', -1, 64)+") < 1e-9", 1)
		if near == q {
			t.Fatal("the reference query's shape changed")
		}
		edge = collect(t, db, near)
	}
	return want, edge
}

func collect(t *testing.T, db *sql.DB, q string) map[string]bool {
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var file string
		var row int64
		if err := rows.Scan(&file, &row); err != nil {
			t.Fatal(err)
		}
		out[file+"/"+strconv.FormatInt(row, 10)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkOutlierWindow feeds one key's rows through the sliding window:
// "customer" keeps about 30 rows in its window, "merchant" about 100,000
// (the sorted blocks keep its updates cheap).
func BenchmarkOutlierWindow(b *testing.B) {
	for _, bc := range []struct {
		name string
		gap  int64 // µs between rows; the lookback is 30 days
	}{{"customer", 86_400_000_000}, {"merchant", 25_920_000}} {
		for _, method := range []string{MethodMAD, MethodZScore} {
			b.Run(bc.name+"/"+method, func(b *testing.B) {
				r := Rule{Kind: Outlier, Lookback: 30 * 24 * time.Hour, Method: method, Threshold: 50, MinHistory: 5}
				w := newOutlierWindow(&r)
				rng := rand.New(rand.NewPCG(1, 1))
				vals := make([]float64, 1<<16)
				for i := range vals {
					vals[i] = float64(rng.IntN(100_000)) / 100
				}
				b.ResetTimer()
				for i := range b.N {
					w.push(int64(i)*bc.gap, vals[i&(len(vals)-1)], true)
				}
			})
		}
	}
}
