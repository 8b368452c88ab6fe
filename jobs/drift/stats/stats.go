// Package stats computes per-column drift statistics between a reference and a
// current relation inside DuckDB.
//
// Everything that scales with the data runs in DuckDB SQL: summaries are
// aggregates, distributions are GROUP BY value counts (ties collapsed), KS and
// Wasserstein-1 are window sums over the distinct values of ref ∪ cur, and
// PSI/JS/KL/Hellinger/chi-square are aggregates over the value-count relation.
// Only fixed-size results cross into Go: one summary row per side, at most
// Bins-1 quantile edges, at most Bins+1 and 21 histogram rows, and at most
// MaxCategories new/vanished categories. Per-distinct-value rows are never
// fetched. P-values are computed in Go from the statistics (pvalue.go).
//
// Definitions (checked against scipy 1.17 by testdata/drift/reference.py; see
// the README there):
//
//   - Nulls (and NaN for numeric columns) are excluded from every distribution
//     statistic and reported as Summary.Nulls / NullRate. "Shares" are shares of
//     non-null rows.
//   - KS: D = max over distinct values of |F_ref - F_cur| (scipy.stats.ks_2samp).
//     On scipy's exact path the statistic is rounded to the h/lcm lattice as scipy
//     does; the p-value is KSPValue.
//   - WassersteinRaw: Σ (x_{i+1}-x_i)|F_ref(x_i)-F_cur(x_i)| over consecutive
//     distinct values (scipy.stats.wasserstein_distance). Wasserstein:
//     WassersteinRaw / max(std_ref, 0.001), std_ref the population std. The
//     0.001 floor is Evidently's: a constant reference gives W1/0.001 (0 when the
//     current column is the same constant), never Inf or NaN.
//   - Cells: numeric columns are cut at reference-quantile edges
//     e_i = quantile_disc(ref, i/Bins), i = 1..Bins-1, de-duplicated (ties may
//     merge bins); cell 0 = (-inf, e_1], cell i = (e_i, e_{i+1}], the last cell
//     (e_last, +inf) — so current values outside the reference range are
//     counted. DuckDB's quantile_disc(q) is the sorted value at 0-based index
//     ceil(n*q)-1 (clamped to 0). Categorical and binary columns use one cell per
//     distinct value (CAST to VARCHAR). Cells empty in both samples are dropped.
//     p, q are the ref and cur cell shares.
//   - PSI = Σ (q'-p')·ln(q'/p') with p', q' the shares where zero shares are
//     replaced by 1e-4 (Evidently's floor; not renormalised).
//   - KLDiv = scipy.stats.entropy(p', q') = KL(ref || cur) in nats, with the same
//     1e-4 floor, after which entropy renormalises p' and q' to sum 1.
//   - JensenShannon = scipy.spatial.distance.jensenshannon(p, q) with base e
//     (natural log; range [0, sqrt(ln 2)]), on the raw, unfloored shares.
//   - Hellinger = ‖√p - √q‖₂ / √2 on the raw shares (range [0, 1]).
//   - ChiSquare (categorical/binary) = scipy.stats.chisquare(f_obs, f_exp):
//     one cell per reference category with f_exp = ref_share * n_cur. When the
//     current sample has values not seen in the reference, their rows are pooled
//     into one extra cell whose expected share is the 1e-4 floor, and all
//     expected shares are renormalised: f_exp = [ref_shares..., 1e-4]/(1+1e-4) *
//     n_cur. df = cells - 1; with a single cell (df = 0) the p-value is nil.
//   - ZTest (binary): pooled two-proportion z test of the share of the
//     "positive" value — the greatest value of ref ∪ cur in the column's own
//     order (true for BOOLEAN, 1 for 0/1) — z = (p_cur-p_ref)/se, p = 2·NormalSF(|z|).
//     se = 0 (both samples the same constant) gives z = 0, p = 1.
//   - When either sample has no non-null rows, every test statistic is nil (no
//     error); summaries, histogram and category lists are still filled.
package stats

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind of a column for drift purposes.
type Kind string

const (
	Numeric     Kind = "numeric"
	Categorical Kind = "categorical"
	Binary      Kind = "binary"
)

