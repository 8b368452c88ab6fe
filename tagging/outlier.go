package tagging

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FileIndexColumn is the column of HistoryInput.Cur that OutlierHits reads
// to name a new row's file: the file's 0-based index in the caller's list
// (DuckDB's file_index of read_parquet).
const FileIndexColumn = "_tx_fileno"

// OutlierHits finds the new rows the outlier rule r tags, with exactly the
// semantics HitsSQL documents (and computes with window functions), and
// calls hit with each one's FileIndexColumn and RowColumn, in no particular
// order. NaN values are treated as nulls. in.Bucket and in.Buckets
// restrict the scan to a bucket of keys as for HitsSQL: DuckDB spills its
// sort, but a smaller sort keeps its memory (beyond memory_limit) lower.
//
// DuckDB sorts the key's rows of the run and of the span by key and event
// time, out of core when they do not fit its memory limit, and streams them;
// the scoring walks each key once with a sliding window of its earlier
// rows. The Go side holds one key's window at a time (about 8 bytes a row
// for the sorted values, 16 for the queue).
//
// MAD scores match DuckDB's median and mad bit for bit; z-scores use
// compensated running sums, which can differ from DuckDB's avg and
// stddev_samp in the last bits, so a score within about 1e-12 (relative) of
// the threshold may come out either way. A window whose values are all
// equal has zero spread and its value as centre, exactly.
func (r *Rule) OutlierHits(ctx context.Context, db *sql.DB, in HistoryInput, hit func(file int, row int64) error) error {
	if r.Kind != Outlier {
		return fmt.Errorf("rule %q: a %s rule is not an outlier rule", r.Name, r.Kind)
	}
	return scanKeys(ctx, db, r, in, &outlierScan{w: newOutlierWindow(r)}, hit)
}

// outlierScan is the outlier window as a keyScanner: each new row is scored
// as it arrives, against the key's rows of earlier instants.
type outlierScan struct {
	w   *outlierWindow
	out []int64
}

func (s *outlierScan) reset() { s.w.reset() }

func (s *outlierScan) push(t int64, v float64, id sql.NullInt64) []int64 {
	s.out = s.out[:0]
	if s.w.push(t, v, id.Valid) {
		s.out = append(s.out, id.Int64)
	}
	return s.out
}

func (s *outlierScan) flush() []int64 { return nil }

// outlierRowBits is how many low bits of the streamed row id hold the row
// number; the file index is above them.
const outlierRowBits = 40

// scanShape is the value expression and the filter of the rule's scan (see
// streamSQL): velocity reads no value, novelty the value as text, outlier
// as DOUBLE without NaN.
func (r *Rule) scanShape() (value, filter string) {
	switch r.Kind {
	case Velocity:
		return "NULL::VARCHAR", ""
	case Novelty:
		return "CAST(_v AS VARCHAR)", ""
	}
	return "_v", "NOT isnan(_v)"
}

// streamSQL returns a query that scans the rule's rows: one row per row of
// the run and of the span's history of the run's keys (null keys and, but
// for velocity, null fields left out, as HitsSQL does) that passes the
// filter of scanShape, as (key, event time in µs, value, id) sorted by key
// and time. The value is scanShape's expression over _v, the field (a
// DOUBLE for outlier rules). id is FileIndexColumn<<outlierRowBits | RowColumn for a new row,
// null for history. The key is one string: each key column as text, all but
// the last prefixed by its length, so that distinct keys never meet.
func (r *Rule) streamSQL(in HistoryInput) string {
	rows, keyList := r.rowsSQL(in)
	return rows + " ORDER BY " + keyList + ", _ts"
}

