package tagging

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HistoryInput names the DuckDB relations a history rule reads.
//
// Cur holds the run's new rows with extra columns that identify each row:
// RowColumn (its 0-based row number in its file) and FileIndexColumn (its
// file's index) for ScanHits, or FileColumn (its file's name) for HitsSQL,
// the reference the scans are tested against. Hist,
// when not empty, holds the committed rows of the lake; only its rows with
// an event time in [From, To] are read.
type HistoryInput struct {
	Cur, Hist string
	EventTime string // the event-time column
	From, To  time.Time
	// Bucket and Buckets, when Buckets > 1, restrict the query to the keys
	// whose hash falls in bucket Bucket of Buckets: running every bucket
	// gives the rule's hits in parts, each with a fraction of the memory
	// (rules only ever compare rows of one key).
	Bucket, Buckets int
	// Staged, when not empty, is a directory StageSQL wrote this rule's
	// rows to for Buckets buckets: ScanHits and OutlierHits read bucket
	// Bucket's rows from it, not from Cur and Hist. HitsSQL ignores it.
	Staged string
}

// Columns of Cur that identify a new row, and the columns of HitsSQL's
// result.
const (
	FileColumn = "_tx_file"
	RowColumn  = "_tx_row"
)

// HitsSQL returns one DuckDB query that lists the new rows the history rule
// r tags, as (FileColumn, RowColumn) pairs. Every row of Cur and of the
// history is looked at together, so rows of the run count for each other
// exactly as committed rows do, whatever order they came in:
//
//   - velocity: count(*) over the key's rows with event time in
//     [t - Window, t] (rows at the same instant t included) ≥ Count;
//   - novelty: no earlier row (event time in [t - Lookback, t)) of the key
//     has the same non-null Field value, and the key has at least one
//     earlier row in that span unless NoHistory is "tag";
//   - outlier: at least MinHistory earlier non-null values of Field for the
//     key in [t - Lookback, t), and the row's score is above Threshold;
//     a zero spread scores a value that differs from the centre as
//     infinitely far (so it is tagged) and one equal to it as 0.
//
// Rows with a null key field, and for novelty and outlier a null Field, are
// never tagged and do not count as history.
//
// Velocity joins each new row with its key's rows in the (short) window;
// novelty uses two as-of joins; outlier uses window functions over the
// key's rows of the run and the span. All three read only history rows in
// the rule's span. The outlier query is the reference for OutlierHits,
// which gives the same hits many times faster (ingest uses it).
func (r *Rule) HitsSQL(in HistoryInput) (string, error) {
	if !r.History() {
		return "", fmt.Errorf("rule %q: a %s rule has no history query", r.Name, r.Kind)
	}
	q := r.queryParts(in)
	keys, cols, where, histRows, file, row := q.keys, q.cols, q.where, q.histRows, q.file, q.row
	on := make([]string, len(keys))
	for i, k := range keys {
		on[i] = "c." + k + " = h." + k
	}
	span := q.span
	keyList := strings.Join(keys, ", ")

	if r.Kind == Outlier {
		// Window functions over the key's rows keep memory bounded however
		// many rows the run and the span hold; a join of each new row with
		// its key's span would materialise every pair for the holistic
		// median and MAD.
		var b strings.Builder
		b.WriteString("WITH _u AS (SELECT " + cols + ", " + file + ", " + row + " FROM " + ident(in.Cur) + " WHERE " + where)
		if histRows != "" {
			b.WriteString("\n  UNION ALL " + strings.Replace(histRows, " FROM ", ", NULL::VARCHAR, NULL::BIGINT FROM ", 1) +
				" AND (" + keyList + ") IN (SELECT " + keyList + " FROM " + ident(in.Cur) + ")")
		}
		b.WriteString(")\n")
		w := "(PARTITION BY " + keyList + " ORDER BY _ts RANGE BETWEEN " + span + " PRECEDING AND CURRENT ROW EXCLUDE GROUP)"
		centre, spread, scale := "avg(_v)", "stddev_samp(_v)", ""
		if r.Method == MethodMAD {
			centre, spread, scale = "median(_v)", "mad(_v)", "0.6745 * "
		}
		b.WriteString("SELECT " + file + ", " + row + " FROM (SELECT " + file + ", " + row + ", _v, count(_v) OVER " + w + " AS _n, " +
			centre + " OVER " + w + " AS _m, " + spread + " OVER " + w + " AS _s FROM _u)\n" +
			"WHERE " + file + " IS NOT NULL AND _n >= " + strconv.Itoa(max(r.MinHistory, 1)) +
			" AND CASE WHEN coalesce(_s, 0) = 0 THEN _v <> _m ELSE " + scale + "abs(_v - _m) / _s > " +
			strconv.FormatFloat(r.Threshold, 'g', -1, 64) + " END")
		return b.String(), nil
	}

	var b strings.Builder
	b.WriteString("WITH _c AS (SELECT " + cols + ", " + file + ", " + row + " FROM " + ident(in.Cur) + " WHERE " + where + "),\n")
	b.WriteString("_h AS (SELECT " + cols + " FROM " + ident(in.Cur) + " WHERE " + where)
	if histRows != "" {
		b.WriteString("\n  UNION ALL " + histRows)
	}
	b.WriteString(")\n")

	if r.Kind == Novelty {
		// Two as-of joins find, per new row, the latest earlier row with
		// the same value and the latest earlier row of the key: the row is
		// new when the first is missing or older than the span, and has
		// history when the second is within it.
		seen := make([]string, len(keys))
		hist := make([]string, len(keys))
		for i, k := range keys {
			seen[i] = "c." + k + " = s." + k
			hist[i] = "c." + k + " = a." + k
		}
		b.WriteString("SELECT c." + file + ", c." + row + " FROM _c c\n" +
			"ASOF LEFT JOIN _h s ON " + strings.Join(seen, " AND ") + " AND c._v = s._v AND c._ts > s._ts\n" +
			"ASOF LEFT JOIN _h a ON " + strings.Join(hist, " AND ") + " AND c._ts > a._ts\n" +
			"WHERE (s._ts IS NULL OR s._ts < c._ts - " + span + ")")
		if r.NoHistory != NoHistoryTag {
			b.WriteString(" AND a._ts >= c._ts - " + span)
		}
		return b.String(), nil
	}

	// Velocity: each new row joined with its key's rows in [t - window, t],
	// the row itself and rows at the same instant included.
	b.WriteString("SELECT c." + file + ", c." + row + " FROM _c c JOIN _h h ON " + strings.Join(on, " AND ") +
		" AND h._ts >= c._ts - " + span + " AND h._ts <= c._ts\nGROUP BY c." + file + ", c." + row +
		"\nHAVING count(*) >= " + strconv.Itoa(r.Count))
	return b.String(), nil
}