// Input names one column in two SQL relations of one DuckDB database. Ref and Cur
// are SQL relation expressions usable after FROM (a view name, or "(SELECT ...)");
// Column is an already-quoted identifier or SQL expression. Numeric columns are
// cast to DOUBLE; categorical and binary columns are compared as VARCHAR.
type Input struct {
	Ref, Cur, Column string
	Kind             Kind
}

// Summary describes one sample. Numeric fields are nil for non-numeric columns
// and when the sample has no non-null values. Std is the population std
// (ddof=0); P1/P50/P99 are quantile_cont (linear interpolation, numpy's default).
type Summary struct {
	Rows, Nulls                       int64
	NullRate                          float64
	Min, Max, Mean, Std, P1, P50, P99 *float64
}

// NonNull is Rows - Nulls.
func (s Summary) NonNull() int64 { return s.Rows - s.Nulls }

// Category is one categorical value with its counts and shares of non-null rows.
type Category struct {
	Value              string
	RefShare, CurShare float64
	RefCount, CurCount int64
}

// Bin is one histogram bin. Shares are of each sample's non-null rows. Numeric
// bins cover [Lo, Hi) (the last one [Lo, Hi]); categorical bins carry Label.
type Bin struct {
	Lo, Hi             float64
	Label              string
	RefShare, CurShare float64
}

// Test is a statistic with its p-value (nil when not defined).
type Test struct {
	Statistic float64
	PValue    *float64
}

// Result holds every statistic that applies to the column's kind (nil when not
// applicable). See the package documentation for the exact definitions.
type Result struct {
	Ref, Cur       Summary
	KS             *Test    // numeric
	Wasserstein    *float64 // numeric: WassersteinRaw / max(ref std, 0.001)
	WassersteinRaw *float64 // numeric
	PSI            *float64 // all kinds (numeric: quantile cells; else categories)
	ChiSquare      *Test    // categorical and binary
	JensenShannon  *float64 // all kinds, base e
	KLDiv          *float64 // all kinds, KL(ref || cur), nats
	Hellinger      *float64 // all kinds
	ZTest          *Test    // binary

	// NewCategories are values in cur but not ref, VanishedCategories in ref but
	// not cur (categorical and binary), each sorted by count descending then
	// value, capped at Options.MaxCategories. The *Count/*Share fields below
	// cover all of them, beyond the cap.
	NewCategories, VanishedCategories []Category
	NewCategoryCount                  int     // distinct new values
	VanishedCategoryCount             int     // distinct vanished values
	NewShare                          float64 // share of cur non-null rows in new values
	VanishedShare                     float64 // share of ref non-null rows in vanished values

	// Histogram for charts: numeric: 20 equal-width bins over [min, max] of
	// ref ∪ cur (one bin when min == max); categorical/binary: the 20 most
	// frequent values of ref ∪ cur (by ref count + cur count, then value), then
	// one "(other)" bin when more values exist.
	Histogram  []Bin
	Categories int // distinct non-null values in ref ∪ cur

	// Cells are the reference/current counts of the distribution cells behind
	// PSI/JS/KL/Hellinger for numeric columns (quantile bins; Lo/Hi are the
	// edges, ±Inf outside). Nil for other kinds.
	Cells []Bin
	// ZPositive is the value whose share the z test compares (binary).
	ZPositive string
}

// Options tunes Compare.
type Options struct {
	Bins          int // PSI/JS/KL/Hellinger numeric quantile bins, default 10
	MaxCategories int // cap on NewCategories/VanishedCategories, default 1000
}

const (
	// ShareFloor replaces zero shares in PSI, KL and the chi-square new-value cell.
	ShareFloor = 1e-4
	// StdFloor is the minimum reference std used to normalise Wasserstein-1.
	StdFloor = 0.001
	// HistogramBins is the number of numeric histogram bins / top categories.
	HistogramBins = 20
	// OtherLabel labels the categorical histogram bin of the remaining values.
	OtherLabel = "(other)"
)

