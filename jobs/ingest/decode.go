package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"github.com/zeebo/xxh3"

	"github.com/txlake/txlake/schemas"
)

// csvHeader maps schema fields to the columns of one CSV source.
type csvHeader struct {
	columns []string
	// fieldCol[i] is the column of schema field i, or -1 when none of the
	// field's source names is in the header.
	fieldCol []int
	unknown  []string // header columns no field reads
}

func parseCSVHeader(line []byte, s *schemas.Schema) (*csvHeader, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	cells, err := splitCSV(line, nil)
	if err != nil {
		return nil, fmt.Errorf("CSV header: %v", err)
	}
	h := &csvHeader{fieldCol: make([]int, len(s.Fields))}
	pos := map[string]int{}
	for i, c := range cells {
		name := string(bytes.TrimSpace(c))
		if name == "" {
			return nil, fmt.Errorf("CSV header: column %d has an empty name", i+1)
		}
		if _, dup := pos[name]; dup {
			return nil, fmt.Errorf("CSV header: column %q appears twice", name)
		}
		pos[name] = i
		h.columns = append(h.columns, name)
	}
	used := map[int]bool{}
	for i, f := range s.Fields {
		h.fieldCol[i] = -1
		for _, from := range f.From {
			if c, ok := pos[from]; ok {
				h.fieldCol[i] = c
				used[c] = true
				break
			}
		}
	}
	for i, c := range h.columns {
		if !used[i] {
			h.unknown = append(h.unknown, c)
		}
	}
	return h, nil
}

// splitCSV splits one CSV record (RFC 4180: comma separated, fields may be
// double-quoted, "" inside quotes is a quote). Records do not span lines.
// The cells alias line unless they contained escaped quotes.
func splitCSV(line []byte, cells [][]byte) ([][]byte, error) {
	cells = cells[:0]
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			// quoted cell
			j := i + 1
			var cell []byte
			escaped := false
			for {
				k := bytes.IndexByte(line[j:], '"')
				if k < 0 {
					return nil, fmt.Errorf("unterminated quoted field (multi-line CSV fields are not supported)")
				}
				k += j
				if k+1 < len(line) && line[k+1] == '"' {
					if !escaped {
						cell = append(cell, line[i+1:k+1]...)
						escaped = true
					} else {
						cell = append(cell, line[j:k+1]...)
					}
					j = k + 2
					continue
				}
				if escaped {
					cell = append(cell, line[j:k]...)
				} else {
					cell = line[i+1 : k]
				}
				j = k + 1
				break
			}
			cells = append(cells, cell)
			if j == len(line) {
				return cells, nil
			}
			if line[j] != ',' {
				return nil, fmt.Errorf("unexpected character after closing quote in field %d", len(cells))
			}
			i = j + 1
			if i == len(line) {
				return append(cells, line[i:i]), nil
			}
			continue
		}
		k := bytes.IndexByte(line[i:], ',')
		if k < 0 {
			cell := line[i:]
			if bytes.IndexByte(cell, '"') >= 0 {
				return nil, fmt.Errorf("bare quote in unquoted field %d", len(cells)+1)
			}
			return append(cells, cell), nil
		}
		cell := line[i : i+k]
		if bytes.IndexByte(cell, '"') >= 0 {
			return nil, fmt.Errorf("bare quote in unquoted field %d", len(cells)+1)
		}
		cells = append(cells, cell)
		i += k + 1
		if i == len(line) {
			return append(cells, line[i:i]), nil
		}
	}
}

// qrow is one quarantined record.
type qrow struct {
	line   int64
	offset int64
	rule   string
	field  string
	reason string
	raw    []byte
	length int64 // full length of the raw line (raw may be only its head)
}

