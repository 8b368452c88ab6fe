package stats

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// Reference values: testdata/drift/reference.py (scipy) wrote samples.json and
// expected.json; this test needs no Python.
const (
	statTol = 1e-9 // |Δ| <= statTol * max(1, |expected|)
	pTol    = 1e-6 // |Δ| <= pTol for p-values
)

var testdataDir = filepath.Join("..", "..", "..", "testdata", "drift")

type sampleCase struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Ref    []any  `json:"ref"`
	Cur    []any  `json:"cur"`
	Binary bool   `json:"binary"`
}

type samplesFile struct {
	Numeric     []sampleCase `json:"numeric"`
	Categorical []sampleCase `json:"categorical"`
}

type expSummary struct {
	Rows     int64    `json:"rows"`
	Nulls    int64    `json:"nulls"`
	NullRate float64  `json:"null_rate"`
	Min      *float64 `json:"min"`
	Max      *float64 `json:"max"`
	Mean     *float64 `json:"mean"`
	Std      *float64 `json:"std"`
	P1       *float64 `json:"p1"`
	P50      *float64 `json:"p50"`
	P99      *float64 `json:"p99"`
}

type expTest struct {
	Statistic float64  `json:"statistic"`
	PValue    *float64 `json:"pvalue"`
	Exact     bool     `json:"exact"`
	Positive  string   `json:"positive"`
}

type expCat struct {
	Value    string  `json:"value"`
	RefCount int64   `json:"ref_count"`
	CurCount int64   `json:"cur_count"`
	RefShare float64 `json:"ref_share"`
	CurShare float64 `json:"cur_share"`
}

type expCase struct {
	Ref, Cur       expSummary
	Categories     int       `json:"categories"`
	KS             *expTest  `json:"ks"`
	Wasserstein    *float64  `json:"wasserstein"`
	WassersteinRaw *float64  `json:"wasserstein_raw"`
	Edges          []float64 `json:"edges"`
	CellRef        []int64   `json:"cell_ref"`
	CellCur        []int64   `json:"cell_cur"`
	PSI            *float64  `json:"psi"`
	KL             *float64  `json:"kl"`
	JS             *float64  `json:"js"`
	Hellinger      *float64  `json:"hellinger"`
	ChiSquare      *expTest  `json:"chisquare"`
	ZTest          *expTest  `json:"ztest"`
	New            []expCat  `json:"new"`
	Vanished       []expCat  `json:"vanished"`
}

