package drift

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/txlake/txlake/jobs/drift/stats"
	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// Options configure Run.
type Options struct {
	Store     storage.Store
	Table     string
	Reference Range
	Current   Range
	// Config holds method overrides; nil means DefaultConfig().
	Config *Config
	// Resolver makes the listed files readable by DuckDB (see
	// query.ResolverFor).
	Resolver query.Resolver
	// AsOf is recorded in the report (the date relative ranges were resolved
	// against).
	AsOf time.Time
	// FDR, when > 0, applies Benjamini–Hochberg at this false discovery rate
	// across the report's p-values; drift is then decided on adjusted
	// p-values against the FDR instead of each column's threshold.
	FDR float64
	// Now stamps the report; nil means time.Now.
	Now func() time.Time
	// SegmentBy, when set, compares the columns per value of this (non-PII
	// string or bool) column, over values with at least MinSegmentRows rows
	// on both sides (0 means DefaultMinSegmentRows); see segment.go.
	SegmentBy      string
	MinSegmentRows int64
	// TrendDays, when > 0 (at least MinTrendDays), checks the current range's
	// last day against a regression over the TrendDays days ending on it;
	// see trend.go.
	TrendDays int
}

// VolumeSigmas is the width of the volume band in reference standard
// deviations.
const VolumeSigmas = 3

// VolumeMinTolerance is the smallest half-width of the volume band, as a
// share of the reference mean, so that near-constant daily volumes (σ close
// to 0) do not flag sub-percent changes.
const VolumeMinTolerance = 0.01

// minVolumeDays is the fewest reference days with a partition from which
// the volume band is estimated.
const minVolumeDays = 3

// smallSample is the largest reference sample (non-null rows) that the
// default methods treat as small.
const smallSample = 1000

// Relation names of the two views.
const (
	refView = "drift_reference"
	curView = "drift_current"
	// trendView holds the --trend-days window.
	trendView = "drift_trend"
)

type fieldDoc struct {
	Name string   `json:"name"`
	Type string   `json:"type"`
	Tags []string `json:"tags"`
	PII  string   `json:"pii"`
}

type schemaDoc struct {
	EventTime string     `json:"event_time"`
	Key       []string   `json:"key"`
	Fields    []fieldDoc `json:"fields"`
}

var decimalType = regexp.MustCompile(`^decimal\(\d+,\s*\d+\)$`)

// kindOf maps a schema type to a column kind; "" means not compared.
func kindOf(typ string) string {
	switch {
	case typ == "int64" || typ == "float64" || decimalType.MatchString(typ):
		return kindNumeric
	case typ == "string" || typ == listType:
		return kindCategorical
	case typ == "bool":
		return kindBinary
	}
	return ""
}

// listType is the schema type whose columns are compared by their elements.
const listType = "list<string>"

// columnExpr is the SQL the statistics read for a column: the column, or
// for a list<string> each of its elements (null and empty lists give none).
func columnExpr(name, typ string) string {
	if typ == listType {
		return "unnest(" + query.Ident(name) + ")"
	}
	return query.Ident(name)
}