// Compare computes the statistics of one column. It never loads a column into
// Go memory: see the package documentation.
func Compare(ctx context.Context, db *sql.DB, in Input, opt Options) (Result, error) {
	if opt.Bins <= 0 {
		opt.Bins = 10
	}
	if opt.MaxCategories <= 0 {
		opt.MaxCategories = 1000
	}
	if in.Ref == "" || in.Cur == "" || in.Column == "" {
		return Result{}, errors.New("drift stats: Ref, Cur and Column are required")
	}
	switch in.Kind {
	case Numeric:
		return compareNumeric(ctx, db, in, opt)
	case Categorical, Binary:
		return compareCategorical(ctx, db, in, opt)
	default:
		return Result{}, fmt.Errorf("drift stats: unknown kind %q", in.Kind)
	}
}

// numExpr is the column as a DOUBLE with NaN mapped to NULL.
func numSelect(rel, col string, side int) string {
	return fmt.Sprintf("SELECT CASE WHEN isnan(_v) THEN NULL ELSE _v END AS x, %d AS s FROM (SELECT CAST(%s AS DOUBLE) AS _v FROM %s AS _t%d)", side, col, rel, side)
}

func catSelect(rel, col string, side int) string {
	return fmt.Sprintf("SELECT CAST(%s AS VARCHAR) AS v, %d AS s FROM %s AS _t%d", col, side, rel, side)
}

func lit(f float64) string {
	if math.IsInf(f, 1) {
		return "'inf'::DOUBLE"
	}
	if math.IsInf(f, -1) {
		return "'-inf'::DOUBLE"
	}
	// A quoted literal is parsed as DOUBLE (correctly rounded); a bare 0.1
	// would be a DECIMAL first.
	return "'" + strconv.FormatFloat(f, 'g', -1, 64) + "'::DOUBLE"
}

func fptr(f float64) *float64 { return &f }

func nullF(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	return fptr(n.Float64)
}

// numericSummary returns the summary of one side and, for the reference, the
// quantile_disc edges at i/bins.
func numericSummary(ctx context.Context, db *sql.DB, rel, col string, side, bins int) (Summary, []float64, error) {
	var qs []string
	for i := 1; i < bins; i++ {
		qs = append(qs, lit(float64(i)/float64(bins)))
	}
	edgeCols := ""
	edgeAgg := ""
	if side == 0 && bins > 1 {
		edgeAgg = ", quantile_disc(x, [" + strings.Join(qs, ", ") + "]) AS qd"
		for i := 1; i < bins; i++ {
			edgeCols += fmt.Sprintf(", qd[%d]", i)
		}
	}
	q := fmt.Sprintf(`SELECT n, nn, mn, mx, mean, sd, qc[1], qc[2], qc[3]%s FROM (
  SELECT count(*) AS n, count(x) AS nn, min(x) AS mn, max(x) AS mx, avg(x) AS mean,
         stddev_pop(x) AS sd, quantile_cont(x, [0.01, 0.5, 0.99]) AS qc%s
  FROM (%s))`, edgeCols, edgeAgg, numSelect(rel, col, side))
	var (
		n, nn                          int64
		mn, mx, mean, sd, p1, p50, p99 sql.NullFloat64
	)
	edges := make([]sql.NullFloat64, 0, bins)
	dest := []any{&n, &nn, &mn, &mx, &mean, &sd, &p1, &p50, &p99}
	if edgeCols != "" {
		edges = edges[:bins-1]
		for i := range edges {
			dest = append(dest, &edges[i])
		}
	}
	if err := db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return Summary{}, nil, fmt.Errorf("drift stats: summary: %w", err)
	}
	s := Summary{Rows: n, Nulls: n - nn}
	if n > 0 {
		s.NullRate = float64(n-nn) / float64(n)
	}
	if nn > 0 {
		s.Min, s.Max, s.Mean, s.Std = nullF(mn), nullF(mx), nullF(mean), nullF(sd)
		s.P1, s.P50, s.P99 = nullF(p1), nullF(p50), nullF(p99)
	}
	var out []float64
	for _, e := range edges {
		if e.Valid && (len(out) == 0 || e.Float64 > out[len(out)-1]) {
			out = append(out, e.Float64)
		}
	}
	return s, out, nil
}