// batch is the decoded, coerced result of one chunk.
type batch struct {
	seq         int64
	src         int
	nf          int
	vals        []schemas.Value // len(days)*nf
	days        []int64         // partition day of each good row
	keys        []xxh3.Uint128  // key hash of each good row (schemas with a key)
	hits        []uint64        // condition-rule bits of each good row (schemas with condition rules)
	q           []qrow
	read, empty int64
	bytes       int64
	unknown     map[string]int64
	// refs counts the partition writers still to encode rows of the
	// batch; the last one returns its buffers to batchPool (see hold).
	refs atomic.Int32
}

// batchPool recycles batches, whose row buffers are a few MiB each: fresh
// ones cost page faults and GC work on every chunk.
var batchPool sync.Pool

// newBatch returns an empty batch, recycled when one is free.
func newBatch() *batch {
	b, _ := batchPool.Get().(*batch)
	if b == nil {
		return &batch{}
	}
	*b = batch{vals: b.vals[:0], days: b.days[:0], keys: b.keys[:0], hits: b.hits[:0], q: b.q[:0]}
	return b
}

// hold records that n partition writers will read the batch's rows, each
// calling release when done; with n == 0 the batch is recycled at once.
// The consumer calls it once, after its last use of the batch and before
// sending it to any writer.
func (b *batch) hold(n int) {
	b.refs.Store(int32(n))
	if n == 0 {
		batchPool.Put(b)
	}
}

// release is a writer's signal that it no longer reads the batch. Values
// already handed to Parquet stay valid: strings are never recycled, only
// the slices that hold them.
func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		batchPool.Put(b)
	}
}

// decoder turns chunks into batches. One per worker goroutine.
type decoder struct {
	s       *schemas.Schema
	c       *schemas.Coercer
	p       fastjson.Parser
	maxLine int
	window  *window
	known   map[string]bool // top-level JSON names some field reads
	raws    []schemas.Raw
	cells   [][]byte
	scratch []byte
	keyBuf  []byte
	numBuf  []byte
	conds   *conditions // nil unless the schema has condition rules
	redact  *redactor   // nil unless --quarantine-redact
	// fast scans the common shape of JSON lines without fastjson; nil when
	// the schema's paths are beyond it.
	fast *fastScanner
}

// window restricts the partitions an ingest may write (--date, --from/--to).
type window struct {
	from, to int64 // inclusive day numbers
	text     string
}

func newDecoder(s *schemas.Schema, c *schemas.Coercer, maxLine int, w *window) *decoder {
	d := &decoder{s: s, c: c, maxLine: maxLine, window: w, known: map[string]bool{}, raws: make([]schemas.Raw, len(s.Fields)),
		conds: newConditions(s)}
	for _, f := range s.Fields {
		for _, p := range f.FromPaths {
			d.known[p[0]] = true
		}
	}
	if d.fast = newFastScanner(s); d.fast != nil {
		d.fast.raws = d.raws
	}
	return d
}

