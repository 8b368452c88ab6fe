package schemas

import (
	"encoding/json"
	"slices"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// orderedGroup is a parquet.Group whose columns keep the schema's declared
// order (parquet.Group alone sorts them by name), after parquet-go's own
// orderedGroup in type_variant.go.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

// Fields returns the group's fields in declared order.
func (g orderedGroup) Fields() []parquet.Field { return g.fields }

func newOrderedGroup(g parquet.Group, order []string) orderedGroup {
	byName := make(map[string]parquet.Field, len(g))
	for _, f := range g.Fields() {
		byName[f.Name()] = f
	}
	fields := make([]parquet.Field, len(order))
	for i, name := range order {
		fields[i] = byName[name]
	}
	return orderedGroup{Group: g, fields: fields}
}

// ParquetSchema returns the Parquet schema of the table: one column per
// stored field (see Field.Stored), in schema order, named like the field.
// Required fields are required columns, others optional. Types: string →
// BYTE_ARRAY STRING (RLE_DICTIONARY encoded when Field.Dictionary), int64 →
// INT64, float64 → DOUBLE, bool → BOOLEAN, decimal(p,s) → INT64
// DECIMAL(p,s), timestamp → INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true),
// date → INT32 DATE, list<string> → the standard 3-level LIST of required
// BYTE_ARRAY STRING elements. Column i of the schema is field
// StoredFields()[i].
func (s *Schema) ParquetSchema() *parquet.Schema {
	g := parquet.Group{}
	var order []string
	for _, i := range s.StoredFields() {
		f := &s.Fields[i]
		var n parquet.Node
		switch f.Type.Kind {
		case KindString:
			n = parquet.String()
		case KindInt64:
			n = parquet.Int(64)
		case KindFloat64:
			n = parquet.Leaf(parquet.DoubleType)
		case KindBool:
			n = parquet.Leaf(parquet.BooleanType)
		case KindDecimal:
			n = parquet.Decimal(f.Type.Scale, f.Type.Precision, parquet.Int64Type)
		case KindTimestamp:
			n = parquet.Timestamp(parquet.Microsecond)
		case KindDate:
			n = parquet.Date()
		case KindStringList:
			elem := parquet.String()
			if f.Dictionary {
				elem = parquet.Encoded(elem, &parquet.RLEDictionary)
			}
			n = parquet.List(elem)
		}
		if f.Dictionary && f.Type.Kind != KindBool && f.Type.Kind != KindStringList {
			n = parquet.Encoded(n, &parquet.RLEDictionary)
		}
		if f.Required {
			n = parquet.Required(n)
		} else {
			n = parquet.Optional(n)
		}
		g[f.Name] = n
		order = append(order, f.Name)
	}
	if s.HasRules() {
		g[TagsColumn] = parquet.List(parquet.String())
		order = append(order, TagsColumn)
	}
	return parquet.NewSchema(s.Table, newOrderedGroup(g, order))
}

// ColumnNames returns the names of the columns of the table's files, in
// order: the stored fields, then TagsColumn when the schema has rules.
func (s *Schema) ColumnNames() []string {
	var out []string
	for _, i := range s.StoredFields() {
		out = append(out, s.Fields[i].Name)
	}
	if s.HasRules() {
		out = append(out, TagsColumn)
	}
	return out
}

// TagsColumnIndex is the Parquet column index of the tags column (the last
// one), or -1 when the schema has no rules.
func (s *Schema) TagsColumnIndex() int {
	if !s.HasRules() {
		return -1
	}
	return len(s.StoredFields())
}

// AppendTags appends the tags column of one row to row: the names of the
// rules whose bit is set in hits (bit i is s.Rules[i]), in rule order. An
// empty set is an empty list. The schema must have rules.
func (s *Schema) AppendTags(row parquet.Row, hits uint64) parquet.Row {
	col := s.TagsColumnIndex()
	if hits == 0 {
		return append(row, parquet.NullValue().Level(0, 0, col))
	}
	rep := 0
	for i := range s.Rules {
		if hits&(1<<i) == 0 {
			continue
		}
		name := s.Rules[i].Name
		row = append(row, parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(name), len(name))).Level(rep, 1, col))
		rep = 1
	}
	return row
}

