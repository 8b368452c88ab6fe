package drift

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/txlake/txlake/jobs/query"
)

// MinTrendDays is the fewest days --trend-days accepts: the fit has 8
// parameters (intercept, day index, six day-of-week dummies) and uses the
// days before the current one, so 14 days leave 13 observations and 5
// degrees of freedom for the residual variance.
const MinTrendDays = 14

// TrendConfidence is the coverage of the prediction interval.
const TrendConfidence = 0.95

// trendParams is the number of regression parameters with every weekday in
// the history.
const trendParams = 8

// Trend is the regression check of the current day's daily metrics against
// the days before it (--trend-days).
type Trend struct {
	// Days is N of --trend-days: the window From..To, To being the current
	// range's last day (the checked day).
	Days       int     `json:"days"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Confidence float64 `json:"confidence"`
	// MissingDays are days of the window without rows; they are left out of
	// the fit (a missing current day has 0 rows and undefined other metrics).
	MissingDays []string `json:"missing_days"`
	// Flagged is true when some metric of the current day is flagged. It
	// does not change drift_detected.
	Flagged bool          `json:"flagged"`
	Metrics []TrendMetric `json:"metrics"`
}

// TrendMetric is one daily metric: its fit, the current day's prediction
// interval and actual value.
type TrendMetric struct {
	// Column is "" for the row count.
	Column string `json:"column"`
	// Metric is rows, mean or null_rate.
	Metric string `json:"metric"`
	// Observations is the number of history days fitted, DOF the residual
	// degrees of freedom (observations - parameters).
	Observations int `json:"observations"`
	DOF          int `json:"dof"`
	// Fitted is the model's prediction for the current day, Lower..Upper the
	// prediction interval; null when the metric could not be fitted (Note).
	Fitted *float64 `json:"fitted"`
	Lower  *float64 `json:"lower"`
	Upper  *float64 `json:"upper"`
	Actual *float64 `json:"actual"`
	// Flagged: Actual is outside Lower..Upper and departs from Fitted by at
	// least the metric's minimum change (see trendMinChange).
	Flagged bool   `json:"flagged"`
	Note    string `json:"note,omitempty"`
	// Daily holds the metric per day of the window (null on days without
	// a value), the current day last.
	Daily []TrendDay `json:"daily"`
}

// TrendDay is one day's value of a metric.
type TrendDay struct {
	Date  string   `json:"date"`
	Value *float64 `json:"value"`
}

// trendRange is the window of n days ending on the current range's last day.
func trendRange(cur Range, n int) (Range, error) {
	to, err := time.Parse(dateLayout, cur.To)
	if err != nil {
		return Range{}, err
	}
	return Range{From: to.AddDate(0, 0, -(n - 1)).Format(dateLayout), To: cur.To}, nil
}

// computeTrend computes the daily metrics of cols over rel (a relation with a
// dt column and the table's columns) for the days of rg, one GROUP BY dt
// query, and checks the last day against the fit of the others.
func computeTrend(ctx context.Context, db *sql.DB, rel string, rg Range, n int, cols []Column) (*Trend, error) {
	days := rg.Days()
	tr := &Trend{Days: n, From: rg.From, To: rg.To, Confidence: TrendConfidence, MissingDays: []string{}, Metrics: []TrendMetric{}}
	type metric struct {
		col, name string
		expr      string // aggregate over a day
	}
	ms := []metric{{"", "rows", "CAST(count(*) AS DOUBLE)"}}
	for _, c := range cols {
		id := query.Ident(c.Name)
		if c.Kind == kindNumeric {
			x := fmt.Sprintf("CASE WHEN isnan(CAST(%s AS DOUBLE)) THEN NULL ELSE CAST(%s AS DOUBLE) END", id, id)
			if !c.PII {
				ms = append(ms, metric{c.Name, "mean", "avg(" + x + ")"})
			}
			ms = append(ms, metric{c.Name, "null_rate", "1 - count(" + x + ") / count(*)"})
		} else {
			ms = append(ms, metric{c.Name, "null_rate", fmt.Sprintf("1 - count(%s) / count(*)", id)})
		}
	}
	sel := make([]string, len(ms))
	for i, m := range ms {
		sel[i] = "CAST(" + m.expr + " AS DOUBLE)"
	}
	q := fmt.Sprintf("SELECT strftime(dt, '%%Y-%%m-%%d'), %s FROM %s WHERE dt BETWEEN DATE %s AND DATE %s GROUP BY 1",
		strings.Join(sel, ", "), rel, query.Literal(rg.From), query.Literal(rg.To))
	vals := map[string][]sql.NullFloat64{}
	if rel != "" {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("trend: daily metrics: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			v := make([]sql.NullFloat64, len(ms))
			dest := []any{&d}
			for i := range v {
				dest = append(dest, &v[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return nil, fmt.Errorf("trend: daily metrics: %w", err)
			}
			vals[d] = v
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("trend: daily metrics: %w", err)
		}
	}
	for _, d := range days {
		if _, ok := vals[d]; !ok {
			tr.MissingDays = append(tr.MissingDays, d)
		}
	}
	for i, m := range ms {
		tm := TrendMetric{Column: m.col, Metric: m.name, Daily: make([]TrendDay, 0, len(days))}
		var xs []float64 // history day indexes
		var wds []time.Weekday
		var ys []float64
		for k, d := range days {
			v, ok := vals[d]
			var y *float64
			switch {
			case ok && v[i].Valid:
				y = ptr(v[i].Float64)
			case !ok && m.name == "rows":
				y = ptr(0)
			}
			tm.Daily = append(tm.Daily, TrendDay{Date: d, Value: y})
			if k == len(days)-1 {
				tm.Actual = y
				continue
			}
			if ok && y != nil {
				t, _ := time.Parse(dateLayout, d)
				xs, wds, ys = append(xs, float64(k)), append(wds, t.Weekday()), append(ys, *y)
			}
		}
		last, _ := time.Parse(dateLayout, days[len(days)-1])
		fit, err := predictOLS(xs, wds, ys, float64(len(days)-1), last.Weekday(), TrendConfidence)
		tm.Observations, tm.DOF = len(ys), fit.dof
		if err != nil {
			tm.Note = err.Error()
		} else {
			tm.Fitted, tm.Lower, tm.Upper = ptr(fit.yhat), ptr(fit.yhat-fit.half), ptr(fit.yhat+fit.half)
			if tm.Actual == nil {
				tm.Note = "no value on the current day"
			} else {
				a := *tm.Actual
				tol := 1e-9 * math.Max(1, math.Max(math.Abs(a), math.Abs(fit.yhat)))
				tm.Flagged = math.Abs(a-fit.yhat) > fit.half+tol && math.Abs(a-fit.yhat) >= trendMinChange(m.name, fit.yhat)
			}
		}
		tr.Flagged = tr.Flagged || tm.Flagged
		tr.Metrics = append(tr.Metrics, tm)
	}
	return tr, nil
}

// trendMinChange is the smallest departure from the fit that flags a
// metric, as for the two-window checks, so that near-constant histories
// (a residual spread close to 0) do not flag trivial changes: a null rate
// must move by NullRateMinChange, a row count by VolumeMinTolerance of the
// fitted count; means have no minimum.
func trendMinChange(metric string, fitted float64) float64 {
	switch metric {
	case "null_rate":
		return NullRateMinChange
	case "rows":
		return VolumeMinTolerance * math.Abs(fitted)
	}
	return 0
}

type olsFit struct {
	yhat, half float64 // prediction and half-width of the prediction interval
	dof        int
}

// predictOLS fits y = b0 + b1·x + Σ_w d_w·[weekday = w] by ordinary least
// squares, with one dummy per weekday present in the history except the
// first one seen (the baseline), and returns the prediction at (x0, wd0)
// with the half-width t_{(1+conf)/2, dof} · s · sqrt(1 + x0ᵀ(XᵀX)⁻¹x0) of the
// prediction interval, s² = RSS/dof.
func predictOLS(xs []float64, wds []time.Weekday, ys []float64, x0 float64, wd0 time.Weekday, conf float64) (olsFit, error) {
	var dummies []time.Weekday
	seen := map[time.Weekday]bool{}
	for i, w := range wds {
		if !seen[w] {
			seen[w] = true
			if i > 0 {
				dummies = append(dummies, w)
			}
		}
	}
	p := 2 + len(dummies)
	n := len(ys)
	fit := olsFit{dof: n - p}
	if fit.dof < 1 {
		return fit, fmt.Errorf("%d days with a value are too few to fit %d parameters", n, p)
	}
	row := func(x float64, w time.Weekday) []float64 {
		r := make([]float64, p)
		r[0], r[1] = 1, x
		for j, d := range dummies {
			if w == d {
				r[2+j] = 1
			}
		}
		return r
	}
	xtx := make([][]float64, p)
	for j := range xtx {
		xtx[j] = make([]float64, p)
	}
	xty := make([]float64, p)
	X := make([][]float64, n)
	for i := range ys {
		X[i] = row(xs[i], wds[i])
		for a := 0; a < p; a++ {
			xty[a] += X[i][a] * ys[i]
			for b := 0; b < p; b++ {
				xtx[a][b] += X[i][a] * X[i][b]
			}
		}
	}
	inv, err := invert(xtx)
	if err != nil {
		return fit, err
	}
	beta := make([]float64, p)
	for a := 0; a < p; a++ {
		for b := 0; b < p; b++ {
			beta[a] += inv[a][b] * xty[b]
		}
	}
	var rss float64
	for i := range ys {
		var f float64
		for a := 0; a < p; a++ {
			f += X[i][a] * beta[a]
		}
		rss += (ys[i] - f) * (ys[i] - f)
	}
	x := row(x0, wd0)
	var q float64
	for a := 0; a < p; a++ {
		fit.yhat += x[a] * beta[a]
		for b := 0; b < p; b++ {
			q += x[a] * inv[a][b] * x[b]
		}
	}
	s2 := rss / float64(fit.dof)
	fit.half = StudentTQuantile((1+conf)/2, float64(fit.dof)) * math.Sqrt(s2*(1+q))
	if !seen[wd0] {
		return fit, fmt.Errorf("the current day's weekday (%s) is not among the fitted days", wd0)
	}
	return fit, nil
}

// invert inverts a small symmetric positive-definite matrix by Gauss–Jordan
// elimination with partial pivoting.
func invert(m [][]float64) ([][]float64, error) {
	p := len(m)
	a := make([][]float64, p)
	for i := range m {
		a[i] = make([]float64, 2*p)
		copy(a[i], m[i])
		a[i][p+i] = 1
	}
	scale := 0.0
	for i := range m {
		scale = math.Max(scale, math.Abs(m[i][i]))
	}
	for c := 0; c < p; c++ {
		piv := c
		for r := c + 1; r < p; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		if math.Abs(a[piv][c]) <= 1e-12*scale {
			return nil, errors.New("the fit is singular (too few distinct days)")
		}
		a[c], a[piv] = a[piv], a[c]
		d := a[c][c]
		for k := range a[c] {
			a[c][k] /= d
		}
		for r := 0; r < p; r++ {
			if r != c && a[r][c] != 0 {
				f := a[r][c]
				for k := range a[r] {
					a[r][k] -= f * a[c][k]
				}
			}
		}
	}
	out := make([][]float64, p)
	for i := range a {
		out[i] = a[i][p:]
	}
	return out, nil
}

// StudentTCDF is the CDF of Student's t distribution with nu > 0 degrees of
// freedom: for t ≥ 0, 1 - I_{ν/(ν+t²)}(ν/2, 1/2)/2, I the regularized
// incomplete beta function.
func StudentTCDF(t, nu float64) float64 {
	x := nu / (nu + t*t)
	tail := 0.5 * regIncBeta(nu/2, 0.5, x)
	if t >= 0 {
		return 1 - tail
	}
	return tail
}

// StudentTQuantile inverts StudentTCDF for p in (0, 1) by bisection (to
// double precision: 200 halvings of a bracketing interval).
func StudentTQuantile(p, nu float64) float64 {
	if p == 0.5 {
		return 0
	}
	if p < 0.5 {
		return -StudentTQuantile(1-p, nu)
	}
	lo, hi := 0.0, 1.0
	for StudentTCDF(hi, nu) < p && hi < 1e300 {
		lo, hi = hi, hi*2
	}
	for i := 0; i < 200 && hi-lo > 1e-15*hi; i++ {
		mid := (lo + hi) / 2
		if StudentTCDF(mid, nu) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), by the
// continued fraction of Numerical Recipes (betacf, modified Lentz).
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 1000; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return h
}

func trendMetricName(m TrendMetric) string {
	if m.Column == "" {
		return "rows"
	}
	return m.Column + " " + m.Metric
}

func trendHeader(tr *Trend) string {
	s := fmt.Sprintf("%s (%s): %s against an OLS fit (intercept, day index, day of week) of the days before it; %s prediction intervals",
		Range{tr.From, tr.To}, fmtDays(tr.Days), tr.To, fmtPct(tr.Confidence))
	if len(tr.MissingDays) > 0 {
		s += "; no rows on " + strings.Join(tr.MissingDays, ", ")
	}
	return s
}

func trendVerdict(m TrendMetric) string {
	switch {
	case m.Fitted == nil || m.Actual == nil:
		return "not fitted: " + m.Note
	case m.Flagged:
		return "OUTSIDE"
	}
	return "ok"
}

// writeTrendText appends the trend section of the text report.
func writeTrendText(b *strings.Builder, tr *Trend) {
	if tr == nil {
		return
	}
	fmt.Fprintf(b, "\nTrend: %s\n", trendHeader(tr))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tFITTED\tINTERVAL\tACTUAL\tVERDICT")
	for _, m := range tr.Metrics {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", trendMetricName(m), fmtFloat(m.Fitted), trendInterval(m), fmtFloat(m.Actual), trendVerdict(m))
	}
	tw.Flush()
}

func trendInterval(m TrendMetric) string {
	if m.Lower == nil || m.Upper == nil {
		return "-"
	}
	return "[" + fmtNum(*m.Lower) + ", " + fmtNum(*m.Upper) + "]"
}

// writeTrendMarkdown appends the trend section of the markdown report.
func writeTrendMarkdown(b *strings.Builder, tr *Trend) {
	if tr == nil {
		return
	}
	fmt.Fprintf(b, "\n## Trend\n\n%s\n\n| metric | fitted | interval | actual | verdict |\n|---|--:|---|--:|---|\n", mdCell(trendHeader(tr)))
	for _, m := range tr.Metrics {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mdCell(trendMetricName(m)), fmtFloat(m.Fitted), trendInterval(m), fmtFloat(m.Actual), mdCell(trendVerdict(m)))
	}
}