func compareNumeric(ctx context.Context, db *sql.DB, in Input, opt Options) (Result, error) {
	var res Result
	var err error
	var edges []float64
	if res.Ref, edges, err = numericSummary(ctx, db, in.Ref, in.Column, 0, opt.Bins); err != nil {
		return res, err
	}
	if res.Cur, _, err = numericSummary(ctx, db, in.Cur, in.Column, 1, 0); err != nil {
		return res, err
	}
	nRef, nCur := res.Ref.NonNull(), res.Cur.NonNull()
	if nRef == 0 && nCur == 0 {
		return res, nil
	}
	// Histogram range over ref ∪ cur.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range []Summary{res.Ref, res.Cur} {
		if s.Min != nil {
			lo = math.Min(lo, *s.Min)
			hi = math.Max(hi, *s.Max)
		}
	}
	hbins := HistogramBins
	if hi <= lo || math.IsInf(hi-lo, 0) {
		hbins = 1
	}
	width := (hi - lo) / float64(hbins)
	histExpr := "0"
	if hbins > 1 {
		histExpr = fmt.Sprintf("least(CAST(floor((x - %s) / %s) AS BIGINT), %d)", lit(lo), lit(width), hbins-1)
	}
	// Quantile cell of x: number of edges < x.
	var cell strings.Builder
	if len(edges) == 0 {
		cell.WriteString("0")
	} else {
		cell.WriteString("CASE")
		for i, e := range edges {
			fmt.Fprintf(&cell, " WHEN x <= %s THEN %d", lit(e), i)
		}
		fmt.Fprintf(&cell, " ELSE %d END", len(edges))
	}
	// Denominators are literals so the window sums divide exactly like scipy
	// (count / n in float64). nRef or nCur may be 0 only for the histogram.
	dRef, dCur := lit(float64(max(nRef, 1))), lit(float64(max(nCur, 1)))
	q := fmt.Sprintf(`WITH u AS (%s UNION ALL %s),
vc AS MATERIALIZED (
  SELECT x, count(*) FILTER (WHERE s = 0) AS cr, count(*) FILTER (WHERE s = 1) AS cc
  FROM u WHERE x IS NOT NULL GROUP BY x),
cdf AS (
  SELECT x,
    CAST(sum(cr) OVER w AS DOUBLE) / %[3]s AS fr,
    CAST(sum(cc) OVER w AS DOUBLE) / %[4]s AS fc,
    lead(x) OVER (ORDER BY x) - x AS dx
  FROM vc WINDOW w AS (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
SELECT 0 AS k, 0 AS i, CAST(count(*) AS DOUBLE) AS a, max(abs(fr - fc)) AS b,
       fsum(CASE WHEN dx IS NULL THEN 0 ELSE dx * abs(fr - fc) END) AS c FROM cdf
UNION ALL
SELECT 1, %[5]s AS i, CAST(sum(cr) AS DOUBLE), CAST(sum(cc) AS DOUBLE), NULL FROM vc GROUP BY 2
UNION ALL
SELECT 2, %[6]s AS i, CAST(sum(cr) AS DOUBLE), CAST(sum(cc) AS DOUBLE), NULL FROM vc GROUP BY 2`,
		numSelect(in.Ref, in.Column, 0), numSelect(in.Cur, in.Column, 1), dRef, dCur, cell.String(), histExpr)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return res, fmt.Errorf("drift stats: distribution: %w", err)
	}
	defer rows.Close()
	var d, w1 float64
	cellRef := make([]float64, len(edges)+1)
	cellCur := make([]float64, len(edges)+1)
	histRef := make([]float64, hbins)
	histCur := make([]float64, hbins)
	for rows.Next() {
		var k, i int64
		var a, b, c sql.NullFloat64
		if err := rows.Scan(&k, &i, &a, &b, &c); err != nil {
			return res, fmt.Errorf("drift stats: distribution: %w", err)
		}
		switch k {
		case 0:
			res.Categories = int(a.Float64)
			d, w1 = b.Float64, c.Float64
		case 1:
			if i >= 0 && int(i) < len(cellRef) {
				cellRef[i], cellCur[i] = a.Float64, b.Float64
			}
		case 2:
			if i >= 0 && int(i) < hbins {
				histRef[i], histCur[i] = a.Float64, b.Float64
			}
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("drift stats: distribution: %w", err)
	}
	for i := 0; i < hbins; i++ {
		b := Bin{Lo: lo + float64(i)*width, Hi: lo + float64(i+1)*width,
			RefShare: share(histRef[i], nRef), CurShare: share(histCur[i], nCur)}
		if i == hbins-1 {
			b.Hi = hi
		}
		res.Histogram = append(res.Histogram, b)
	}
	for i := range cellRef {
		b := Bin{Lo: math.Inf(-1), Hi: math.Inf(1), RefShare: share(cellRef[i], nRef), CurShare: share(cellCur[i], nCur)}
		if i > 0 {
			b.Lo = edges[i-1]
		}
		if i < len(edges) {
			b.Hi = edges[i]
		}
		res.Cells = append(res.Cells, b)
	}
	if nRef == 0 || nCur == 0 {
		return res, nil
	}
	ks := KSStatistic(d, nRef, nCur)
	res.KS = &Test{Statistic: ks, PValue: fptr(KSPValue(d, nRef, nCur))}
	res.WassersteinRaw = fptr(w1)
	res.Wasserstein = fptr(w1 / math.Max(*res.Ref.Std, StdFloor))
	m := cellMetrics(cellRef, cellCur, float64(nRef), float64(nCur))
	res.PSI, res.KLDiv, res.JensenShannon, res.Hellinger = fptr(m.psi), fptr(m.kl), fptr(m.js), fptr(m.hellinger)
	return res, nil
}