// RuleIndex returns the index in s.Rules of the rule named name, or -1.
func (s *Schema) RuleIndex(name string) int {
	for i := range s.Rules {
		if s.Rules[i].Name == name {
			return i
		}
	}
	return -1
}

// StoredFields returns the indexes into s.Fields of the fields that become
// columns, in column order.
func (s *Schema) StoredFields() []int {
	out := make([]int, 0, len(s.Fields))
	for i := range s.Fields {
		if s.Fields[i].Stored() {
			out = append(out, i)
		}
	}
	return out
}

// AppendRow appends one row to row and returns it: one parquet.Value per
// stored column, with its column index, repetition level 0 and definition
// level 1 for a present optional value, 0 for a null or a required value.
// vals is indexed like s.Fields (values of fields that are not stored are
// ignored) and must have len(s.Fields) entries.
//
// A required field's value must not be null (Coerce guarantees this);
// AppendRow panics otherwise, since the file would be corrupt.
//
// String values are not copied: the parquet.Values point into vals[i].S.
// Go strings are immutable, so this is safe as long as the strings were not
// built with unsafe over reused buffers (Coerce never does that); keep vals
// reachable until the row has been written.
func (s *Schema) AppendRow(row parquet.Row, vals []Value) parquet.Row {
	col := 0
	for i := range s.Fields {
		f := &s.Fields[i]
		if !f.Stored() {
			continue
		}
		row = appendCell(row, f, &vals[i], col)
		col++
	}
	return row
}

// AppendColumn appends to dst the values of column col, the column of
// stored field fi (col is its index in StoredFields), of the rows listed in
// rows, as AppendRow would put them in each row. vals holds rows of
// len(s.Fields) values one after another; rows indexes them. A write of
// each column's values with parquet-go's ColumnWriter.WriteRowValues
// makes the same column chunk as WriteRows of the rows AppendRow builds.
func (s *Schema) AppendColumn(dst []parquet.Value, fi, col int, vals []Value, rows []int32) []parquet.Value {
	f := &s.Fields[fi]
	nf := len(s.Fields)
	def := 0
	if !f.Required {
		def = 1
	}
	// The common kinds have their own loops, without appendCell's switch
	// per cell: this runs once per cell of every file written. The values
	// of a required column keep the levels (0, 0) they are made with and
	// skip Level, which does not inline: parquet-go's column writers read a
	// value's levels, never its column index (TestColumnWritesMatchRowWrites
	// in jobs/ingest checks the files are those of WriteRows).
	switch k := f.Type.Kind; k {
	case KindString, KindInt64, KindDecimal, KindTimestamp:
		// Values are made in their slot of dst: parquet.Value is too large
		// to stay in registers, and building one aside then copying it
		// stalled on store forwarding (perf annotate).
		n := len(dst)
		dst = slices.Grow(dst, len(rows))[:n+len(rows)]
		for i, r := range rows {
			v, out := &vals[int(r)*nf+fi], &dst[n+i]
			switch {
			case v.Null:
				*out = nullCell(f, col)
			case k != KindString && def == 0:
				*out = parquet.Int64Value(v.I)
			case k != KindString:
				*out = parquet.Int64Value(v.I).Level(0, def, col)
			case def == 0:
				*out = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(v.S), len(v.S)))
			default:
				*out = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(v.S), len(v.S))).Level(0, def, col)
			}
		}
	default:
		for _, r := range rows {
			dst = appendCell(dst, f, &vals[int(r)*nf+fi], col)
		}
	}
	return dst
}

