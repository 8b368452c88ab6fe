package schemas

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/txlake/txlake/schemas/yamlnode"
	"github.com/txlake/txlake/tagging"
)

// TagsColumn is the LIST<STRING> column that holds each row's rule tags. It
// exists in a table's files when its schema declares rules.
const TagsColumn = "tags"

var ruleKeys = []string{"name", "kind", "key", "field", "count", "window", "lookback", "no_history",
	"method", "threshold", "min_history", "expr"}

// Keys each kind accepts besides name and kind.
var ruleKindKeys = map[tagging.RuleKind][]string{
	tagging.Velocity:  {"key", "count", "window"},
	tagging.Novelty:   {"key", "field", "lookback", "no_history"},
	tagging.Outlier:   {"key", "field", "lookback", "method", "threshold", "min_history"},
	tagging.Condition: {"expr"},
}

// Defaults of optional rule keys.
const (
	defaultOutlierMethod     = tagging.MethodMAD
	defaultOutlierThreshold  = 5.0
	defaultOutlierMinHistory = 5
)

// HasRules reports whether the schema declares row rules (and so whether its
// files have the tags column).
func (s *Schema) HasRules() bool { return len(s.Rules) > 0 }

// HistoryRules reports whether any rule looks back over the lake.
func (s *Schema) HistoryRules() bool {
	for i := range s.Rules {
		if s.Rules[i].History() {
			return true
		}
	}
	return false
}

// rules parses the schema's "rules" list or the file "rules_file" names
// (relative to the schema file), after the fields.
func (p *schemaParser) rules(s *Schema, top map[string]entry) *SchemaError {
	e, inline := top["rules"]
	fe, external := top["rules_file"]
	switch {
	case inline && external:
		return p.errAt(fe.Key, `give either "rules" or "rules_file", not both`)
	case inline:
		return p.ruleList(s, e)
	case !external:
		return nil
	}
	name, err := p.str(fe, "schema", "rules_file")
	if err != nil {
		return err
	}
	if name == "" {
		return p.errAt(fe.Key, `"rules_file" is empty`)
	}
	path := name
	if !filepath.IsAbs(path) && p.file != "" {
		path = filepath.Join(filepath.Dir(p.file), name)
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		msg := "cannot read rules file " + path + ": " + rerr.Error()
		if errors.Is(rerr, fs.ErrNotExist) {
			msg = "rules file " + path + " not found (a relative rules_file is read beside the schema file)"
		}
		return p.errAt(fe.Key, "%s", msg)
	}
	s.RulesFile = path
	rp := &schemaParser{file: path}
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return &SchemaError{File: path, Msg: "invalid YAML: " + perr.Error(), err: perr}
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			if body != nil {
				return rp.errAt(d.Body, "only one YAML document is allowed")
			}
			body = d.Body
		}
	}
	if body == nil {
		return &SchemaError{File: path, Msg: `empty rules file: want a mapping with "rules"`}
	}
	m, serr := rp.mapping(body, "rules file", []string{"rules"})
	if serr != nil {
		return serr
	}
	re, ok := m["rules"]
	if !ok {
		return rp.errAt(body, `rules file: missing "rules"`)
	}
	return rp.ruleList(s, re)
}

func (p *schemaParser) ruleList(s *Schema, e entry) *SchemaError {
	seq, ok := e.Value.(*ast.SequenceNode)
	if !ok {
		return p.errAt(e.Key, "\"rules\" must be a list of rules, got %s", yamlnode.Describe(e.Value))
	}
	if len(seq.Values) > tagging.MaxRules {
		return p.errAt(e.Key, "%d rules declared; at most %d are allowed", len(seq.Values), tagging.MaxRules)
	}
	if s.index(TagsColumn) >= 0 {
		return p.errAt(e.Key, "a schema with rules cannot have a field named %q: rule hits are stored in that column", TagsColumn)
	}
	names := map[string]int{}
	for i, n := range seq.Values {
		r, err := p.rule(s, n, i)
		if err != nil {
			return err
		}
		if line, dup := names[r.Name]; dup {
			return p.errAt(n, "duplicate rule name %q (also on line %d): each rule adds its own tag", r.Name, line)
		}
		names[r.Name] = r.Line
		s.Rules = append(s.Rules, *r)
	}
	return nil
}

