package drift

import (
	"encoding/json"
	"math"
	"time"
)

// ReportVersion is the version of the JSON report this package writes. It
// changes only when a field changes meaning or is removed.
const ReportVersion = 1

// Report is the result of a drift comparison. Its JSON form is the stable
// contract documented in docs/drift-report.md: keys are always present
// (absent numbers are null, absent lists are empty) unless documented as
// optional.
type Report struct {
	Version     int       `json:"version"`
	Table       string    `json:"table"`
	Lake        string    `json:"lake"`
	GeneratedAt time.Time `json:"generated_at"`
	AsOf        string    `json:"as_of"`
	// DriftDetected is the dataset verdict: the drifted share of compared
	// columns reached DriftShare, or schema or volume drift was found.
	DriftDetected bool `json:"drift_detected"`
	// Reasons says why: any of "columns", "schema", "volume".
	Reasons         []string `json:"reasons"`
	DriftShare      float64  `json:"drift_share"`
	ComparedColumns int      `json:"compared_columns"`
	DriftedColumns  int      `json:"drifted_columns"`
	// DriftedShare is DriftedColumns / ComparedColumns (0 with no columns).
	DriftedShare float64 `json:"drifted_share"`
	// FDR is the Benjamini–Hochberg false discovery rate, when --fdr was given.
	FDR            *float64       `json:"fdr"`
	Reference      Window         `json:"reference"`
	Current        Window         `json:"current"`
	Columns        []Column       `json:"columns"`
	SkippedColumns []Skipped      `json:"skipped_columns"`
	SchemaDrift    bool           `json:"schema_drift"`
	SchemaChanges  []SchemaChange `json:"schema_changes"`
	Volume         Volume         `json:"volume"`
	// SegmentBy and Segments are present with --segment-by: the segments
	// compared, ranked by how much they moved (Segments is omitted when no
	// value had enough rows).
	SegmentBy *SegmentSummary `json:"segment_by,omitempty"`
	Segments  []Segment       `json:"segments,omitempty"`
	// Trend is present with --trend-days.
	Trend *Trend `json:"trend,omitempty"`
}

// Window describes one side of the comparison.
type Window struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Days       int    `json:"days"`       // calendar days in the range
	Partitions int    `json:"partitions"` // days with a committed partition
	Files      int    `json:"files"`
	Rows       int64  `json:"rows"`
	// MissingDays are the days of the range without a committed partition.
	MissingDays []string `json:"missing_days"`
}

// Column is the comparison of one column.
type Column struct {
	Name string   `json:"name"`
	Type string   `json:"type"` // the schema type, e.g. decimal(18,2)
	Kind string   `json:"kind"` // numeric, categorical or binary
	Tags []string `json:"tags"`
	// PII is true for columns tagged pii or pii:*, or with a pii policy.
	// Their values never appear in the report.
	PII    bool   `json:"pii"`
	Method Method `json:"method"`
	// MethodSource is "default" or "config".
	MethodSource string `json:"method_source"`
	// Statistic is the method's statistic: the KS D, the normalised
	// Wasserstein-1 distance, the chi-square statistic, the z statistic, the
	// PSI, KL, Hellinger or Jensen–Shannon value.
	Statistic *float64 `json:"statistic"`
	// PValue is set for p-value methods (ks, chisquare, ztest).
	PValue *float64 `json:"p_value"`
	// AdjustedPValue is the Benjamini–Hochberg adjusted p-value under --fdr.
	AdjustedPValue *float64 `json:"adjusted_p_value"`
	// Threshold: drift when p-value < threshold (p-value methods) or when
	// statistic >= threshold (distances).
	Threshold float64 `json:"threshold"`
	// Drifted is the column's verdict: the distribution drifted
	// (DistributionDrifted) or the null rate did (NullRate.Drifted).
	Drifted             bool `json:"drifted"`
	DistributionDrifted bool `json:"distribution_drifted"`
	// NullRate tests the change of the share of null rows.
	NullRate NullRateTest `json:"null_rate"`
	// Note explains an undecided statistic (for example a constant reference).
	Note      string  `json:"note,omitempty"`
	Reference Summary `json:"reference"`
	Current   Summary `json:"current"`
	// Metrics holds every statistic computed for the column, by method name
	// (plus "wasserstein_raw", "ks_p_value", "chisquare_p_value", "ztest_p_value").
	Metrics map[string]*float64 `json:"metrics"`
	// Categories is the number of distinct values over both ranges
	// (categorical and binary columns).
	Categories int `json:"categories"`
	// NewCategoryCount distinct values appear only in the current range and
	// hold NewShare of its non-null rows; likewise for vanished values and
	// the reference. The lists below hold at most max_categories of them,
	// most frequent first.
	NewCategoryCount      int        `json:"new_category_count"`
	NewShare              float64    `json:"new_share"`
	VanishedCategoryCount int        `json:"vanished_category_count"`
	VanishedShare         float64    `json:"vanished_share"`
	NewCategories         []Category `json:"new_categories"`
	VanishedCategories    []Category `json:"vanished_categories"`
	// Histogram holds the reference and current shares per bin (numeric) or
	// per category; PII columns have anonymous labels and no bin edges.
	Histogram []Bin `json:"histogram"`
}