func share(c float64, n int64) float64 {
	if n == 0 {
		return 0
	}
	return c / float64(n)
}

type metrics struct{ psi, kl, js, hellinger float64 }

// cellMetrics computes PSI, KL, JS and Hellinger from a few (<= Bins+1) cell
// counts, with the same definitions as the SQL used for categories.
func cellMetrics(cr, cc []float64, nRef, nCur float64) metrics {
	var m metrics
	var sp, sq float64
	type pq struct{ p, q, pf, qf float64 }
	var cells []pq
	for i := range cr {
		if cr[i] == 0 && cc[i] == 0 {
			continue
		}
		c := pq{p: cr[i] / nRef, q: cc[i] / nCur}
		c.pf, c.qf = floorShare(c.p), floorShare(c.q)
		sp += c.pf
		sq += c.qf
		cells = append(cells, c)
	}
	var js, h float64
	for _, c := range cells {
		m.psi += (c.qf - c.pf) * math.Log(c.qf/c.pf)
		pn, qn := c.pf/sp, c.qf/sq
		m.kl += pn * math.Log(pn/qn)
		mid := (c.p + c.q) / 2
		if c.p > 0 {
			js += c.p * math.Log(c.p/mid)
		}
		if c.q > 0 {
			js += c.q * math.Log(c.q/mid)
		}
		dh := math.Sqrt(c.p) - math.Sqrt(c.q)
		h += dh * dh
	}
	m.js = math.Sqrt(math.Max(js, 0) / 2)
	m.hellinger = math.Sqrt(h) / math.Sqrt2
	return m
}

func floorShare(s float64) float64 {
	if s == 0 {
		return ShareFloor
	}
	return s
}

func compareCategorical(ctx context.Context, db *sql.DB, in Input, opt Options) (Result, error) {
	var res Result
	// Summary counts.
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE s = 0), count(v) FILTER (WHERE s = 0),
  count(*) FILTER (WHERE s = 1), count(v) FILTER (WHERE s = 1)
FROM (%s UNION ALL %s)`, catSelect(in.Ref, in.Column, 0), catSelect(in.Cur, in.Column, 1))
	var rn, rnn, cn, cnn int64
	if err := db.QueryRowContext(ctx, q).Scan(&rn, &rnn, &cn, &cnn); err != nil {
		return res, fmt.Errorf("drift stats: summary: %w", err)
	}
	res.Ref = Summary{Rows: rn, Nulls: rn - rnn}
	res.Cur = Summary{Rows: cn, Nulls: cn - cnn}
	if rn > 0 {
		res.Ref.NullRate = float64(rn-rnn) / float64(rn)
	}
	if cn > 0 {
		res.Cur.NullRate = float64(cn-cnn) / float64(cn)
	}
	if rnn == 0 && cnn == 0 {
		return res, nil
	}
	nRef, nCur := lit(float64(max(rnn, 1))), lit(float64(max(cnn, 1)))
	vc := fmt.Sprintf(`WITH vc AS MATERIALIZED (
  SELECT v, count(*) FILTER (WHERE s = 0) AS cr, count(*) FILTER (WHERE s = 1) AS cc
  FROM (%s UNION ALL %s) WHERE v IS NOT NULL GROUP BY v)`,
		catSelect(in.Ref, in.Column, 0), catSelect(in.Cur, in.Column, 1))
	floor := lit(ShareFloor)
	// One statistics row. p, q shares; pf, qf floored shares.
	q = fmt.Sprintf(`%[1]s,