// appendCell appends the values of one cell of f's column col: one value,
// or for list<string> one per element (see appendList).
func appendCell(row parquet.Row, f *Field, v *Value, col int) parquet.Row {
	if v.Null {
		return append(row, nullCell(f, col))
	}
	def := 0
	if !f.Required {
		def = 1
	}
	var pv parquet.Value
	switch f.Type.Kind {
	case KindStringList:
		return appendList(row, *v, def, col)
	case KindString:
		pv = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(v.S), len(v.S)))
	case KindInt64, KindDecimal, KindTimestamp:
		pv = parquet.Int64Value(v.I)
	case KindFloat64:
		pv = parquet.DoubleValue(v.Float())
	case KindBool:
		pv = parquet.BooleanValue(v.I != 0)
	case KindDate:
		pv = parquet.Int32Value(int32(v.I))
	}
	return append(row, pv.Level(0, def, col))
}

// nullCell is the value of a null cell of f's column col.
func nullCell(f *Field, col int) parquet.Value {
	if f.Required {
		panic("schemas: AppendRow: null value in required field " + f.Name)
	}
	return parquet.NullValue().Level(0, 0, col)
}

// appendList appends the values of one list<string> cell: an empty list is
// one null value at definition level def (the list is present), elements
// are at def+1, the first at repetition level 0 and the others at 1.
func appendList(row parquet.Row, v Value, def, col int) parquet.Row {
	rep := 0
	for e := range v.ListElems() {
		row = append(row, parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(e), len(e))).Level(rep, def+1, col))
		rep = 1
	}
	if rep == 0 {
		row = append(row, parquet.NullValue().Level(0, def, col))
	}
	return row
}

// ValueFromParquet converts a value read from f's column back to a Value,
// the inverse of AppendRow for scalar types (a list<string> cell spans
// several values and is never read back: lists cannot be keys, versions or
// rule fields). Strings are copied.
func ValueFromParquet(f *Field, v parquet.Value) Value {
	if v.IsNull() {
		return Value{Null: true}
	}
	switch f.Type.Kind {
	case KindString:
		return Value{S: string(v.ByteArray())}
	case KindInt64, KindDecimal, KindTimestamp:
		return Value{I: v.Int64()}
	case KindFloat64:
		return FloatValue(v.Double())
	case KindBool:
		if v.Boolean() {
			return Value{I: 1}
		}
		return Value{I: 0}
	case KindDate:
		return Value{I: int64(v.Int32())}
	}
	return Value{Null: true}
}

// Parquet key-value metadata keys written by txlake.
const (
	MetaFingerprint = "txlake.schema_fingerprint" // Schema.Fingerprint
	MetaTable       = "txlake.table"              // Schema.Table
	MetaSchema      = "txlake.schema"             // the JSON of Schema.Doc
	MetaTagsPrefix  = "txlake.tags."              // + column: comma-joined tags
	MetaPIIPrefix   = "txlake.pii."               // + column: pii policy other than keep
)

// KeyValueMetadata returns the Parquet key-value metadata of the table's
// files: MetaFingerprint, MetaTable, MetaSchema (the JSON of Doc), and for
// each stored field MetaTagsPrefix+name (its tags, comma-joined) when it has
// tags and MetaPIIPrefix+name (its policy) when its policy is not keep.
func (s *Schema) KeyValueMetadata() map[string]string {
	doc, err := json.Marshal(s.Doc())
	if err != nil {
		panic("schemas: marshal Doc: " + err.Error()) // strings, bools and slices only
	}
	m := map[string]string{
		MetaFingerprint: s.Fingerprint,
		MetaTable:       s.Table,
		MetaSchema:      string(doc),
	}
	for _, i := range s.StoredFields() {
		f := &s.Fields[i]
		if len(f.Tags) > 0 {
			m[MetaTagsPrefix+f.Name] = strings.Join(f.Tags, ",")
		}
		if f.PII != PIIKeep && f.PII != "" {
			m[MetaPIIPrefix+f.Name] = f.PII
		}
	}
	return m
}