// Run compares the reference and current ranges of a table. Errors in what
// was asked for (unknown table, unknown column in the config, a method that
// does not suit a column, an empty range) are *ConfigError; storage and
// DuckDB errors are returned wrapped.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Config == nil {
		o.Config = DefaultConfig()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := lake.ValidateTable(o.Table); err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	sf, err := lake.ReadSchemaFile(ctx, o.Store, o.Table)
	if err != nil {
		return nil, err
	}
	if sf == nil {
		return nil, configErrorf("table %q not found in the lake %s (no %s)", o.Table, o.Store.URL(""), lake.SchemaKey(o.Table))
	}
	var doc schemaDoc
	if err := json.Unmarshal(sf.Schema, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Store.URL(lake.SchemaKey(o.Table)), err)
	}
	if err := checkConfigColumns(o.Config, doc); err != nil {
		return nil, err
	}
	if o.TrendDays != 0 && o.TrendDays < MinTrendDays {
		return nil, configErrorf("--trend-days %d: want at least %d (the fit has %d parameters)", o.TrendDays, MinTrendDays, trendParams)
	}
	if o.SegmentBy != "" {
		if _, err := checkSegmentColumn(o.SegmentBy, doc, o.Config); err != nil {
			return nil, err
		}
		if o.MinSegmentRows <= 0 {
			o.MinSegmentRows = DefaultMinSegmentRows
		}
	}

	rep := &Report{
		Version:        ReportVersion,
		Table:          o.Table,
		Lake:           o.Store.URL(""),
		GeneratedAt:    o.Now().UTC().Truncate(time.Second),
		AsOf:           o.AsOf.UTC().Format(dateLayout),
		DriftShare:     o.Config.DriftShare,
		Reasons:        []string{},
		Columns:        []Column{},
		SkippedColumns: []Skipped{},
		SchemaChanges:  []SchemaChange{},
	}
	if o.FDR > 0 {
		rep.FDR = ptr(o.FDR)
	}

	dates, err := lake.ListPartitions(ctx, o.Store, o.Table)
	if err != nil {
		return nil, err
	}
	refM, err := query.Manifests(ctx, o.Store, o.Table, dates, o.Reference.From, o.Reference.To)
	if err != nil {
		return nil, err
	}
	curM, err := query.Manifests(ctx, o.Store, o.Table, dates, o.Current.From, o.Current.To)
	if err != nil {
		return nil, err
	}
	rep.Reference = window(o.Reference, refM)
	rep.Current = window(o.Current, curM)
	for _, side := range []struct {
		name string
		w    Window
	}{{"reference", rep.Reference}, {"current", rep.Current}} {
		if side.w.Rows == 0 {
			have := "no committed partitions"
			if len(dates) > 0 {
				have = fmt.Sprintf("partitions from %s to %s", dates[0], dates[len(dates)-1])
			}
			return nil, configErrorf("the %s range %s of table %s holds no rows (the table has %s)",
				side.name, Range{side.w.From, side.w.To}, o.Table, have)
		}
	}
	rep.Volume = volume(o.Reference, o.Current, refM, curM)

	db, err := openDB(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	refCols, err := createView(ctx, db, o.Resolver, refView, refM)
	if err != nil {
		return nil, err
	}
	curCols, err := createView(ctx, db, o.Resolver, curView, curM)
	if err != nil {
		return nil, err
	}
	rep.SchemaChanges = schemaChanges(refCols, curCols)
	rep.SchemaDrift = len(rep.SchemaChanges) > 0

	for _, f := range doc.Fields {
		col, skip := plan(f, doc, o.Config)
		if skip == "" {
			if _, ok := refCols[f.Name]; !ok {
				skip = "not in the reference files"
			} else if _, ok := curCols[f.Name]; !ok {
				skip = "not in the current files"
			}
		}
		if skip != "" {
			rep.SkippedColumns = append(rep.SkippedColumns, Skipped{Name: f.Name, Type: f.Type, Reason: skip})
			continue
		}
		res, err := stats.Compare(ctx, db, stats.Input{
			Ref: refView, Cur: curView, Column: columnExpr(f.Name, f.Type), Kind: stats.Kind(col.Kind),
		}, stats.Options{Bins: o.Config.Bins, MaxCategories: cmp.Or(o.Config.MaxCategories, DefaultMaxCategories)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("drift of column %s: %w", f.Name, err)
		}
		if col.Kind == kindCategorical && res.Categories > o.Config.MaxDistinct && o.Config.Columns[f.Name].Method == "" {
			rep.SkippedColumns = append(rep.SkippedColumns, Skipped{Name: f.Name, Type: f.Type, Reason: fmt.Sprintf(
				"%d distinct values, more than max_distinct %d: near-unique values are not a distribution (set a method in the config to compare it anyway)",
				res.Categories, o.Config.MaxDistinct)})
			continue
		}
		if err := decide(&col, res, o.Config); err != nil {
			return nil, err
		}
		rep.Columns = append(rep.Columns, col)
	}
	if o.FDR > 0 {
		applyFDR(rep.Columns, o.FDR)
	}
	verdict(rep)
	if o.SegmentBy != "" {
		if rep.SegmentBy, rep.Segments, err = segments(ctx, db, o.SegmentBy, o.MinSegmentRows, rep, o.Config); err != nil {
			return nil, err
		}
	}
	if o.TrendDays > 0 {
		if rep.Trend, err = runTrend(ctx, db, o, dates, rep.Columns); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// runTrend creates the view of the trend window's files and computes the
// trend section.
func runTrend(ctx context.Context, db *sql.DB, o Options, dates []string, cols []Column) (*Trend, error) {
	rg, err := trendRange(o.Current, o.TrendDays)
	if err != nil {
		return nil, err
	}
	ms, err := query.Manifests(ctx, o.Store, o.Table, dates, rg.From, rg.To)
	if err != nil {
		return nil, err
	}
	rel := ""
	if len(ms) > 0 {
		if _, err := createView(ctx, db, o.Resolver, trendView, ms); err != nil {
			return nil, err
		}
		rel = query.Ident(trendView)
	}
	return computeTrend(ctx, db, rel, rg, o.TrendDays, cols)
}

// checkConfigColumns rejects overrides of columns the table does not have.
func checkConfigColumns(c *Config, doc schemaDoc) error {
	for _, name := range c.sortedColumns() {
		found := slices.ContainsFunc(doc.Fields, func(f fieldDoc) bool { return f.Name == name })
		if !found {
			names := make([]string, len(doc.Fields))
			for i, f := range doc.Fields {
				names[i] = f.Name
			}
			return &ConfigError{File: c.File, Line: c.Columns[name].Line,
				Msg: fmt.Sprintf("column %q is not in the table (columns: %s)", name, strings.Join(names, ", "))}
		}
	}
	return nil
}

// plan decides whether a field is compared and fills in its identity. It
// returns a non-empty skip reason for fields that are not compared.
func plan(f fieldDoc, doc schemaDoc, c *Config) (Column, string) {
	col := Column{Name: f.Name, Type: f.Type, Kind: kindOf(f.Type), Tags: f.Tags, MethodSource: "default"}
	if col.Tags == nil {
		col.Tags = []string{}
	}
	col.PII = f.PII != "" && f.PII != "keep"
	for _, t := range f.Tags {
		if t == "pii" || strings.HasPrefix(t, "pii:") {
			col.PII = true
		}
	}
	cc := c.Columns[f.Name]
	switch {
	case cc.Skip:
		return col, "skipped by the config"
	case f.PII == "drop":
		return col, "dropped at ingest (pii: drop)"
	case f.Name == doc.EventTime:
		return col, "event time (partitions are compared by day instead)"
	case f.Type == "timestamp" || f.Type == "date":
		return col, "time values are not a distribution"
	case slices.Contains(doc.Key, f.Name):
		return col, "identifier (part of the schema key)"
	case slices.ContainsFunc(f.Tags, func(t string) bool { return t == "id" || strings.HasPrefix(t, "id:") }):
		return col, "identifier (tagged id)"
	case col.Kind == "":
		return col, fmt.Sprintf("type %s is not compared", f.Type)
	}
	return col, ""
}

// decide fills in the column's statistics and verdict from res.
func decide(col *Column, res stats.Result, c *Config) error {
	col.Reference, col.Current = summary(res.Ref, col.PII), summary(res.Cur, col.PII)
	col.Categories = res.Categories
	m := map[string]*float64{
		string(Wasserstein): res.Wasserstein, "wasserstein_raw": res.WassersteinRaw, string(PSI): res.PSI,
		string(JensenShannon): res.JensenShannon, string(KLDiv): res.KLDiv, string(Hellinger): res.Hellinger,
	}
	for name, t := range map[Method]*stats.Test{KS: res.KS, ChiSquare: res.ChiSquare, ZTest: res.ZTest} {
		if t != nil {
			m[string(name)] = ptr(t.Statistic)
			m[string(name)+"_p_value"] = finite(t.PValue)
		}
	}
	col.Metrics = map[string]*float64{}
	for k, v := range m {
		if v != nil {
			col.Metrics[k] = finite(v)
		}
	}

	cc := c.Columns[col.Name]
	refN := res.Ref.Rows - res.Ref.Nulls
	if cc.Method != "" {
		if !cc.Method.validFor(col.Kind) {
			return &ConfigError{File: c.File, Line: cc.Line,
				Msg: fmt.Sprintf("column %q: method %s does not suit a %s column (%s)", col.Name, cc.Method, col.Kind, col.Type)}
		}
		col.Method, col.MethodSource = cc.Method, "config"
	} else {
		col.Method = defaultMethod(col.Kind, refN)
	}
	col.Threshold = col.Method.DefaultThreshold()
	if cc.Threshold != nil {
		col.Threshold = *cc.Threshold
	}

	col.NullRate = nullRateTest(res.Ref, res.Cur)

	var stat, p *float64
	switch col.Method {
	case KS, ChiSquare, ZTest:
		t := map[Method]*stats.Test{KS: res.KS, ChiSquare: res.ChiSquare, ZTest: res.ZTest}[col.Method]
		if t != nil {
			stat, p = &t.Statistic, t.PValue
		}
	case Wasserstein:
		stat = res.Wasserstein
	case PSI:
		stat = res.PSI
	case JensenShannon:
		stat = res.JensenShannon
	case KLDiv:
		stat = res.KLDiv
	case Hellinger:
		stat = res.Hellinger
	}
	col.Statistic, col.PValue = finite(stat), finite(p)
	switch {
	case col.Method.UsesPValue() && p != nil && !math.IsNaN(*p):
		col.Drifted = *p < col.Threshold
	case !col.Method.UsesPValue() && stat != nil && !math.IsNaN(*stat):
		col.Drifted = *stat >= col.Threshold // +Inf (e.g. KL with a new category) drifts
	default:
		col.Note = fmt.Sprintf("%s is undefined for these samples (for example an empty side or a constant reference); not counted as drift", col.Method)
	}

	col.DistributionDrifted = col.Drifted
	col.Drifted = col.DistributionDrifted || col.NullRate.Drifted
	col.NewCategoryCount, col.NewShare = res.NewCategoryCount, res.NewShare
	col.VanishedCategoryCount, col.VanishedShare = res.VanishedCategoryCount, res.VanishedShare
	col.NewCategories = categories(res.NewCategories, col.PII, "new")
	col.VanishedCategories = categories(res.VanishedCategories, col.PII, "vanished")
	col.Histogram = make([]Bin, 0, len(res.Histogram))
	for i, b := range res.Histogram {
		bin := Bin{Label: b.Label, RefShare: b.RefShare, CurShare: b.CurShare}
		if col.Kind == kindNumeric {
			bin.Lo, bin.Hi = ptr(b.Lo), ptr(b.Hi)
		}
		if col.PII {
			bin = Bin{Label: fmt.Sprintf("#%d", i+1), RefShare: b.RefShare, CurShare: b.CurShare}
		}
		col.Histogram = append(col.Histogram, bin)
	}
	return nil
}

// NullRateAlpha is the significance level of the null-rate test, and
// NullRateMinChange the smallest absolute change of the null rate that
// counts as drift.
const (
	NullRateAlpha     = 0.05
	NullRateMinChange = 0.01
)

// nullRateTest is the pooled two-proportion z-test of the null shares.
func nullRateTest(ref, cur stats.Summary) NullRateTest {
	t := NullRateTest{Reference: ref.NullRate, Current: cur.NullRate, Change: cur.NullRate - ref.NullRate}
	if ref.Rows == 0 || cur.Rows == 0 {
		return t
	}
	pool := float64(ref.Nulls+cur.Nulls) / float64(ref.Rows+cur.Rows)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(ref.Rows) + 1/float64(cur.Rows)))
	p := 1.0
	if se > 0 {
		t.Statistic = t.Change / se
		p = 2 * stats.NormalSF(math.Abs(t.Statistic))
	}
	t.PValue = ptr(p)
	t.Drifted = p < NullRateAlpha && math.Abs(t.Change) >= NullRateMinChange
	return t
}

// defaultMethod is DESIGN.md's default test for a column kind and reference
// sample size (non-null rows).
func defaultMethod(kind string, refNonNull int64) Method {
	small := refNonNull <= smallSample
	switch {
	case kind == kindNumeric && small:
		return KS
	case kind == kindNumeric:
		return Wasserstein
	case kind == kindBinary && small:
		return ZTest
	case small:
		return ChiSquare
	}
	return JensenShannon
}

func summary(s stats.Summary, pii bool) Summary {
	out := Summary{Rows: s.Rows, Nulls: s.Nulls, NullRate: s.NullRate}
	if !pii {
		out.Min, out.Max, out.Mean, out.Std = finite(s.Min), finite(s.Max), finite(s.Mean), finite(s.Std)
		out.P1, out.P50, out.P99 = finite(s.P1), finite(s.P50), finite(s.P99)
	}
	return out
}

func categories(in []stats.Category, pii bool, what string) []Category {
	out := make([]Category, 0, len(in))
	for i, c := range in {
		v := c.Value
		if pii {
			v = fmt.Sprintf("%s category #%d", what, i+1)
		}
		out = append(out, Category{Value: v, RefShare: c.RefShare, CurShare: c.CurShare, RefCount: c.RefCount, CurCount: c.CurCount})
	}
	return out
}

// verdict sets the dataset verdict and its reasons.
func verdict(r *Report) {
	r.ComparedColumns = len(r.Columns)
	r.DriftedColumns = 0
	for _, c := range r.Columns {
		if c.Drifted {
			r.DriftedColumns++
		}
	}
	if r.ComparedColumns > 0 {
		r.DriftedShare = float64(r.DriftedColumns) / float64(r.ComparedColumns)
	}
	r.Reasons = []string{}
	if r.ComparedColumns > 0 && r.DriftedShare >= r.DriftShare {
		r.Reasons = append(r.Reasons, "columns")
	}
	if r.SchemaDrift {
		r.Reasons = append(r.Reasons, "schema")
	}
	if r.Volume.Drifted {
		r.Reasons = append(r.Reasons, "volume")
	}
	r.DriftDetected = len(r.Reasons) > 0
}

func window(rg Range, ms []*lake.Manifest) Window {
	w := Window{From: rg.From, To: rg.To, MissingDays: []string{}}
	have := map[string]bool{}
	for _, m := range ms {
		have[m.Date] = true
		w.Partitions++
		w.Files += len(m.Files)
		for _, f := range m.Files {
			w.Rows += f.Rows
		}
	}
	for _, d := range rg.Days() {
		w.Days++
		if !have[d] {
			w.MissingDays = append(w.MissingDays, d)
		}
	}
	return w
}

// volume compares the current days' row counts with the reference daily
// mean ± VolumeSigmas sample standard deviations, from manifest row counts.
func volume(ref, cur Range, refM, curM []*lake.Manifest) Volume {
	v := Volume{Sigmas: VolumeSigmas, MinTolerance: VolumeMinTolerance, Days: []VolumeDay{}}
	rows := func(m *lake.Manifest) int64 {
		var n int64
		for _, f := range m.Files {
			n += f.Rows
		}
		return n
	}
	var xs []float64
	for _, m := range refM {
		xs = append(xs, float64(rows(m)))
	}
	if len(xs) >= minVolumeDays {
		var sum float64
		for _, x := range xs {
			sum += x
		}
		v.ReferenceMean = sum / float64(len(xs))
		var ss float64
		for _, x := range xs {
			ss += (x - v.ReferenceMean) * (x - v.ReferenceMean)
		}
		v.ReferenceStd = math.Sqrt(ss / float64(len(xs)-1))
		half := math.Max(VolumeSigmas*v.ReferenceStd, VolumeMinTolerance*v.ReferenceMean)
		v.Lower = math.Max(0, v.ReferenceMean-half)
		v.Upper = v.ReferenceMean + half
		v.Checked = true
	}
	byDate := map[string]int64{}
	for _, m := range curM {
		byDate[m.Date] = rows(m)
	}
	for _, d := range cur.Days() {
		n := byDate[d]
		day := VolumeDay{Date: d, Rows: n}
		if v.Checked {
			day.Outside = float64(n) < v.Lower || float64(n) > v.Upper
			v.Drifted = v.Drifted || day.Outside
		}
		v.Days = append(v.Days, day)
	}
	return v
}

func openDB(ctx context.Context) (*sql.DB, error) { return query.NewDB(ctx) }

// createView creates view name over exactly the files ms list and returns
// its columns (without the dt partition column) and their DuckDB types.
func createView(ctx context.Context, db *sql.DB, resolve query.Resolver, name string, ms []*lake.Manifest) (map[string]string, error) {
	if resolve == nil {
		return nil, errors.New("drift: no resolver for the lake's files")
	}
	if err := query.CreateFileView(ctx, db, resolve, name, ms); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "DESCRIBE "+query.Ident(name))
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	defer rows.Close()
	cols := map[string]string{}
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		col, typ := fmt.Sprint(vals[0]), fmt.Sprint(vals[1])
		if col != "dt" {
			cols[col] = typ
		}
	}
	return cols, rows.Err()
}

// schemaChanges lists columns added, removed or retyped between the files
// of the two ranges, by column name.
func schemaChanges(ref, cur map[string]string) []SchemaChange {
	out := []SchemaChange{}
	for c, rt := range ref {
		ct, ok := cur[c]
		switch {
		case !ok:
			out = append(out, SchemaChange{Column: c, Change: "removed", ReferenceType: rt})
		case ct != rt:
			out = append(out, SchemaChange{Column: c, Change: "type_changed", ReferenceType: rt, CurrentType: ct})
		}
	}
	for c, ct := range cur {
		if _, ok := ref[c]; !ok {
			out = append(out, SchemaChange{Column: c, Change: "added", CurrentType: ct})
		}
	}
	slices.SortFunc(out, func(a, b SchemaChange) int { return cmp.Compare(a.Column, b.Column) })
	return out
}