func (d *decoder) decode(c *chunk, format Format) *batch {
	nf := len(d.s.Fields)
	b := newBatch()
	b.seq, b.src, b.nf, b.bytes = c.seq, c.src, nf, c.bytes
	if c.long == nil {
		// Size the row buffers once: growing them showed up in profiles.
		lines := bytes.Count(c.data, []byte{'\n'}) + 1
		if cap(b.vals) < lines*nf {
			b.vals = make([]schemas.Value, 0, lines*nf)
		}
		if cap(b.days) < lines {
			b.days = make([]int64, 0, lines)
		}
		if len(d.s.KeyIndex) > 0 && cap(b.keys) < lines {
			b.keys = make([]xxh3.Uint128, 0, lines)
		}
		if d.conds != nil && cap(b.hits) < lines {
			b.hits = make([]uint64, 0, lines)
		}
	}
	if c.long != nil {
		b.read++
		b.q = append(b.q, qrow{line: c.firstLine, offset: c.firstOffset, rule: "line_too_long",
			reason: fmt.Sprintf("line too long: %d bytes exceeds --max-line-bytes %d (first %d bytes kept)", c.long.length, d.maxLine, len(c.long.head)),
			raw:    c.long.head, length: c.long.length})
		return b
	}
	data := c.data
	line := c.firstLine
	off := c.firstOffset
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var ln []byte
		if i < 0 {
			ln, data = data, nil
		} else {
			ln, data = data[:i], data[i+1:]
		}
		curLine, curOff := line, off
		line++
		off += int64(len(ln)) + 1
		if len(ln) > 0 && ln[len(ln)-1] == '\r' {
			ln = ln[:len(ln)-1]
		}
		if curOff == 0 && bytes.HasPrefix(ln, []byte("\xef\xbb\xbf")) {
			ln = ln[3:] // UTF-8 byte order mark
		}
		if len(bytes.TrimSpace(ln)) == 0 {
			b.empty++
			continue
		}
		b.read++
		if len(ln) > d.maxLine {
			head := ln[:min(len(ln), quarantineHeadBytes)]
			b.q = append(b.q, qrow{line: curLine, offset: curOff, rule: "line_too_long",
				reason: fmt.Sprintf("line too long: %d bytes exceeds --max-line-bytes %d (first %d bytes kept)", len(ln), d.maxLine, len(head)),
				raw:    append([]byte(nil), head...), length: int64(len(ln))})
			continue
		}
		var rule, field, reason string
		if format == FormatCSV {
			rule, field, reason = d.rawsCSV(ln, c.header, b)
		} else {
			rule, field, reason = d.rawsJSON(ln, b)
		}
		if rule == "" {
			rule, field, reason = d.coerceRow(b)
		}
		if rule != "" {
			raw := append([]byte(nil), ln...)
			if d.redact != nil {
				raw = d.redact.line(raw, format, c.header)
			}
			b.q = append(b.q, qrow{line: curLine, offset: curOff, rule: rule, field: field, reason: reason,
				raw: raw, length: int64(len(ln))})
			// drop the half-appended row
			b.vals = b.vals[:len(b.days)*nf]
		}
	}
	return b
}

func (d *decoder) rawsJSON(ln []byte, b *batch) (rule, field, reason string) {
	if d.fast != nil && d.fast.scan(ln) {
		for _, k := range d.fast.unk {
			d.countUnknown(b, k)
		}
		return "", "", ""
	}
	v, err := d.p.ParseBytes(ln)
	if err != nil {
		return "json", "", "malformed JSON: the line is not a complete JSON value"
	}
	obj, err := v.Object()
	if err != nil {
		return "json", "", "not a JSON object: got " + v.Type().String()
	}
	obj.Visit(func(k []byte, _ *fastjson.Value) {
		if !d.known[string(k)] {
			d.countUnknown(b, k)
		}
	})
	d.scratch = d.scratch[:0]
	for i := range d.s.Fields {
		f := &d.s.Fields[i]
		r := schemas.Raw{Kind: schemas.RawMissing}
		for _, p := range f.FromPaths {
			fv := v.Get(p...)
			if fv == nil {
				continue
			}
			switch fv.Type() {
			case fastjson.TypeNull:
				r = schemas.Raw{Kind: schemas.RawNull}
			case fastjson.TypeString:
				r = schemas.Raw{Kind: schemas.RawString, Text: fv.GetStringBytes()}
			case fastjson.TypeNumber:
				start := len(d.scratch)
				d.scratch = fv.MarshalTo(d.scratch)
				r = schemas.Raw{Kind: schemas.RawNumber, Text: d.scratch[start:len(d.scratch):len(d.scratch)]}
			case fastjson.TypeTrue:
				r = schemas.Raw{Kind: schemas.RawBool, Bool: true}
			case fastjson.TypeFalse:
				r = schemas.Raw{Kind: schemas.RawBool, Bool: false}
			default:
				start := len(d.scratch)
				d.scratch = fv.MarshalTo(d.scratch)
				r = schemas.Raw{Kind: schemas.RawComposite, Text: d.scratch[start:len(d.scratch):len(d.scratch)]}
			}
			break
		}
		d.raws[i] = r
	}
	return "", "", ""
}