func (p *schemaParser) rule(s *Schema, n ast.Node, i int) (*tagging.Rule, *SchemaError) {
	what := fmt.Sprintf("rule #%d", i+1)
	if name := peekName(n); name != "" && tagging.ValidateRuleName(name) == nil {
		what = fmt.Sprintf("rule %q", name)
	}
	m, err := p.mapping(n, what, ruleKeys)
	if err != nil {
		return nil, err
	}
	r := &tagging.Rule{Line: yamlnode.Line(n)}
	if l := yamlnode.Line(firstKey(n)); l > 0 {
		r.Line = l
	}
	e, ok := m["name"]
	if !ok {
		return nil, p.errAt(n, `%s: missing "name" (the tag a hit adds)`, what)
	}
	if r.Name, err = p.str(e, what, "name"); err != nil {
		return nil, err
	}
	if verr := tagging.ValidateRuleName(r.Name); verr != nil {
		return nil, p.errAt(e.Key, "%s: %v", what, verr)
	}
	what = fmt.Sprintf("rule %q", r.Name)

	e, ok = m["kind"]
	if !ok {
		return nil, p.errAt(n, `%s: missing "kind" (velocity, novelty, outlier or condition)`, what)
	}
	kind, err := p.str(e, what, "kind")
	if err != nil {
		return nil, err
	}
	r.Kind = tagging.RuleKind(kind)
	allowed, known := ruleKindKeys[r.Kind]
	if !known {
		return nil, p.errAt(e.Key, "%s: unknown kind %q (want velocity, novelty, outlier or condition)", what, kind)
	}
	for k, ke := range m {
		if k != "name" && k != "kind" && !contains(allowed, k) {
			return nil, p.errAt(ke.Key, "%s: %q does not apply to a %s rule (it takes %s)", what, k, r.Kind, strings.Join(allowed, ", "))
		}
	}
	need := func(key string) (entry, *SchemaError) {
		e, ok := m[key]
		if !ok {
			return e, p.errAt(n, "%s: a %s rule needs %q", what, r.Kind, key)
		}
		return e, nil
	}

	if r.Kind == tagging.Condition {
		e, err := need("expr")
		if err != nil {
			return nil, err
		}
		if r.Expr, err = p.str(e, what, "expr"); err != nil {
			return nil, err
		}
		c, cerr := tagging.CompileCondition(r.Expr, s.ExprEnv())
		if cerr != nil {
			return nil, p.errAt(e.Key, "%s: %v", what, cerr)
		}
		r.Compiled = c
		return r, nil
	}

	// History rules.
	if e, err = need("key"); err != nil {
		return nil, err
	}
	if r.Key, err = p.list(e, what, "key"); err != nil {
		return nil, err
	}
	if len(r.Key) == 0 {
		return nil, p.errAt(e.Key, "%s: \"key\" is empty: name the field(s) that group rows, e.g. [customer_id]", what)
	}
	for j, k := range r.Key {
		fi := s.index(k)
		if fi < 0 {
			return nil, p.errAt(e.Key, "%s: key names unknown field %q", what, k)
		}
		if !s.Fields[fi].Stored() {
			return nil, p.errAt(e.Key, "%s: key field %q has pii: drop, so the lake has no history of it", what, k)
		}
		if s.Fields[fi].Type.Kind == KindStringList {
			return nil, p.errAt(e.Key, "%s: key field %q is a list<string>; a rule groups rows by scalar fields", what, k)
		}
		if contains(r.Key[:j], k) {
			return nil, p.errAt(e.Key, "%s: key names field %q twice", what, k)
		}
	}
	if r.Kind != tagging.Velocity {
		e, err := need("field")
		if err != nil {
			return nil, err
		}
		if r.Field, err = p.str(e, what, "field"); err != nil {
			return nil, err
		}
		fi := s.index(r.Field)
		if fi < 0 {
			return nil, p.errAt(e.Key, "%s: field names unknown field %q", what, r.Field)
		}
		f := &s.Fields[fi]
		if !f.Stored() {
			return nil, p.errAt(e.Key, "%s: field %q has pii: drop, so the lake has no history of it", what, r.Field)
		}
		if contains(r.Key, r.Field) {
			return nil, p.errAt(e.Key, "%s: field %q is also in the key", what, r.Field)
		}
		if f.Type.Kind == KindStringList {
			return nil, p.errAt(e.Key, "%s: field %q is a list<string>; a %s rule compares scalar values (a condition rule can test list elements)", what, r.Field, r.Kind)
		}
		if r.Kind == tagging.Outlier && f.Type.Kind != KindInt64 && f.Type.Kind != KindFloat64 && f.Type.Kind != KindDecimal {
			return nil, p.errAt(e.Key, "%s: an outlier rule needs a numeric field (int64, float64 or decimal), %q is %s", what, r.Field, f.Type)
		}
	}
	duration := func(key string) (time.Duration, *SchemaError) {
		e, err := need(key)
		if err != nil {
			return 0, err
		}
		txt, err := p.str(e, what, key)
		if err != nil {
			return 0, err
		}
		d, derr := tagging.ParseDuration(txt)
		if derr != nil {
			return 0, p.errAt(e.Key, "%s: %q: %v", what, key, derr)
		}
		if d%time.Microsecond != 0 {
			return 0, p.errAt(e.Key, "%s: %q must be a whole number of microseconds", what, key)
		}
		if d > 3660*24*time.Hour {
			return 0, p.errAt(e.Key, "%s: %q is longer than 10 years", what, key)
		}
		return d, nil
	}
	integer := func(key string, min int, def int) (int, *SchemaError) {
		e, ok := m[key]
		if !ok {
			if def >= 0 {
				return def, nil
			}
			return 0, p.errAt(n, "%s: a %s rule needs %q", what, r.Kind, key)
		}
		txt, err := p.str(e, what, key)
		if err != nil {
			return 0, err
		}
		v, perr := strconv.Atoi(txt)
		if perr != nil || v < min || v > 1_000_000 {
			return 0, p.errAt(e.Key, "%s: %q must be a whole number from %d to 1000000, got %q", what, key, min, txt)
		}
		return v, nil
	}

	switch r.Kind {
	case tagging.Velocity:
		if r.Count, err = integer("count", 2, -1); err != nil {
			return nil, err
		}
		if r.Window, err = duration("window"); err != nil {
			return nil, err
		}
	case tagging.Novelty:
		if r.Lookback, err = duration("lookback"); err != nil {
			return nil, err
		}
		r.NoHistory = tagging.NoHistorySkip
		if e, ok := m["no_history"]; ok {
			if r.NoHistory, err = p.str(e, what, "no_history"); err != nil {
				return nil, err
			}
			if r.NoHistory != tagging.NoHistorySkip && r.NoHistory != tagging.NoHistoryTag {
				return nil, p.errAt(e.Key, "%s: no_history must be %q or %q, got %q", what, tagging.NoHistorySkip, tagging.NoHistoryTag, r.NoHistory)
			}
		}
	case tagging.Outlier:
		if r.Lookback, err = duration("lookback"); err != nil {
			return nil, err
		}
		r.Method = defaultOutlierMethod
		if e, ok := m["method"]; ok {
			if r.Method, err = p.str(e, what, "method"); err != nil {
				return nil, err
			}
			if r.Method != tagging.MethodMAD && r.Method != tagging.MethodZScore {
				return nil, p.errAt(e.Key, "%s: method must be %q or %q, got %q", what, tagging.MethodMAD, tagging.MethodZScore, r.Method)
			}
		}
		r.Threshold = defaultOutlierThreshold
		if e, ok := m["threshold"]; ok {
			txt, err := p.str(e, what, "threshold")
			if err != nil {
				return nil, err
			}
			v, perr := strconv.ParseFloat(txt, 64)
			if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				return nil, p.errAt(e.Key, "%s: threshold must be a positive number, got %q", what, txt)
			}
			r.Threshold = v
		}
		if r.MinHistory, err = integer("min_history", 2, defaultOutlierMinHistory); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ExprEnv returns the environment condition rules are compiled against: each
// stored field with a value of the Go type its values have in expressions
// (string, int for int64, float64 for float64 and decimal, bool, time.Time
// for timestamp and date).
func (s *Schema) ExprEnv() map[string]any {
	env := make(map[string]any, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		if !f.Stored() {
			continue
		}
		env[f.Name] = ExprValue(f, Value{})
	}
	return env
}

// ExprValue converts a value of f to what expressions see: nil for null,
// otherwise string, int, float64 (decimals too), bool, time.Time (UTC) or,
// for list<string>, []any of strings (so that `"vip" in labels` works).
func ExprValue(f *Field, v Value) any {
	if v.Null {
		return nil
	}
	switch f.Type.Kind {
	case KindString:
		return v.S
	case KindInt64:
		return int(v.I)
	case KindFloat64:
		return v.Float()
	case KindDecimal:
		return float64(v.I) / pow10[f.Type.Scale]
	case KindBool:
		return v.I != 0
	case KindTimestamp:
		return time.UnixMicro(v.I).UTC()
	case KindDate:
		return time.Unix(v.I*86400, 0).UTC()
	case KindStringList:
		out := make([]any, 0, v.I)
		for e := range v.ListElems() {
			out = append(out, e)
		}
		return out
	}
	return nil
}

var pow10 = func() [19]float64 {
	var p [19]float64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()
