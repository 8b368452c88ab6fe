package drift

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/txlake/txlake/jobs/drift/stats"
	"github.com/txlake/txlake/jobs/query"
)

// DefaultMinSegmentRows is --min-segment-rows' default: a segment value is
// compared only when it has at least this many rows in the reference and in
// the current range.
const DefaultMinSegmentRows = 1000

// MaxSegments caps the segment values compared: those with the most current
// rows (then reference rows, then value) among the values with enough
// support. Each segment costs a full per-column comparison.
const MaxSegments = 50

// SegmentSummary describes the --segment-by run.
type SegmentSummary struct {
	Column  string `json:"column"`
	MinRows int64  `json:"min_rows"`
	// Values is the number of distinct non-null segment values over both
	// ranges; BelowSupport of them have fewer than MinRows rows on a side;
	// Compared were compared (at most MaxSegments). Rows with a null segment
	// value are in no segment.
	Values       int `json:"values"`
	BelowSupport int `json:"below_support"`
	Compared     int `json:"compared"`
}

// Segment is the drift of the compared columns restricted to the rows whose
// segment column equals Value. Segments are ranked by DriftedShare, then
// MaxScore, then current rows.
type Segment struct {
	Value           string  `json:"value"`
	ReferenceRows   int64   `json:"reference_rows"`
	CurrentRows     int64   `json:"current_rows"`
	ComparedColumns int     `json:"compared_columns"`
	DriftedColumns  int     `json:"drifted_columns"`
	DriftedShare    float64 `json:"drifted_share"`
	// MaxScore is the largest column score; TopColumn has it.
	MaxScore  float64         `json:"max_score"`
	TopColumn string          `json:"top_column"`
	Columns   []SegmentColumn `json:"columns"`
}

// SegmentColumn is one column's verdict inside a segment. Score normalises
// the statistic by the threshold so that methods compare: statistic /
// threshold for distances, ln(p) / ln(threshold) for p-value methods (p
// floored at 1e-300); a score ≥ 1 means the distribution drifted.
type SegmentColumn struct {
	Name      string   `json:"name"`
	Method    Method   `json:"method"`
	Statistic *float64 `json:"statistic"`
	PValue    *float64 `json:"p_value"`
	Threshold float64  `json:"threshold"`
	Score     *float64 `json:"score"`
	// NullRateChange is current - reference null rate in the segment.
	NullRateChange float64 `json:"null_rate_change"`
	Drifted        bool    `json:"drifted"`
}

// checkSegmentColumn validates --segment-by against the schema: the column
// must exist, be a string or bool, and not be PII.
func checkSegmentColumn(name string, doc schemaDoc, c *Config) (Column, error) {
	for _, f := range doc.Fields {
		if f.Name != name {
			continue
		}
		col, _ := plan(f, doc, c)
		if col.PII {
			return col, configErrorf("--segment-by %s: the column is PII; its values cannot name segments", name)
		}
		if col.Kind != kindCategorical && col.Kind != kindBinary || f.Type == listType {
			return col, configErrorf("--segment-by %s: a %s column cannot be a segment key (want a string or bool column)", name, f.Type)
		}
		return col, nil
	}
	names := make([]string, len(doc.Fields))
	for i, f := range doc.Fields {
		names[i] = f.Name
	}
	return Column{}, configErrorf("--segment-by %s: no such column (columns: %s)", name, fmt.Sprint(names))
}