// countUnknown counts a top-level JSON name no field reads (the first 100
// distinct names of a batch).
func (d *decoder) countUnknown(b *batch, k []byte) {
	if b.unknown == nil {
		b.unknown = map[string]int64{}
	}
	if _, ok := b.unknown[string(k)]; ok || len(b.unknown) < 100 {
		b.unknown[string(k)]++
	}
}

func (d *decoder) rawsCSV(ln []byte, h *csvHeader, b *batch) (rule, field, reason string) {
	cells, err := splitCSV(ln, d.cells)
	if err != nil {
		return "csv", "", "malformed CSV: " + err.Error()
	}
	d.cells = cells
	if len(cells) != len(h.columns) {
		return "csv", "", fmt.Sprintf("malformed CSV: %d fields, the header has %d", len(cells), len(h.columns))
	}
	ascii := schemas.IsASCII(ln) // then so is every cell, unquoted or not
	for i := range d.s.Fields {
		col := h.fieldCol[i]
		switch {
		case col < 0:
			d.raws[i] = schemas.Raw{Kind: schemas.RawMissing}
		case len(cells[col]) == 0:
			d.raws[i] = schemas.Raw{Kind: schemas.RawNull}
		default:
			d.raws[i] = schemas.Raw{Kind: schemas.RawString, Text: cells[col], ASCII: ascii}
		}
	}
	return "", "", ""
}

// coerceRow coerces d.raws into a new row of b. It returns the first broken
// rule, in schema order.
func (d *decoder) coerceRow(b *batch) (rule, field, reason string) {
	base := len(b.vals)
	nf := len(d.s.Fields)
	b.vals = slices.Grow(b.vals, nf)[:base+nf]
	row := b.vals[base:]
	for i := range row {
		// Stored field by field from the registers Coerce returns it in
		// (append went through copies that stalled on store forwarding).
		v, rerr := d.c.Coerce(i, d.raws[i])
		if rerr != nil {
			return rerr.Rule, rerr.Field, rerr.Error()
		}
		row[i] = v
	}
	ev := row[d.s.EventIndex]
	var day int64
	if d.s.Fields[d.s.EventIndex].Type.Kind == schemas.KindDate {
		day = ev.I
	} else {
		day = floorDiv(ev.I, 86_400_000_000)
	}
	if w := d.window; w != nil && (day < w.from || day > w.to) {
		f := d.s.Fields[d.s.EventIndex].Name
		return "window", f, "field " + f + ": window: event date outside the ingest window " + w.text
	}
	b.days = append(b.days, day)
	if len(d.s.KeyIndex) > 0 {
		b.keys = append(b.keys, d.keyHash(row))
	}
	if d.conds != nil {
		b.hits = append(b.hits, d.conds.eval(row))
	}
	return "", "", ""
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// keyHash hashes the key fields of a row. Each value is length- or
// kind-prefixed so that ("ab","c") and ("a","bc") differ.
func (d *decoder) keyHash(row []schemas.Value) xxh3.Uint128 {
	d.keyBuf = appendKey(d.keyBuf[:0], d.s, row)
	return xxh3.Hash128(d.keyBuf)
}

func appendKey(buf []byte, s *schemas.Schema, row []schemas.Value) []byte {
	for _, i := range s.KeyIndex {
		v := row[i]
		if v.Null {
			buf = append(buf, 0)
			continue
		}
		switch s.Fields[i].Type.Kind {
		case schemas.KindString:
			buf = append(buf, 1)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v.S)))
			buf = append(buf, v.S...)
		case schemas.KindFloat64:
			buf = append(buf, 2)
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
		default:
			buf = append(buf, 3)
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
		}
	}
	return buf
}

// rawText renders raw bytes as valid UTF-8 for the quarantine's text column.
func rawText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}
