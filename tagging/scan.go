package tagging

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
)

// ScanHits finds the new rows the history rule r tags, with exactly the
// semantics HitsSQL documents, and calls hit with each one's
// FileIndexColumn and RowColumn, in no particular order. in.Cur must
// provide FileIndexColumn (see OutlierHits).
//
// Like OutlierHits, it reads one DuckDB scan of the run's and the span's
// rows sorted by key and event time, and walks each key once in Go:
//   - velocity keeps the event times of [t - window, t] in a queue, and
//     tags a new row when the queue, with every row at the instant t, holds
//     at least Count rows;
//   - novelty keeps, per value, the latest earlier instant it was seen at
//     and the key's latest earlier instant: rows at one instant are judged
//     before any of them counts as seen.
//
// Novelty compares values as DuckDB's text of them (CAST AS VARCHAR), which
// equals SQL equality for strings, integers, decimals, dates and times; of
// floats, -0.0 and 0.0 differ as text (they are equal in HitsSQL).
func (r *Rule) ScanHits(ctx context.Context, db *sql.DB, in HistoryInput, hit func(file int, row int64) error) error {
	span := r.Span().Microseconds()
	switch r.Kind {
	case Outlier:
		return r.OutlierHits(ctx, db, in, hit)
	case Velocity:
		return scanKeys(ctx, db, r.streamSQL(in, "NULL::VARCHAR", ""), &velocityScan{span: span, count: r.Count}, hit)
	case Novelty:
		return scanKeys(ctx, db, r.streamSQL(in, "CAST(_v AS VARCHAR)", ""),
			&noveltyScan{span: span, tagWithoutHistory: r.NoHistory == NoHistoryTag, seen: map[string]int64{}}, hit)
	}
	return fmt.Errorf("rule %q: a %s rule has no history scan", r.Name, r.Kind)
}

// scanKeys runs q (a streamSQL query) and feeds its rows to w, key by key,
// calling hit with the file index and row number of each new row w tags.
func scanKeys[V any](ctx context.Context, db *sql.DB, q string, w keyScanner[V], hit func(file int, row int64) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	emit := func(ids []int64) error {
		for _, id := range ids {
			if err := hit(int(id>>outlierRowBits), id&(1<<outlierRowBits-1)); err != nil {
				return err
			}
		}
		return nil
	}
	var key, prev sql.RawBytes
	var ts int64
	var v V
	var id sql.NullInt64
	first := true
	for rows.Next() {
		if err := rows.Scan(&key, &ts, &v, &id); err != nil {
			return err
		}
		if first || !bytes.Equal(key, prev) {
			if err := emit(w.flush()); err != nil {
				return err
			}
			w.reset()
			first = false
			prev = append(prev[:0], key...)
		}
		if err := emit(w.push(ts, v, id)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return emit(w.flush())
}

// keyScanner walks one key's rows in event-time order, with values of
// type V. push and flush return the ids of the new rows tagged so far (the
// slice is only valid until the next call).
type keyScanner[V any] interface {
	reset()
	push(t int64, v V, id sql.NullInt64) []int64
	flush() []int64
}

// group collects the rows of one instant.
type group struct {
	t      int64
	vals   []string
	ids    []sql.NullInt64
	tagged []int64
}

func (g *group) add(t int64, v string, id sql.NullInt64) {
	g.t = t
	g.vals = append(g.vals, v)
	g.ids = append(g.ids, id)
}

func (g *group) clear() { g.vals, g.ids = g.vals[:0], g.ids[:0] }

type velocityScan struct {
	span  int64
	count int
	times []int64 // the key's event times in [t - span, t), from head
	head  int
	g     group
}

func (s *velocityScan) reset() { s.times, s.head = s.times[:0], 0; s.g.clear() }

func (s *velocityScan) push(t int64, _ sql.NullString, id sql.NullInt64) []int64 {
	var out []int64
	if len(s.g.ids) > 0 && t != s.g.t {
		out = s.flush()
	}
	s.g.add(t, "", id)
	return out
}

func (s *velocityScan) flush() []int64 {
	if len(s.g.ids) == 0 {
		return nil
	}
	t := s.g.t
	for s.head < len(s.times) && s.times[s.head] < t-s.span {
		s.head++
	}
	if s.head > 1024 && s.head > len(s.times)/2 {
		s.times = s.times[:copy(s.times, s.times[s.head:])]
		s.head = 0
	}
	n := len(s.times) - s.head + len(s.g.ids) // rows in [t - span, t]
	s.g.tagged = s.g.tagged[:0]
	for _, id := range s.g.ids {
		if id.Valid && n >= s.count {
			s.g.tagged = append(s.g.tagged, id.Int64)
		}
		s.times = append(s.times, t)
	}
	s.g.clear()
	return s.g.tagged
}

type noveltyScan struct {
	span              int64
	tagWithoutHistory bool
	seen              map[string]int64 // value → the latest earlier instant it was seen at
	last              int64            // the key's latest earlier instant
	any               bool             // the key has an earlier row
	g                 group
}

func (s *noveltyScan) reset() {
	clear(s.seen)
	s.any = false
	s.g.clear()
}

func (s *noveltyScan) push(t int64, v sql.NullString, id sql.NullInt64) []int64 {
	var out []int64
	if len(s.g.ids) > 0 && t != s.g.t {
		out = s.flush()
	}
	s.g.add(t, v.String, id)
	return out
}

func (s *noveltyScan) flush() []int64 {
	if len(s.g.ids) == 0 {
		return nil
	}
	t := s.g.t
	history := s.tagWithoutHistory || s.any && s.last >= t-s.span
	s.g.tagged = s.g.tagged[:0]
	for i, id := range s.g.ids {
		if !id.Valid || !history {
			continue
		}
		if at, ok := s.seen[s.g.vals[i]]; !ok || at < t-s.span {
			s.g.tagged = append(s.g.tagged, id.Int64)
		}
	}
	for _, v := range s.g.vals {
		s.seen[v] = t
	}
	s.last, s.any = t, true
	s.g.clear()
	return s.g.tagged
}