// NullRateTest is a pooled two-proportion z-test of the null share of the
// two ranges. It drifts when the p-value (adjusted under --fdr) is below
// 0.05 (the FDR under --fdr) and the null rate moved by at least
// NullRateMinChange, so that huge samples do not flag trivial changes.
type NullRateTest struct {
	Reference      float64  `json:"reference"`
	Current        float64  `json:"current"`
	Change         float64  `json:"change"` // current - reference
	Statistic      float64  `json:"statistic"`
	PValue         *float64 `json:"p_value"`
	AdjustedPValue *float64 `json:"adjusted_p_value"`
	Drifted        bool     `json:"drifted"`
}

// Summary describes one side of a column. Min, Max, Mean, Std and the
// percentiles are null for non-numeric and PII columns.
type Summary struct {
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

// Category is a category present on only one side, with its share of that
// side's non-null rows. For PII columns Value is "category #N".
type Category struct {
	Value    string  `json:"value"`
	RefShare float64 `json:"reference_share"`
	CurShare float64 `json:"current_share"`
	RefCount int64   `json:"reference_count"`
	CurCount int64   `json:"current_count"`
}

// Bin is one histogram bar pair.
type Bin struct {
	Label    string   `json:"label"`
	Lo       *float64 `json:"lo"`
	Hi       *float64 `json:"hi"`
	RefShare float64  `json:"reference_share"`
	CurShare float64  `json:"current_share"`
}

// Skipped is a schema field that was not compared, with the reason.
type Skipped struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// SchemaChange is a difference between the columns of the two ranges' files.
type SchemaChange struct {
	Column string `json:"column"`
	Change string `json:"change"` // added, removed or type_changed
	// ReferenceType and CurrentType are DuckDB types; "" when absent.
	ReferenceType string `json:"reference_type"`
	CurrentType   string `json:"current_type"`
}

// Volume compares rows per day of the current range with the reference's
// daily mean ± Sigmas standard deviations (at least ± MinTolerance of the
// mean).
type Volume struct {
	// ReferenceMean and ReferenceStd are over the reference days with a
	// partition; Std is the sample standard deviation (n-1).
	ReferenceMean float64 `json:"reference_mean"`
	ReferenceStd  float64 `json:"reference_std"`
	Sigmas        float64 `json:"sigmas"`
	// MinTolerance is the smallest half-width of the band as a share of
	// ReferenceMean: the band is mean ± max(Sigmas·std, MinTolerance·mean).
	MinTolerance float64 `json:"min_tolerance"`
	Lower        float64 `json:"lower"`
	Upper        float64 `json:"upper"`
	// Checked is false when the reference has fewer than three days with a
	// partition, too few to estimate a band; then the other numbers are 0.
	Checked bool        `json:"checked"`
	Drifted bool        `json:"drifted"`
	Days    []VolumeDay `json:"days"`
}

// VolumeDay is the row count of one current day; a day without a committed
// partition counts 0 rows.
type VolumeDay struct {
	Date    string `json:"date"`
	Rows    int64  `json:"rows"`
	Outside bool   `json:"outside"`
}

// MarshalIndentJSON renders r as indented JSON with a trailing newline.
func (r *Report) MarshalIndentJSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// finite returns p when it points at a finite number, else nil (JSON has no
// NaN or infinity).
func finite(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	v := *p
	return &v
}

func ptr(v float64) *float64 { return finite(&v) }