// segments compares every compared column of rep inside each segment value
// of key with at least minRows rows on both sides.
func segments(ctx context.Context, db *sql.DB, key string, minRows int64, rep *Report, c *Config) (*SegmentSummary, []Segment, error) {
	id := query.Ident(key)
	sum := &SegmentSummary{Column: key, MinRows: minRows}
	q := fmt.Sprintf(`SELECT v, count(*) FILTER (WHERE s = 0), count(*) FILTER (WHERE s = 1) FROM (
  SELECT CAST(%[1]s AS VARCHAR) AS v, 0 AS s FROM %[2]s UNION ALL SELECT CAST(%[1]s AS VARCHAR), 1 FROM %[3]s)
WHERE v IS NOT NULL GROUP BY v`, id, query.Ident(refView), query.Ident(curView))
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("segments of %s: %w", key, err)
	}
	type cand struct {
		v        string
		ref, cur int64
	}
	var cands []cand
	for rows.Next() {
		var x cand
		if err := rows.Scan(&x.v, &x.ref, &x.cur); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("segments of %s: %w", key, err)
		}
		sum.Values++
		if x.ref < minRows || x.cur < minRows {
			sum.BelowSupport++
			continue
		}
		cands = append(cands, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("segments of %s: %w", key, err)
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.cur, a.cur), cmp.Compare(b.ref, a.ref), cmp.Compare(a.v, b.v))
	})
	if len(cands) > MaxSegments {
		cands = cands[:MaxSegments]
	}
	out := []Segment{}
	for _, x := range cands {
		filter := fmt.Sprintf(" WHERE CAST(%s AS VARCHAR) = %s)", id, query.Literal(x.v))
		seg := Segment{Value: x.v, ReferenceRows: x.ref, CurrentRows: x.cur, Columns: []SegmentColumn{}}
		for _, base := range rep.Columns {
			if base.Name == key {
				continue
			}
			res, err := stats.Compare(ctx, db, stats.Input{
				Ref: "(SELECT * FROM " + query.Ident(refView) + filter, Cur: "(SELECT * FROM " + query.Ident(curView) + filter,
				Column: columnExpr(base.Name, base.Type), Kind: stats.Kind(base.Kind),
			}, stats.Options{Bins: c.Bins, MaxCategories: 1})
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				return nil, nil, fmt.Errorf("drift of column %s in segment %s = %q: %w", base.Name, key, x.v, err)
			}
			col := Column{Name: base.Name, Type: base.Type, Kind: base.Kind, Tags: base.Tags, PII: base.PII}
			if err := decide(&col, res, c); err != nil {
				return nil, nil, err
			}
			sc := SegmentColumn{Name: col.Name, Method: col.Method, Statistic: col.Statistic, PValue: col.PValue,
				Threshold: col.Threshold, Score: segmentScore(col), NullRateChange: col.NullRate.Change, Drifted: col.Drifted}
			seg.Columns = append(seg.Columns, sc)
			seg.ComparedColumns++
			if sc.Drifted {
				seg.DriftedColumns++
			}
			if sc.Score != nil && (seg.TopColumn == "" || *sc.Score > seg.MaxScore) {
				seg.MaxScore, seg.TopColumn = *sc.Score, sc.Name
			}
		}
		if seg.ComparedColumns > 0 {
			seg.DriftedShare = float64(seg.DriftedColumns) / float64(seg.ComparedColumns)
		}
		out = append(out, seg)
	}
	rankSegments(out)
	sum.Compared = len(out)
	return sum, out, nil
}

// segmentScore is the column's statistic normalised by its threshold (see
// SegmentColumn), nil when undefined.
func segmentScore(c Column) *float64 {
	if c.Method.UsesPValue() {
		if c.PValue == nil || c.Threshold <= 0 || c.Threshold >= 1 {
			return nil
		}
		return ptr(math.Log(math.Max(*c.PValue, 1e-300)) / math.Log(c.Threshold))
	}
	if c.Statistic == nil || c.Threshold <= 0 {
		return nil
	}
	return ptr(*c.Statistic / c.Threshold)
}

// rankSegments sorts segments by how much they moved: drifted share, then
// max score, then current rows, then value.
func rankSegments(s []Segment) {
	slices.SortStableFunc(s, func(a, b Segment) int {
		return cmp.Or(cmp.Compare(b.DriftedShare, a.DriftedShare), cmp.Compare(b.MaxScore, a.MaxScore),
			cmp.Compare(b.CurrentRows, a.CurrentRows), cmp.Compare(a.Value, b.Value))
	})
}

// shownSegments is how many segments the human formats list.
const shownSegments = 10

func segmentHeader(s *SegmentSummary) string {
	return fmt.Sprintf("%s: %d of %d values compared (%d with fewer than %s rows in the reference or the current range), ranked by drifted share then max score",
		s.Column, s.Compared, s.Values, s.BelowSupport, humanize.Comma(s.MinRows))
}

func segmentRow(s Segment) []string {
	return []string{s.Value, humanize.Comma(s.ReferenceRows), humanize.Comma(s.CurrentRows),
		fmt.Sprintf("%d of %d", s.DriftedColumns, s.ComparedColumns), fmtNum(s.MaxScore), s.TopColumn, segmentDrifted(s)}
}

func segmentDrifted(s Segment) string {
	var names []string
	for _, c := range s.Columns {
		if c.Drifted {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// writeSegmentsText appends the segments section of the text report.
func writeSegmentsText(b *strings.Builder, r *Report) {
	if r.SegmentBy == nil {
		return
	}
	fmt.Fprintf(b, "\nSegments by %s\n", segmentHeader(r.SegmentBy))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VALUE\tREF ROWS\tCUR ROWS\tDRIFTED\tMAX SCORE\tTOP COLUMN\tDRIFTED COLUMNS")
	for i, s := range r.Segments {
		if i == shownSegments {
			fmt.Fprintf(tw, "  and %d more\n", len(r.Segments)-i)
			break
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(segmentRow(s), "\t"))
	}
	tw.Flush()
}

// writeSegmentsMarkdown appends the segments section of the markdown report.
func writeSegmentsMarkdown(b *strings.Builder, r *Report) {
	if r.SegmentBy == nil {
		return
	}
	fmt.Fprintf(b, "\n## Segments\n\n%s\n\n| value | reference rows | current rows | drifted | max score | top column | drifted columns |\n|---|--:|--:|--:|--:|---|---|\n",
		mdCell(segmentHeader(r.SegmentBy)))
	for i, s := range r.Segments {
		if i == shownSegments {
			fmt.Fprintf(b, "\nand %d more segments in the JSON report.\n", len(r.Segments)-i)
			break
		}
		row := segmentRow(s)
		for j := range row {
			row[j] = mdCell(row[j])
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
}