sh AS (SELECT cr, cc, cr / %[2]s AS p, cc / %[3]s AS q,
         CASE WHEN cr = 0 THEN %[4]s ELSE cr / %[2]s END AS pf,
         CASE WHEN cc = 0 THEN %[4]s ELSE cc / %[3]s END AS qf FROM vc),
tot AS (SELECT sum(pf) AS sp, sum(qf) AS sq, sum(cc) FILTER (WHERE cr = 0) AS newrows,
          count(*) FILTER (WHERE cr = 0) AS newcats, sum(cr) FILTER (WHERE cc = 0) AS gonerows,
          count(*) FILTER (WHERE cc = 0) AS gonecats, count(*) FILTER (WHERE cr > 0) AS refcats,
          count(*) AS cats FROM sh)
SELECT any_value(cats), any_value(refcats), CAST(coalesce(any_value(newrows), 0) AS DOUBLE), any_value(newcats),
  CAST(coalesce(any_value(gonerows), 0) AS DOUBLE), any_value(gonecats),
  fsum((qf - pf) * ln(qf / pf)),
  fsum((pf / sp) * ln((pf / sp) / (qf / sq))),
  fsum(CASE WHEN p > 0 THEN p * ln(p / ((p + q) / 2)) ELSE 0 END
     + CASE WHEN q > 0 THEN q * ln(q / ((p + q) / 2)) ELSE 0 END),
  fsum((sqrt(p) - sqrt(q)) * (sqrt(p) - sqrt(q))),
  fsum(CASE WHEN cr > 0 THEN
         (cc - p * %[3]s / (1 + CASE WHEN newrows > 0 THEN %[4]s ELSE 0 END)) ** 2
         / (p * %[3]s / (1 + CASE WHEN newrows > 0 THEN %[4]s ELSE 0 END))
       ELSE 0 END)
FROM sh, tot`, vc, nRef, nCur, floor)
	var (
		cats, refCats, newCats, goneCats int64
		newRows, goneRows                float64
		psi, kl, js, h2, chi             sql.NullFloat64
	)
	if err := db.QueryRowContext(ctx, q).Scan(&cats, &refCats, &newRows, &newCats, &goneRows, &goneCats,
		&psi, &kl, &js, &h2, &chi); err != nil {
		return res, fmt.Errorf("drift stats: categories: %w", err)
	}
	res.Categories = int(cats)
	res.NewCategoryCount, res.VanishedCategoryCount = int(newCats), int(goneCats)
	res.NewShare, res.VanishedShare = share(newRows, cnn), share(goneRows, rnn)

	// Category lists (capped) and histogram (top 20 + other).
	q = fmt.Sprintf(`%[1]s,
nw AS (SELECT 0 AS k, v, cr, cc FROM vc WHERE cr = 0 ORDER BY cc DESC, v LIMIT %[2]d),
gn AS (SELECT 1 AS k, v, cr, cc FROM vc WHERE cc = 0 ORDER BY cr DESC, v LIMIT %[2]d),
rk AS (SELECT v, cr, cc, row_number() OVER (ORDER BY cr + cc DESC, v) AS rn FROM vc),
hs AS (SELECT 2 AS k, CASE WHEN rn <= %[3]d THEN v END AS v, sum(cr) AS cr, sum(cc) AS cc, min(rn) AS rn
       FROM rk GROUP BY 2)
SELECT k, v, cr, cc, rn FROM (
  SELECT k, v, CAST(cr AS BIGINT) AS cr, CAST(cc AS BIGINT) AS cc, 0 AS rn FROM nw
  UNION ALL SELECT k, v, CAST(cr AS BIGINT), CAST(cc AS BIGINT), 0 FROM gn
  UNION ALL SELECT k, v, CAST(cr AS BIGINT), CAST(cc AS BIGINT), rn FROM hs)
