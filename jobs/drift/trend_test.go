package drift

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

func TestStudentTQuantile(t *testing.T) {
	// scipy 1.17: scipy.stats.t.ppf(p, df)
	for _, tt := range []struct{ p, nu, want float64 }{
		{0.975, 1, 12.706204736174694},
		{0.975, 5, 2.5705818356363146},
		{0.975, 30, 2.0422724563012378},
		{0.95, 10, 1.8124611228116756},
		{0.025, 5, -2.5705818356363146},
		{0.999, 3, 10.214531852407383},
	} {
		if got := StudentTQuantile(tt.p, tt.nu); math.Abs(got-tt.want) > 1e-12*math.Abs(tt.want) {
			t.Errorf("StudentTQuantile(%v, %v) = %.16g, want %.16g", tt.p, tt.nu, got, tt.want)
		}
	}
	if got := StudentTCDF(2.5705818356363146, 5); math.Abs(got-0.975) > 1e-14 {
		t.Errorf("StudentTCDF = %v", got)
	}
}

func TestPredictOLSExact(t *testing.T) {
	wk := []float64{0, 5, -3, 2, 7, -1, 4}
	var xs, ys []float64
	var wds []time.Weekday
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for k := 0; k < 20; k++ {
		w := start.AddDate(0, 0, k).Weekday()
		xs, wds, ys = append(xs, float64(k)), append(wds, w), append(ys, 3+2*float64(k)+wk[w])
	}
	w := start.AddDate(0, 0, 20).Weekday()
	fit, err := predictOLS(xs, wds, ys, 20, w, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 + 40 + wk[w]; math.Abs(fit.yhat-want) > 1e-9 || fit.half > 1e-6 || fit.dof != 12 {
		t.Fatalf("fit %+v, want yhat %v, half ~0, dof 12", fit, want)
	}
	if _, err := predictOLS(xs[:8], wds[:8], ys[:8], 8, wds[1], 0.95); err == nil {
		t.Fatal("8 observations for 8 parameters: want an error")
	}
}

// trendTable creates table t(dt DATE, x DOUBLE, s VARCHAR) of 28 days,
// 2026-01-01..2026-01-28: rows, the mean of x and the null rate of s each
// follow a slow linear trend plus a weekly pattern plus small noise. jump
// moves the last day's metrics away from the pattern.
func trendTable(t *testing.T, jump bool) *sql.DB {
	t.Helper()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	wkRows := []int{-300, 100, 150, 120, 80, 200, -250}
	wkMean := []float64{-4, 1, 2, 1.5, 0.5, 3, -3}
	wkNull := []float64{0.02, 0, 0.01, 0, 0.005, 0.015, 0.03}
	seed := uint32(7)
	noise := func() float64 { // uniform in [-1, 1)
		seed = seed*1664525 + 1013904223
		return float64(seed>>8)/float64(1<<23) - 1
	}
	var vals []string
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for k := 0; k < 28; k++ {
		d := start.AddDate(0, 0, k)
		w := d.Weekday()
		n := 2 * (2000 + 10*k + wkRows[w] + int(20*noise()))
		m := 100 + 0.3*float64(k) + wkMean[w] + 0.2*noise()
		nr := 0.05 + 0.001*float64(k) + wkNull[w] + 0.002*noise()
		if jump && k == 27 {
			n, m, nr = n*13/10, m+8, nr+0.08
		}
		vals = append(vals, fmt.Sprintf("(DATE '%s', %d, %v::DOUBLE, %v::DOUBLE)", d.Format(dateLayout), n, m, nr))
	}
	q := `CREATE TABLE t AS SELECT d.dt, d.m + CASE WHEN r.i % 2 = 0 THEN 1 ELSE -1 END AS x,
  CASE WHEN r.i < round(d.n * d.nr) THEN NULL ELSE 'a' END AS s
FROM (VALUES ` + strings.Join(vals, ", ") + `) d(dt, n, m, nr), range(d.n) r(i)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTrendFlagsAJumpNotATrend(t *testing.T) {
	cols := []Column{{Name: "x", Kind: kindNumeric}, {Name: "s", Kind: kindCategorical}}
	rg, err := trendRange(Range{"2026-01-28", "2026-01-28"}, 28)
	if err != nil || rg.From != "2026-01-01" {
		t.Fatalf("trendRange: %v %v", rg, err)
	}
	for _, jump := range []bool{false, true} {
		db := trendTable(t, jump)
		tr, err := computeTrend(context.Background(), db, "t", rg, 28, cols)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Metrics) != 4 || len(tr.MissingDays) != 0 {
			t.Fatalf("metrics %d, missing %v; want rows, x mean, x null_rate, s null_rate", len(tr.Metrics), tr.MissingDays)
		}
		for _, m := range tr.Metrics {
			if m.Fitted == nil || m.Actual == nil || m.Observations != 27 || m.DOF != 19 || len(m.Daily) != 28 {
				t.Fatalf("jump %v: %s %s: %+v", jump, m.Column, m.Metric, m)
			}
			constant := m.Column == "x" && m.Metric == "null_rate" // always 0
			want := jump && !constant
			if m.Flagged != want {
				t.Errorf("jump %v: %s %s fitted %v [%v, %v] actual %v: flagged %v, want %v",
					jump, m.Column, m.Metric, *m.Fitted, *m.Lower, *m.Upper, *m.Actual, m.Flagged, want)
			}
			if !jump && !constant && (*m.Upper-*m.Lower) <= 0 {
				t.Errorf("%s %s: empty interval", m.Column, m.Metric)
			}
		}
		if tr.Flagged != jump {
			t.Errorf("jump %v: trend flagged %v", jump, tr.Flagged)
		}
	}
}

func TestTrendMissingDaysAndTooFew(t *testing.T) {
	db := trendTable(t, false)
	// The window reaches 10 days before the table: they are missing and
	// left out of the fit; the current day is fitted from 17 days.
	rg := Range{"2025-12-22", "2026-01-18"}
	tr, err := computeTrend(context.Background(), db, "t", rg, 28, []Column{{Name: "x", Kind: kindNumeric}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.MissingDays) != 10 || tr.Metrics[0].Observations != 17 || tr.Metrics[0].Flagged {
		t.Fatalf("missing %v, rows metric %+v", tr.MissingDays, tr.Metrics[0])
	}
	// No rows at all: nothing can be fitted, and the current day has 0 rows.
	tr, err = computeTrend(context.Background(), db, "", rg, 28, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := tr.Metrics[0]; m.Fitted != nil || m.Note == "" || m.Actual == nil || *m.Actual != 0 {
		t.Fatalf("empty window: %+v", m)
	}
}
