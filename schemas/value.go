package schemas

import (
	"encoding/binary"
	"iter"
	"math"
	"unsafe"
)

// RawKind says what kind of token a decoder found for a field.
type RawKind uint8

// Raw kinds produced by the JSON and CSV decoders.
const (
	RawMissing   RawKind = iota // no source name/path of the field was present
	RawNull                     // JSON null (CSV: an empty cell)
	RawString                   // Text holds the unescaped string bytes
	RawNumber                   // Text holds the JSON number literal as written
	RawBool                     // Bool holds the value
	RawComposite                // a JSON object or array; Text holds its JSON text
)

// Raw is one undecoded cell as found in the input. Text may alias the
// decoder's buffer: Coerce must copy what it keeps.
type Raw struct {
	Text []byte
	Kind RawKind
	Bool bool
	// ASCII says the decoder found Text to be all ASCII, so Coerce skips
	// its UTF-8 check. False means unknown, never "not ASCII".
	ASCII bool
	// Text first: 32 bytes, which the compiler keeps in registers (the
	// ingest hot path passes one per cell).
}

// Value is one coerced cell, in the representation Parquet stores.
type Value struct {
	Null bool
	// I holds int64 values, decimal unscaled values (amount * 10^scale),
	// timestamps as microseconds since the epoch (UTC), dates as days since
	// the epoch, bools as 0 or 1, and float64 values as their IEEE 754 bits
	// (FloatValue, Value.Float). Keeping floats in I makes Value 32 bytes,
	// small enough for the compiler to keep in registers: the ingest hot
	// path copies one per cell.
	I int64
	// S holds string values (after normalisation and the PII policy) and,
	// for list<string>, the elements packed one after another, each as its
	// byte length (a uvarint) and its bytes; I then holds the element count.
	// A list is packed into S rather than held in a slice so that Value
	// stays small for the common scalar types. Build lists with ListValue
	// and read them with ListElems.
	S string
}

// FloatValue returns the float64 value f.
func FloatValue(f float64) Value { return Value{I: int64(math.Float64bits(f))} }

// Float returns the float64 value v holds (see FloatValue).
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.I)) }

// ListValue returns the list<string> value holding elems (empty, not null,
// when elems is empty).
func ListValue(elems []string) Value {
	n := 0
	for _, e := range elems {
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, n)
	for _, e := range elems {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return Value{I: int64(len(elems)), S: string(b)}
}

// ListElems yields the elements of a list<string> value, in order. The
// strings share v.S's memory.
func (v Value) ListElems() iter.Seq[string] {
	return func(yield func(string) bool) {
		s := v.S
		for len(s) > 0 {
			n, k := binary.Uvarint(unsafe.Slice(unsafe.StringData(s), len(s)))
			if k <= 0 || uint64(len(s)-k) < n {
				panic("schemas: ListElems: corrupt list value")
			}
			if !yield(s[k : k+int(n)]) {
				return
			}
			s = s[k+int(n):]
		}
	}
}

// RuleError is why a value was rejected. Its message names the field and the
// rule, and never contains the value itself (values may be PII).
type RuleError struct {
	Field  string // schema field name
	Rule   string // short rule id: "required", "type", "min", "max", "enum", "pattern", "utf8", "format", "scale", "range"
	Detail string // human detail without the value, e.g. "must be >= 0", "expected decimal(18,2)"
}

func (e *RuleError) Error() string {
	if e.Detail == "" {
		return "field " + e.Field + ": " + e.Rule
	}
	return "field " + e.Field + ": " + e.Rule + ": " + e.Detail
}