type expectedFile struct {
	Scipy       string             `json:"scipy"`
	Bins        int                `json:"bins"`
	Numeric     map[string]expCase `json:"numeric"`
	Categorical map[string]expCase `json:"categorical"`
	KSPValue    []struct {
		D  float64 `json:"d"`
		N1 int64   `json:"n1"`
		N2 int64   `json:"n2"`
		P  float64 `json:"p"`
	} `json:"ks_pvalue"`
	KStwoSF []struct {
		N  int64   `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	Chi2SF []struct {
		X  float64 `json:"x"`
		DF int     `json:"df"`
		SF float64 `json:"sf"`
	} `json:"chi2_sf"`
	NormSF []struct {
		Z  float64 `json:"z"`
		SF float64 `json:"sf"`
	} `json:"norm_sf"`
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

var (
	fixtureOnce sync.Once
	fixtureDB   *sql.DB
	fixtureErr  error
	samples     samplesFile
	expected    expectedFile
)

// fixture loads samples.json into one in-memory DuckDB: tables ref_<name> and
// cur_<name> with one column v of the case's type.
func fixture(t *testing.T) (*sql.DB, *samplesFile, *expectedFile) {
	t.Helper()
	fixtureOnce.Do(func() {
		loadJSON(t, "samples.json", &samples)
		loadJSON(t, "expected.json", &expected)
		db, err := sql.Open("duckdb", "")
		if err != nil {
			fixtureErr = err
			return
		}
		for _, c := range append(append([]sampleCase{}, samples.Numeric...), samples.Categorical...) {
			for side, vals := range map[string][]any{"ref": c.Ref, "cur": c.Cur} {
				if err := createTable(db, side+"_"+c.Name, c.Type, vals); err != nil {
					fixtureErr = err
					return
				}
			}
		}
		fixtureDB = db
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDB, &samples, &expected
}

func sqlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		// quoted: parsed as the column type (correctly rounded for DOUBLE)
		return "'" + strconv.FormatFloat(x, 'g', -1, 64) + "'"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	}
	panic(fmt.Sprintf("unexpected sample value %T", v))
}

func createTable(db *sql.DB, name, typ string, vals []any) error {
	if _, err := db.Exec(fmt.Sprintf("CREATE TABLE %s (v %s)", name, typ)); err != nil {
		return err
	}
	for start := 0; start < len(vals); start += 2000 {
		end := min(start+2000, len(vals))
		var sb strings.Builder
		fmt.Fprintf(&sb, "INSERT INTO %s VALUES ", name)
		for i, v := range vals[start:end] {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(" + sqlValue(v) + ")")
		}
		if _, err := db.Exec(sb.String()); err != nil {
			return err
		}
	}
	return nil
}

// deltas records the largest |Δ| per statistic for the summary log.
type deltas struct {
	mu  sync.Mutex
	max map[string]float64
}

func (d *deltas) note(name string, v float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.max == nil {
		d.max = map[string]float64{}
	}
	if v > d.max[name] || d.max[name] == 0 {
		d.max[name] = math.Max(v, d.max[name])
	}
}

func (d *deltas) log(t *testing.T) {
	var names []string
	for k := range d.max {
		names = append(names, k)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString("max |Δ| vs scipy:\n")
	for _, k := range names {
		fmt.Fprintf(&sb, "  %-22s %.3g\n", k, d.max[k])
	}
	t.Log(sb.String())
}

func checkStat(t *testing.T, d *deltas, what string, got *float64, want *float64) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s: got %v, want %v", what, fmtp(got), fmtp(want))
		return
	}
	if got == nil {
		return
	}
	closeStat(t, d, what, *got, *want)
}

func closeStat(t *testing.T, d *deltas, what string, got, want float64) {
	t.Helper()
	diff := math.Abs(got - want)
	if got == want {
		diff = 0
	}
	d.note(strings.SplitN(what, " ", 2)[0], diff)
	if !(diff <= statTol*math.Max(1, math.Abs(want))) {
		t.Errorf("%s: got %.17g, want %.17g (Δ %.3g)", what, got, want, diff)
	}
}

func closeP(t *testing.T, d *deltas, what string, got, want float64) {
	t.Helper()
	diff := math.Abs(got - want)
	if got == want {
		diff = 0
	}
	d.note(strings.SplitN(what, " ", 2)[0], diff)
	if !(diff <= pTol) {
		t.Errorf("%s: got %.17g, want %.17g (Δ %.3g)", what, got, want, diff)
	}
}

func fmtp(p *float64) string {
	if p == nil {
		return "nil"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

func checkSummary(t *testing.T, d *deltas, name string, got Summary, want expSummary) {
	t.Helper()
	if got.Rows != want.Rows || got.Nulls != want.Nulls {
		t.Errorf("%s: rows/nulls %d/%d, want %d/%d", name, got.Rows, got.Nulls, want.Rows, want.Nulls)
	}
	closeStat(t, d, "null_rate "+name, got.NullRate, want.NullRate)
	checkStat(t, d, "min "+name, got.Min, want.Min)
	checkStat(t, d, "max "+name, got.Max, want.Max)
	checkStat(t, d, "mean "+name, got.Mean, want.Mean)
	checkStat(t, d, "std "+name, got.Std, want.Std)
	checkStat(t, d, "p1 "+name, got.P1, want.P1)
	checkStat(t, d, "p50 "+name, got.P50, want.P50)
	checkStat(t, d, "p99 "+name, got.P99, want.P99)
}

func checkTest(t *testing.T, d *deltas, what string, got *Test, want *expTest) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	if got == nil {
		return
	}
	closeStat(t, d, what+" "+"statistic", got.Statistic, want.Statistic)
	if (got.PValue == nil) != (want.PValue == nil) {
		t.Errorf("%s p-value: got %s, want %s", what, fmtp(got.PValue), fmtp(want.PValue))
		return
	}
	if got.PValue != nil {
		closeP(t, d, what+"_p", *got.PValue, *want.PValue)
	}
}

var allDeltas deltas

func TestNumericAgainstScipy(t *testing.T) {
	db, s, e := fixture(t)
	ctx := context.Background()
	for _, c := range s.Numeric {
		want, ok := e.Numeric[c.Name]
		if !ok {
			t.Fatalf("%s: no expected values", c.Name)
		}
		t.Run(c.Name, func(t *testing.T) {
			res, err := Compare(ctx, db, Input{Ref: "ref_" + c.Name, Cur: "cur_" + c.Name, Column: "v", Kind: Numeric},
				Options{Bins: e.Bins})
			if err != nil {
				t.Fatal(err)
			}
			d := &allDeltas
			checkSummary(t, d, "ref", res.Ref, want.Ref)
			checkSummary(t, d, "cur", res.Cur, want.Cur)
			if res.Categories != want.Categories {
				t.Errorf("categories %d, want %d", res.Categories, want.Categories)
			}
			checkTest(t, d, "ks", res.KS, want.KS)
			checkStat(t, d, "wasserstein_raw", res.WassersteinRaw, want.WassersteinRaw)
			checkStat(t, d, "wasserstein_norm", res.Wasserstein, want.Wasserstein)
			checkStat(t, d, "psi", res.PSI, want.PSI)
			checkStat(t, d, "kl", res.KLDiv, want.KL)
			checkStat(t, d, "js", res.JensenShannon, want.JS)
			checkStat(t, d, "hellinger", res.Hellinger, want.Hellinger)
			if res.ChiSquare != nil || res.ZTest != nil {
				t.Errorf("numeric column has chi-square/z test")
			}
			if want.Edges != nil {
				// cells must be exactly the reference's (edges are data values)
				if len(res.Cells) != len(want.Edges)+1 {
					t.Fatalf("cells %d, want %d", len(res.Cells), len(want.Edges)+1)
				}
				nRef, nCur := float64(res.Ref.NonNull()), float64(res.Cur.NonNull())
				for i, cell := range res.Cells {
					if i < len(want.Edges) && cell.Hi != want.Edges[i] {
						t.Errorf("edge %d: %v, want %v", i, cell.Hi, want.Edges[i])
					}
					if math.Round(cell.RefShare*nRef) != float64(want.CellRef[i]) ||
						math.Round(cell.CurShare*nCur) != float64(want.CellCur[i]) {
						t.Errorf("cell %d: %v/%v, want %d/%d", i, cell.RefShare*nRef, cell.CurShare*nCur,
							want.CellRef[i], want.CellCur[i])
					}
				}
			}
			checkHistogram(t, res)
		})
	}
	allDeltas.log(t)
}

func checkHistogram(t *testing.T, res Result) {
	t.Helper()
	if res.Ref.NonNull()+res.Cur.NonNull() == 0 {
		return
	}
	if len(res.Histogram) == 0 {
		t.Fatalf("no histogram")
	}
	for _, side := range []struct {
		n   int64
		get func(Bin) float64
	}{{res.Ref.NonNull(), func(b Bin) float64 { return b.RefShare }}, {res.Cur.NonNull(), func(b Bin) float64 { return b.CurShare }}} {
		sum := 0.0
		for _, b := range res.Histogram {
			sum += side.get(b)
		}
		if side.n > 0 && math.Abs(sum-1) > 1e-12 {
			t.Errorf("histogram shares sum to %v", sum)
		}
	}
}

func TestCategoricalAgainstScipy(t *testing.T) {
	db, s, e := fixture(t)
	ctx := context.Background()
	for _, c := range s.Categorical {
		want, ok := e.Categorical[c.Name]
		if !ok {
			t.Fatalf("%s: no expected values", c.Name)
		}
		kind := Categorical
		if c.Binary {
			kind = Binary
		}
		t.Run(c.Name, func(t *testing.T) {
			res, err := Compare(ctx, db, Input{Ref: "ref_" + c.Name, Cur: "cur_" + c.Name, Column: "v", Kind: kind}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d := &allDeltas
			checkSummary(t, d, "ref", res.Ref, want.Ref)
			checkSummary(t, d, "cur", res.Cur, want.Cur)
			if res.Categories != want.Categories {
				t.Errorf("categories %d, want %d", res.Categories, want.Categories)
			}
			checkStat(t, d, "psi", res.PSI, want.PSI)
			checkStat(t, d, "kl", res.KLDiv, want.KL)
			checkStat(t, d, "js", res.JensenShannon, want.JS)
			checkStat(t, d, "hellinger", res.Hellinger, want.Hellinger)
			checkTest(t, d, "chisquare", res.ChiSquare, want.ChiSquare)
			checkTest(t, d, "ztest", res.ZTest, want.ZTest)
			if want.ZTest != nil && res.ZPositive != want.ZTest.Positive {
				t.Errorf("z positive %q, want %q", res.ZPositive, want.ZTest.Positive)
			}
			if res.KS != nil || res.Wasserstein != nil {
				t.Errorf("categorical column has KS/Wasserstein")
			}
			checkCats(t, d, "new", res.NewCategories, want.New, true)
			checkCats(t, d, "vanished", res.VanishedCategories, want.Vanished, false)
			if res.NewCategoryCount != len(want.New) || res.VanishedCategoryCount != len(want.Vanished) {
				t.Errorf("new/vanished counts %d/%d, want %d/%d", res.NewCategoryCount, res.VanishedCategoryCount,
					len(want.New), len(want.Vanished))
			}
			checkHistogram(t, res)
			if len(res.Histogram) > HistogramBins+1 {
				t.Errorf("histogram has %d bins", len(res.Histogram))
			}
		})
	}
	allDeltas.log(t)
}

func checkCats(t *testing.T, d *deltas, what string, got []Category, want []expCat, cur bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s categories: got %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i].Value != want[i].Value {
			t.Errorf("%s[%d] = %q, want %q", what, i, got[i].Value, want[i].Value)
		}
		if cur {
			closeStat(t, d, "category_share", got[i].CurShare, want[i].CurShare)
			if got[i].CurCount != want[i].CurCount || got[i].RefCount != 0 {
				t.Errorf("%s[%d] counts %d/%d", what, i, got[i].RefCount, got[i].CurCount)
			}
		} else {
			closeStat(t, d, "category_share", got[i].RefShare, want[i].RefShare)
			if got[i].RefCount != want[i].RefCount || got[i].CurCount != 0 {
				t.Errorf("%s[%d] counts %d/%d", what, i, got[i].RefCount, got[i].CurCount)
			}
		}
	}
}

func TestKSPValue(t *testing.T) {
	var e expectedFile
	loadJSON(t, "expected.json", &e)
	var d deltas
	for _, c := range e.KSPValue {
		got := KSPValue(c.D, c.N1, c.N2)
		closeP(t, &d, fmt.Sprintf("ks_pvalue d=%v n=%d,%d", c.D, c.N1, c.N2), got, c.P)
		// symmetric in the sample sizes
		if rev := KSPValue(c.D, c.N2, c.N1); math.Abs(rev-got) > 1e-12 {
			t.Errorf("KSPValue not symmetric: %v vs %v", got, rev)
		}
	}
	for _, c := range e.KStwoSF {
		closeP(t, &d, fmt.Sprintf("kstwo_sf n=%d x=%v", c.N, c.X), kolmogorovSF(c.N, c.X), c.SF)
	}
	d.log(t)
}

func TestChiSquareSF(t *testing.T) {
	var e expectedFile
	loadJSON(t, "expected.json", &e)
	worst := 0.0
	for _, c := range e.Chi2SF {
		got := ChiSquareSF(c.X, c.DF)
		rel := math.Abs(got - c.SF)
		if c.SF != 0 {
			rel /= c.SF
		}
		if c.SF < 1e-300 { // scipy underflows to 0 first
			rel = math.Abs(got - c.SF)
		}
		worst = math.Max(worst, rel)
		if rel > 1e-10 {
			t.Errorf("ChiSquareSF(%v, %d) = %.17g, want %.17g (rel %.3g)", c.X, c.DF, got, c.SF, rel)
		}
	}
	t.Logf("ChiSquareSF max relative error %.3g", worst)
	if !math.IsNaN(ChiSquareSF(1, 0)) {
		t.Errorf("df=0 must be NaN")
	}
}

func TestNormalSF(t *testing.T) {
	var e expectedFile
	loadJSON(t, "expected.json", &e)
	for _, c := range e.NormSF {
		got := NormalSF(c.Z)
		if rel := math.Abs(got-c.SF) / c.SF; rel > 1e-12 {
			t.Errorf("NormalSF(%v) = %.17g, want %.17g", c.Z, got, c.SF)
		}
	}
}

// TestEdgeCases: tiny and degenerate inputs must not error or produce NaN.
func TestEdgeCases(t *testing.T) {
	db, _, _ := fixture(t)
	ctx := context.Background()
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE OR REPLACE TABLE edge_nan AS SELECT * FROM (VALUES (1.0::DOUBLE), ('nan'::DOUBLE), (2.0), (NULL)) t(v)`)
	mustExec(`CREATE OR REPLACE TABLE edge_empty (v DOUBLE)`)
	res, err := Compare(ctx, db, Input{Ref: "edge_nan", Cur: "edge_nan", Column: "v", Kind: Numeric}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref.Nulls != 2 || res.KS == nil || res.KS.Statistic != 0 || *res.KS.PValue != 1 || *res.WassersteinRaw != 0 {
		t.Errorf("NaN must count as null: %+v", res)
	}
	// Empty relations both sides: summaries only.
	res, err = Compare(ctx, db, Input{Ref: "edge_empty", Cur: "edge_empty", Column: "v", Kind: Numeric}, Options{})
	if err != nil || res.KS != nil || res.Histogram != nil || res.Ref.Rows != 0 {
		t.Errorf("empty: %+v, %v", res, err)
	}
	res, err = Compare(ctx, db, Input{Ref: "edge_empty", Cur: "edge_empty", Column: "v", Kind: Categorical}, Options{})
	if err != nil || res.ChiSquare != nil || res.JensenShannon != nil {
		t.Errorf("empty categorical: %+v, %v", res, err)
	}
	// Subquery relations and an expression column.
	res, err = Compare(ctx, db, Input{Ref: "(SELECT v FROM ref_small_equal_n WHERE v > 0)",
		Cur: "(SELECT v FROM cur_small_equal_n)", Column: "v * 2", Kind: Numeric}, Options{Bins: 4})
	if err != nil || res.KS == nil || len(res.Cells) != 4 {
		t.Errorf("subquery: %+v, %v", res, err)
	}
	// Constant columns: W1 normalised by the 0.001 std floor, never Inf/NaN.
	res, err = Compare(ctx, db, Input{Ref: "ref_constant_diff", Cur: "cur_constant_diff", Column: "v", Kind: Numeric}, Options{})
	if err != nil || *res.WassersteinRaw != 0.5 || *res.Wasserstein != 0.5/StdFloor || len(res.Histogram) != HistogramBins {
		t.Errorf("constant: %+v, %v", res, err)
	}
	res, err = Compare(ctx, db, Input{Ref: "ref_constant_same", Cur: "cur_constant_same", Column: "v", Kind: Numeric}, Options{})
	if err != nil || *res.Wasserstein != 0 || len(res.Histogram) != 1 || len(res.Cells) != 2 {
		t.Errorf("constant same: %+v, %v", res, err)
	}
	// MaxCategories caps the lists, not the counts.
	res, err = Compare(ctx, db, Input{Ref: "ref_cat_new_vanished", Cur: "cur_cat_new_vanished", Column: "v", Kind: Categorical},
		Options{MaxCategories: 1})
	if err != nil || len(res.NewCategories) != 1 || res.NewCategoryCount != 2 || math.Abs(res.NewShare-7.0/72) > 1e-15 {
		t.Errorf("cap: %+v, %v", res, err)
	}
	if _, err := Compare(ctx, db, Input{Ref: "edge_nan", Cur: "edge_nan", Column: "v", Kind: "weird"}, Options{}); err == nil {
		t.Errorf("unknown kind accepted")
	}
	// Categorical histogram: top 20 + (other), shares sum to 1.
	res, err = Compare(ctx, db, Input{Ref: "ref_cat_large", Cur: "cur_cat_large", Column: "v", Kind: Categorical}, Options{})
	if err != nil || len(res.Histogram) != HistogramBins+1 || res.Histogram[HistogramBins].Label != OtherLabel {
		t.Errorf("categorical histogram: %+v, %v", res.Histogram, err)
	}
}

// TestKSExactVsBruteForce checks the exact lattice DP against enumeration of
// all orderings for small sizes.
func TestKSExactVsBruteForce(t *testing.T) {
	for m := int64(1); m <= 6; m++ {
		for n := int64(1); n <= 6; n++ {
			counts := map[int64]int{} // h -> number of orderings with D*lcm == h
			total := 0
			lcm := m * n / gcd(m, n)
			var walk func(i, j, dmax int64)
			walk = func(i, j, dmax int64) {
				dd := i*(lcm/m) - j*(lcm/n)
				if dd < 0 {
					dd = -dd
				}
				dmax = max(dmax, dd)
				if i == m && j == n {
					counts[dmax]++
					total++
					return
				}
				if i < m {
					walk(i+1, j, dmax)
				}
				if j < n {
					walk(i, j+1, dmax)
				}
			}
			walk(0, 0, 0)
			for h := int64(1); h <= lcm; h++ {
				ge := 0
				for k, c := range counts {
					if k >= h {
						ge += c
					}
				}
				want := float64(ge) / float64(total)
				if got := ksExactSF(m, n, h); math.Abs(got-want) > 1e-14 {
					t.Errorf("m=%d n=%d h=%d: %v, want %v", m, n, h, got, want)
				}
			}
		}
	}
}