ORDER BY k, rn, cc DESC, cr DESC, v`, vc, opt.MaxCategories, HistogramBins)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return res, fmt.Errorf("drift stats: categories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, rcnt, ccnt, rnk int64
		var v sql.NullString
		if err := rows.Scan(&k, &v, &rcnt, &ccnt, &rnk); err != nil {
			return res, fmt.Errorf("drift stats: categories: %w", err)
		}
		c := Category{Value: v.String, RefCount: rcnt, CurCount: ccnt,
			RefShare: share(float64(rcnt), rnn), CurShare: share(float64(ccnt), cnn)}
		switch k {
		case 0:
			res.NewCategories = append(res.NewCategories, c)
		case 1:
			res.VanishedCategories = append(res.VanishedCategories, c)
		case 2:
			label := v.String
			if !v.Valid {
				label = OtherLabel
			}
			res.Histogram = append(res.Histogram, Bin{Label: label, RefShare: c.RefShare, CurShare: c.CurShare})
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("drift stats: categories: %w", err)
	}
	// "(other)" sorts by its smallest rank (21), i.e. last.
	if rnn == 0 || cnn == 0 {
		return res, nil
	}
	res.PSI, res.KLDiv = fptr(psi.Float64), fptr(kl.Float64)
	res.JensenShannon = fptr(math.Sqrt(math.Max(js.Float64, 0) / 2))
	res.Hellinger = fptr(math.Sqrt(h2.Float64) / math.Sqrt2)
	cells := refCats
	if newRows > 0 {
		cells++
		// the pooled new-values cell: expected share floor/(1+floor)
		e := ShareFloor / (1 + ShareFloor) * float64(cnn)
		chi.Float64 += (newRows - e) * (newRows - e) / e
	}
	res.ChiSquare = &Test{Statistic: chi.Float64}
	if cells > 1 {
		res.ChiSquare.PValue = fptr(ChiSquareSF(chi.Float64, int(cells-1)))
	}
	if in.Kind == Binary {
		if err := zTest(ctx, db, in, &res, rnn, cnn); err != nil {
			return res, err
		}
	}
	return res, nil
}

func zTest(ctx context.Context, db *sql.DB, in Input, res *Result, nRef, nCur int64) error {
	q := fmt.Sprintf(`WITH u AS (SELECT %[1]s AS c, 0 AS s FROM %[2]s AS _t0 UNION ALL SELECT %[1]s, 1 FROM %[3]s AS _t1),
m AS (SELECT max(c) AS mx FROM u)
SELECT CAST(any_value(mx) AS VARCHAR), count(*) FILTER (WHERE s = 0 AND c = mx), count(*) FILTER (WHERE s = 1 AND c = mx)
FROM u, m`, in.Column, in.Ref, in.Cur)
	var pos sql.NullString
	var xr, xc int64
	if err := db.QueryRowContext(ctx, q).Scan(&pos, &xr, &xc); err != nil {
		return fmt.Errorf("drift stats: z test: %w", err)
	}
	res.ZPositive = pos.String
	z, p := TwoProportionZ(xr, nRef, xc, nCur)
	res.ZTest = &Test{Statistic: z, PValue: fptr(p)}
	return nil
}

// TwoProportionZ is the pooled two-proportion z test of xCur/nCur against
// xRef/nRef: z = (p_cur - p_ref) / sqrt(P(1-P)(1/nRef + 1/nCur)) with
// P = (xRef+xCur)/(nRef+nCur), and the two-sided p = 2·NormalSF(|z|). When the
// pooled variance is 0 (both samples all-positive or all-negative) it returns
// z = 0, p = 1.
func TwoProportionZ(xRef, nRef, xCur, nCur int64) (z, p float64) {
	pr := float64(xRef) / float64(nRef)
	pc := float64(xCur) / float64(nCur)
	pp := float64(xRef+xCur) / float64(nRef+nCur)
	se := math.Sqrt(pp * (1 - pp) * (1/float64(nRef) + 1/float64(nCur)))
	if se == 0 || math.IsNaN(se) {
		return 0, 1
	}
	z = (pc - pr) / se
	return z, math.Min(1, 2*NormalSF(math.Abs(z)))
}
