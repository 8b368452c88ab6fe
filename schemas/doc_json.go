package schemas

import (
	"fmt"
	"strings"

	"github.com/txlake/txlake/tagging"
)

// Doc is the stable JSON form of a schema, written to <lake>/<table>/_schema.json
// and to the "txlake.schema" Parquet key-value metadata. Fields are in schema
// order; empty optional parts are omitted. Defaults are filled in (from,
// formats, dictionary), so a Doc describes exactly what was applied.
type Doc struct {
	Table     string   `json:"table"`
	EventTime string   `json:"event_time"`
	Key       []string `json:"key,omitempty"`
	// UpdatePolicy and Version are omitted for the default policy.
	UpdatePolicy string     `json:"update_policy,omitempty"`
	Version      string     `json:"version,omitempty"`
	Fingerprint  string     `json:"fingerprint"`
	Fields       []FieldDoc `json:"fields"`
	// Rules are the row rules; their hits are in the "tags" column.
	Rules []RuleDoc `json:"rules,omitempty"`
}

// RuleDoc is one row rule of a Doc. Durations are written as a schema file
// accepts them ("1h", "30d").
type RuleDoc struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Key        []string `json:"key,omitempty"`
	Field      string   `json:"field,omitempty"`
	Count      int      `json:"count,omitempty"`
	Window     string   `json:"window,omitempty"`
	Lookback   string   `json:"lookback,omitempty"`
	NoHistory  string   `json:"no_history,omitempty"`
	Method     string   `json:"method,omitempty"`
	Threshold  float64  `json:"threshold,omitempty"`
	MinHistory int      `json:"min_history,omitempty"`
	Expr       string   `json:"expr,omitempty"`
}

// FieldDoc is one field of a Doc. Min and Max are the bounds as canonical
// decimal text (exact for decimal fields). PII is omitted for "keep".
type FieldDoc struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Required   bool     `json:"required"`
	From       []string `json:"from,omitempty"`
	Normalize  []string `json:"normalize,omitempty"`
	Enum       []string `json:"enum,omitempty"`
	Min        string   `json:"min,omitempty"`
	Max        string   `json:"max,omitempty"`
	Pattern    string   `json:"pattern,omitempty"`
	Formats    []string `json:"formats,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	PII        string   `json:"pii,omitempty"`
	Dictionary bool     `json:"dictionary,omitempty"`
}

// Doc returns the stable JSON form of s. The slices are copies.
func (s *Schema) Doc() Doc {
	d := Doc{Table: s.Table, EventTime: s.EventTime, Key: clone(s.Key), Fingerprint: s.Fingerprint,
		Fields: make([]FieldDoc, len(s.Fields)), Version: s.Version}
	if s.UpdatePolicy == UpdateReplace {
		d.UpdatePolicy = s.UpdatePolicy
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		fd := FieldDoc{Name: f.Name, Type: f.Type.String(), Required: f.Required, From: clone(f.From),
			Normalize: clone(f.Normalize), Enum: clone(f.Enum), Min: f.MinText, Max: f.MaxText,
			Pattern: f.PatternText, Formats: clone(f.Formats), Tags: clone(f.Tags), Dictionary: f.Dictionary}
		if f.PII != PIIKeep {
			fd.PII = f.PII
		}
		d.Fields[i] = fd
	}
	d.Rules = s.ruleDocs()
	return d
}

// Summary describes the rule in one line, e.g. "at least 10 rows per
// [customer_id] within 1h".
func (r RuleDoc) Summary() string {
	key := "[" + strings.Join(r.Key, ", ") + "]"
	switch tagging.RuleKind(r.Kind) {
	case tagging.Velocity:
		return fmt.Sprintf("at least %d rows per %s within %s", r.Count, key, r.Window)
	case tagging.Novelty:
		s := fmt.Sprintf("%s not seen for %s in the previous %s", r.Field, key, r.Lookback)
		if r.NoHistory == tagging.NoHistoryTag {
			s += " (a key without history is tagged)"
		}
		return s
	case tagging.Outlier:
		return fmt.Sprintf("%s score of %s above %g against %s's previous %s (at least %d rows)",
			r.Method, r.Field, r.Threshold, key, r.Lookback, r.MinHistory)
	case tagging.Condition:
		return r.Expr
	}
	return r.Kind
}

func (s *Schema) ruleDocs() []RuleDoc {
	var out []RuleDoc
	for i := range s.Rules {
		r := &s.Rules[i]
		rd := RuleDoc{Name: r.Name, Kind: string(r.Kind), Key: clone(r.Key), Field: r.Field, Count: r.Count,
			NoHistory: r.NoHistory, Method: r.Method, Threshold: r.Threshold, MinHistory: r.MinHistory, Expr: r.Expr}
		if r.Window > 0 {
			rd.Window = tagging.FormatDuration(r.Window)
		}
		if r.Lookback > 0 {
			rd.Lookback = tagging.FormatDuration(r.Lookback)
		}
		out = append(out, rd)
	}
	return out
}

func clone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// CheckEvolution reports, as a *SchemaError on the field's line, a stored
// field whose values earlier versions of the table (their Docs) kept in a
// shape Parquet readers cannot combine with s's: a list<string> column
// that was a scalar, or the reverse (a field named like the rule-tags column
// of an earlier schema with rules counts as that list). Other type changes
// are left to the readers' usual casts.
func (s *Schema) CheckEvolution(earlier []Doc) *SchemaError {
	for i := range s.Fields {
		f := &s.Fields[i]
		if !f.Stored() {
			continue
		}
		isList := f.Type.Kind == KindStringList
		for _, d := range earlier {
			was, found := "", false
			for _, fd := range d.Fields {
				if fd.Name == f.Name && fd.PII != PIIDrop {
					was, found = fd.Type, true
				}
			}
			if !found && f.Name == TagsColumn && len(d.Rules) > 0 {
				was, found = "list<string>", true
			}
			if found && (was == "list<string>") != isList {
				return &SchemaError{File: s.File, Line: f.Line, Msg: fmt.Sprintf(
					"field %q is %s, but the table's files of schema %s hold it as %s: readers cannot combine a list with a scalar column; use a new field name (or a new table)",
					f.Name, f.Type, ShortFingerprint(d.Fingerprint), was)}
			}
		}
	}
	return nil
}

// ShortFingerprint abbreviates a schema fingerprint for messages and
// listings: "sha256:" and the first 12 hex digits.
func ShortFingerprint(fp string) string {
	if len(fp) > len("sha256:")+12 {
		return fp[:len("sha256:")+12]
	}
	return fp
}
