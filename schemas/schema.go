package schemas

import (
	"regexp"
	"strconv"

	"github.com/txlake/txlake/tagging"
)

// Kind is the logical type of a field.
type Kind uint8

// The field kinds a schema file can declare.
const (
	KindString    Kind = iota + 1 // "string": UTF-8 text
	KindInt64                     // "int64"
	KindFloat64                   // "float64": finite IEEE-754 doubles
	KindBool                      // "bool"
	KindDecimal                   // "decimal(p,s)", 1 <= p <= 18, 0 <= s <= p
	KindTimestamp                 // "timestamp": microseconds since the Unix epoch, UTC
	KindDate                      // "date": days since the Unix epoch
	// KindStringList is "list<string>": a list of UTF-8 strings (Parquet
	// LIST<STRING>, DuckDB VARCHAR[], pyarrow list<string>). Its elements
	// are never null; the list itself may be null unless required, and may
	// be empty. See Value for how a list is held.
	KindStringList
)

// Type is a field's declared type.
type Type struct {
	Kind      Kind
	Precision int // decimal only
	Scale     int // decimal only
}

// String renders the type as it is written in a schema file, e.g. "decimal(18,2)".
func (t Type) String() string { return typeString(t) }

// Update policies (the schema's update_policy).
const (
	UpdateDuplicate = "duplicate"
	UpdateReplace   = "replace"
)

// PII policies.
const (
	PIIKeep = "keep"
	PIIHash = "hash"
	PIIMask = "mask"
	PIIDrop = "drop"
)

// Field is one declared column.
type Field struct {
	Name string
	Type Type
	// From lists the source names or dotted JSON paths tried in order; the
	// first one present (even if null) wins. Defaults to [Name].
	From []string
	// FromPaths is From split on "." (a CSV header is matched on the whole
	// name, a JSON object is walked segment by segment).
	FromPaths [][]string
	Required  bool
	// Normalize, Enum and Pattern apply to strings, and to each element of
	// a list<string>.
	Normalize []string // trim | upper | lower | nfc, applied in order to strings
	Enum      []string // allowed values after normalisation (strings only)
	Min, Max  *float64 // numeric bounds, inclusive (int64, float64, decimal)
	// MinText and MaxText hold the bounds as written, for exact decimal
	// comparison and for messages.
	MinText, MaxText string
	Pattern          *regexp.Regexp // must match (RE2, unanchored unless the pattern anchors)
	PatternText      string
	// Formats for timestamp and date parsing: "rfc3339", "unix", "unix_ms",
	// "unix_us", "unix_ns", or a Go reference layout ("2006-01-02 15:04:05",
	// read as UTC unless it has a zone).
	Formats []string
	Tags    []string
	PII     string // keep (default) | hash | mask | drop
	// Dictionary requests dictionary encoding in Parquet. Defaults to true for
	// strings with an enum, false otherwise.
	Dictionary bool
	// Line is the line of the field in the schema file, for messages.
	Line int
}

// Stored reports whether the field becomes a Parquet column (PII drop fields
// are validated but not stored).
func (f *Field) Stored() bool { return f.PII != PIIDrop }

// Schema is a parsed, validated schema file.
type Schema struct {
	Table     string
	EventTime string   // name of a timestamp (or date) field
	Key       []string // names of key fields, may be empty
	Fields    []Field
	// Rules are the row rules, in declaration order: each hit adds the
	// rule's name to the row's TagsColumn.
	Rules []tagging.Rule
	// RulesFile is the path of the rules file the schema references ("" for
	// inline rules or none).
	RulesFile string
	// KeepUnknown, when true, is reserved; unknown fields are counted and
	// reported but never stored.

	// File is the path the schema was loaded from ("" when parsed from bytes).
	File string
	// EventIndex is the index in Fields of the event-time field.
	EventIndex int
	// KeyIndex holds the indexes in Fields of the key fields.
	KeyIndex []int
	// UpdatePolicy says what happens to a row whose key is already in its
	// partition: UpdateDuplicate (the default; it is counted as a duplicate
	// and not written) or UpdateReplace (it replaces the stored row when its
	// Version field is greater).
	UpdatePolicy string
	// Version names the field that orders the versions of a key
	// (update_policy: replace); VersionIndex is its index in Fields, or -1.
	Version      string
	VersionIndex int
	// Fingerprint identifies the stored shape and rules of the schema:
	// "sha256:" + hex of a canonical JSON encoding. It changes when any field's
	// name, type, rules, tags or PII policy changes, and not when comments or
	// formatting do.
	Fingerprint string
}

func typeString(t Type) string {
	switch t.Kind {
	case KindString:
		return "string"
	case KindInt64:
		return "int64"
	case KindFloat64:
		return "float64"
	case KindBool:
		return "bool"
	case KindDecimal:
		return "decimal(" + itoa(t.Precision) + "," + itoa(t.Scale) + ")"
	case KindTimestamp:
		return "timestamp"
	case KindDate:
		return "date"
	case KindStringList:
		return "list<string>"
	}
	return "unknown"
}

func itoa(i int) string { return strconv.Itoa(i) }