// rowsSQL returns streamSQL's query unsorted, and the key columns as a
// list for its ORDER BY.
func (r *Rule) rowsSQL(in HistoryInput) (query, keyList string) {
	value, filter := r.scanShape()
	q := r.queryParts(in)
	keyList = strings.Join(q.keys, ", ")
	var key strings.Builder
	for i, k := range q.keys {
		s := "CAST(" + k + " AS VARCHAR)"
		if i > 0 {
			key.WriteString(" || ")
		}
		if i < len(q.keys)-1 {
			key.WriteString("CAST(strlen(" + s + ") AS VARCHAR) || ':' || " + s + " || ','")
		} else {
			key.WriteString(s)
		}
	}
	id := "(CAST(" + ident(FileIndexColumn) + " AS BIGINT) << " + strconv.Itoa(outlierRowBits) + ") | " + q.row
	var b strings.Builder
	b.WriteString("WITH _u AS (SELECT " + q.cols + ", " + id + " AS _id FROM " + ident(in.Cur) + " WHERE " + q.where)
	if q.histRows != "" {
		b.WriteString("\n  UNION ALL " + strings.Replace(q.histRows, " FROM ", ", NULL::BIGINT FROM ", 1) +
			" AND (" + keyList + ") IN (SELECT " + keyList + " FROM " + ident(in.Cur) + ")")
	}
	b.WriteString(")\nSELECT " + key.String() + " AS _k, epoch_us(_ts) AS _t, " + value + " AS _v, _id FROM _u")
	if filter != "" {
		b.WriteString(" WHERE " + filter)
	}
	return b.String(), keyList
}

// outlierWindow scores one key's rows, fed in event-time order: each row
// against the values of the key's rows in [t - span, t).
type outlierWindow struct {
	span       int64 // µs
	mad        bool
	threshold  float64
	minHistory int

	vals  sortedValues // the window's values
	queue []timedValue // the window's rows in time order, from head
	head  int

	group   int64     // event time of the rows in pending
	pending []float64 // values at time group, which join the window after it

	// z-score: compensated sums of (v - shift) and its square.
	shift  float64
	s1, s2 neumaier
}

type timedValue struct {
	t int64
	v float64
}

func newOutlierWindow(r *Rule) *outlierWindow {
	return &outlierWindow{span: r.Span().Microseconds(), mad: r.Method == MethodMAD, threshold: r.Threshold,
		minHistory: max(r.MinHistory, 1)}
}

// reset starts a new key.
func (w *outlierWindow) reset() {
	w.vals.reset()
	w.queue, w.head, w.pending = w.queue[:0], 0, w.pending[:0]
	w.s1, w.s2 = neumaier{}, neumaier{}
}

// push feeds the key's next row (event time t in µs, value v) and, when
// score is set, reports whether the rule tags it.
func (w *outlierWindow) push(t int64, v float64, score bool) bool {
	if len(w.pending) > 0 && t != w.group {
		for _, p := range w.pending {
			w.add(w.group, p)
		}
		w.pending = w.pending[:0]
	}
	if len(w.pending) == 0 {
		w.group = t
		for w.head < len(w.queue) && w.queue[w.head].t < t-w.span {
			w.remove(w.queue[w.head].v)
			w.head++
		}
		if w.head > 1024 && w.head > len(w.queue)/2 {
			w.queue = w.queue[:copy(w.queue, w.queue[w.head:])]
			w.head = 0
		}
	}
	w.pending = append(w.pending, v)
	return score && w.tagged(v)
}

func (w *outlierWindow) add(t int64, v float64) {
	if w.vals.n == 0 {
		w.shift = v
		w.s1, w.s2 = neumaier{}, neumaier{}
	}
	w.vals.insert(v)
	w.queue = append(w.queue, timedValue{t, v})
	if !w.mad {
		d := v - w.shift
		w.s1.add(d)
		w.s2.add(d * d)
	}
}

func (w *outlierWindow) remove(v float64) {
	w.vals.remove(v)
	if !w.mad {
		d := v - w.shift
		w.s1.add(-d)
		w.s2.add(-d * d)
	}
}

// tagged scores v against the window.
func (w *outlierWindow) tagged(v float64) bool {
	n := w.vals.n
	if n < w.minHistory {
		return false
	}
	var centre, spread float64
	if lo, hi := w.vals.at(0), w.vals.at(n-1); lo == hi {
		centre = lo // zero spread
	} else if w.mad {
		centre = w.vals.median()
		spread = w.vals.mad(centre)
	} else {
		s1, s2, nf := w.s1.sum(), w.s2.sum(), float64(n)
		centre = w.shift + s1/nf
		if variance := (s2 - s1*s1/nf) / (nf - 1); variance > 0 {
			spread = math.Sqrt(variance)
		}
	}
	if spread == 0 {
		return v != centre
	}
	if w.mad {
		return 0.6745*math.Abs(v-centre)/spread > w.threshold
	}
	return math.Abs(v-centre)/spread > w.threshold
}

// neumaier is a compensated (Kahan–Babuška–Neumaier) running sum.
type neumaier struct{ s, c float64 }

func (k *neumaier) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *neumaier) sum() float64 { return k.s + k.c }