// queryParts are the pieces of SQL the history queries share.
type queryParts struct {
	keys     []string // the key columns, quoted
	ts       string   // the event-time column, quoted
	cols     string   // keys, _ts and (but for velocity) _v
	where    string   // not-null keys and field, and the key bucket
	histRows string   // SELECT cols FROM the history in [From, To], or ""
	file     string   // FileColumn, quoted
	row      string   // RowColumn, quoted
	span     string   // the rule's span as a DuckDB interval expression
}

func (r *Rule) queryParts(in HistoryInput) queryParts {
	var q queryParts
	q.keys = make([]string, len(r.Key))
	for i, k := range r.Key {
		q.keys[i] = ident(k)
	}
	q.ts = ident(in.EventTime)
	q.cols = strings.Join(q.keys, ", ") + ", " + q.ts + " AS _ts"
	notNull := make([]string, 0, len(q.keys)+1)
	for _, k := range q.keys {
		notNull = append(notNull, k+" IS NOT NULL")
	}
	if r.Kind != Velocity {
		v := ident(r.Field)
		if r.Kind == Outlier {
			q.cols += ", CAST(" + v + " AS DOUBLE) AS _v"
		} else {
			q.cols += ", " + v + " AS _v"
		}
		notNull = append(notNull, v+" IS NOT NULL")
	}
	if in.Buckets > 1 {
		notNull = append(notNull, "hash("+strings.Join(q.keys, ", ")+") % "+strconv.Itoa(in.Buckets)+" = "+strconv.Itoa(in.Bucket))
	}
	q.where = strings.Join(notNull, " AND ")
	q.file, q.row = ident(FileColumn), ident(RowColumn)
	q.span = "to_microseconds(" + strconv.FormatInt(r.Span().Microseconds(), 10) + ")"
	if in.Hist != "" {
		q.histRows = "SELECT " + q.cols + " FROM " + ident(in.Hist) + " WHERE " + q.where + " AND " + q.ts +
			" BETWEEN " + tsLiteral(in.From) + " AND " + tsLiteral(in.To)
	}
	return q
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literal quotes s as a DuckDB string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func tsLiteral(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
}
