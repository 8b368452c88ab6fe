package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/txlake/txlake/schemas/yamlnode"
	"github.com/txlake/txlake/tagging"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// SchemaError is a problem with a schema file: it cannot be read, is not
// valid YAML, or breaks a rule of the schema format. Line and Column are
// 1-based and 0 when unknown. Every SchemaError is a configuration error
// (ConfigError reports true), which the CLI maps to exit code 2.
type SchemaError struct {
	File         string // the file name as given to Load or Parse ("" when none)
	Line, Column int
	Msg          string
	err          error // underlying cause, if any (see Unwrap)
}

// Error renders the error as "schema FILE:LINE:COL: MSG", omitting the line
// and column when they are unknown.
func (e *SchemaError) Error() string {
	var b strings.Builder
	b.WriteString("schema")
	if e.File != "" || e.Line > 0 {
		b.WriteByte(' ')
		if e.File != "" {
			b.WriteString(e.File)
		} else {
			b.WriteString("<input>")
		}
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(e.Column))
			}
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigError marks the error as a usage or configuration error (exit 2).
func (e *SchemaError) ConfigError() bool { return true }

// Unwrap returns the underlying cause (for example an *fs.PathError from
// Load), or nil.
func (e *SchemaError) Unwrap() error { return e.err }

// Load reads and parses the schema file at path. Every error it returns,
// including a missing or unreadable file, is a *SchemaError. The returned
// Schema's File is path.
func Load(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := "cannot read schema file: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "schema file not found"
		}
		return nil, &SchemaError{File: path, Msg: msg, err: err}
	}
	return Parse(path, data)
}

// Parse parses and validates a schema file's contents. file is used in error
// messages and stored in Schema.File; it may be "". Every error is a
// *SchemaError naming the field and the line of the offending key.
//
// On success every default is filled in: From ([Name]), Formats ([rfc3339]
// for timestamps, ["2006-01-02"] for dates), PII ("keep"), Dictionary (true
// for strings with an enum), and EventIndex, KeyIndex, FromPaths, Line and
// Fingerprint are set. Min and max are stored in canonical form in MinText
// and MaxText.
//
// The file is strict: unknown keys, duplicate keys, YAML anchors, aliases and
// tags, and multiple documents are errors.
func Parse(file string, data []byte) (s *Schema, err error) {
	p := &schemaParser{file: file}
	defer func() {
		// The YAML library is outside input's first reader; never let a bug
		// in it crash the CLI.
		if r := recover(); r != nil {
			s, err = nil, &SchemaError{File: file, Msg: fmt.Sprintf("cannot parse YAML (internal parser error: %v)", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		var se *yaml.SyntaxError
		if errors.As(perr, &se) && se.Token != nil {
			return nil, &SchemaError{File: file, Line: se.Token.Position.Line, Column: se.Token.Position.Column,
				Msg: "invalid YAML: " + se.Message, err: perr}
		}
		return nil, &SchemaError{File: file, Msg: "invalid YAML: " + perr.Error(), err: perr}
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			return nil, p.errAt(d.Body, "only one YAML document is allowed")
		}
		body = d.Body
	}
	if body == nil {
		return nil, &SchemaError{File: file, Msg: "empty schema file"}
	}
	s, serr := p.schema(body)
	if serr != nil {
		return nil, serr
	}
	s.File = file
	return s, nil
}

var (
	tableNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	decimalRE   = regexp.MustCompile(`^decimal\(\s*([0-9]+)\s*,\s*([0-9]+)\s*\)$`)
)

var topKeys = []string{"table", "event_time", "key", "fields", "update_policy", "version", "rules", "rules_file"}

var fieldKeys = []string{"name", "type", "from", "required", "normalize", "enum", "min", "max",
	"pattern", "formats", "tags", "pii", "dictionary"}

// Named timestamp formats; anything else must be a Go reference layout.
var namedTimeFormats = []string{"rfc3339", "unix", "unix_ms", "unix_us", "unix_ns"}

type schemaParser struct {
	file string
}

func (p *schemaParser) errAt(n ast.Node, format string, args ...any) *SchemaError {
	e := &SchemaError{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// mapping checks that n is a mapping whose keys are all in allowed and
// unique, and returns its entries by key. what names the mapping in messages
// ("schema", `field "amount"`).
func (p *schemaParser) mapping(n ast.Node, what string, allowed []string) (map[string]entry, *SchemaError) {
	m, err := yamlnode.Mapping(n, what, schemaFiles, allowed)
	if err != nil {
		return nil, p.at(err)
	}
	return m, nil
}

// plain rejects YAML features the schema format does not use.
func (p *schemaParser) plain(n ast.Node, what string) *SchemaError {
	if err := yamlnode.Plain(n, what, schemaFiles); err != nil {
		return p.at(err)
	}
	return nil
}

// at turns a yamlnode error into a SchemaError of this file.
func (p *schemaParser) at(e *yamlnode.Error) *SchemaError {
	return &SchemaError{File: p.file, Line: e.Line, Column: e.Column, Msg: e.Msg}
}

// entry is one key of a mapping with its key and value nodes.
type entry = yamlnode.Entry

const schemaFiles = "schema files"

func (p *schemaParser) str(e entry, what, key string) (string, *SchemaError) {
	s, ok := yamlnode.ScalarText(e.Value)
	if !ok {
		return "", p.errAt(e.Key, "%s: %q must be a string, got %s", what, key, yamlnode.Describe(e.Value))
	}
	return s, nil
}

func (p *schemaParser) boolean(e entry, what, key string) (bool, *SchemaError) {
	b, ok := e.Value.(*ast.BoolNode)
	if !ok {
		return false, p.errAt(e.Key, "%s: %q must be true or false, got %s", what, key, yamlnode.Describe(e.Value))
	}
	return b.Value, nil
}

func (p *schemaParser) list(e entry, what, key string) ([]string, *SchemaError) {
	seq, ok := e.Value.(*ast.SequenceNode)
	if !ok {
		return nil, p.errAt(e.Key, "%s: %q must be a list such as [a, b], got %s", what, key, yamlnode.Describe(e.Value))
	}
	out := make([]string, 0, len(seq.Values))
	for i, v := range seq.Values {
		if err := p.plain(v, what); err != nil {
			return nil, err
		}
		s, ok := yamlnode.ScalarText(v)
		if !ok {
			return nil, p.errAt(e.Key, "%s: %q entry %d must be a string, got %s", what, key, i+1, yamlnode.Describe(v))
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *schemaParser) schema(body ast.Node) (*Schema, *SchemaError) {
	top, err := p.mapping(body, "schema", topKeys)
	if err != nil {
		return nil, err
	}
	s := &Schema{EventIndex: -1}

	e, ok := top["table"]
	if !ok {
		return nil, p.errAt(nil, `missing "table"`)
	}
	if s.Table, err = p.str(e, "schema", "table"); err != nil {
		return nil, err
	}
	switch {
	case s.Table == "":
		return nil, p.errAt(e.Key, "table name is empty")
	case !tableNameRE.MatchString(s.Table):
		return nil, p.errAt(e.Key, "table name %q is not valid: it must match ^[a-z_][a-z0-9_]{0,62}$ (it becomes a path segment in the lake)", s.Table)
	case strings.HasPrefix(s.Table, "_"):
		return nil, p.errAt(e.Key, "table name %q is reserved: names starting with \"_\" hold lake metadata (_runs, _quarantine)", s.Table)
	}

	fe, ok := top["fields"]
	if !ok {
		return nil, p.errAt(nil, `missing "fields"`)
	}
	seq, isSeq := fe.Value.(*ast.SequenceNode)
	if !isSeq {
		return nil, p.errAt(fe.Key, "\"fields\" must be a list of fields, got %s", yamlnode.Describe(fe.Value))
	}
	if len(seq.Values) == 0 {
		return nil, p.errAt(fe.Key, "\"fields\" is empty: declare at least one field")
	}
	byName := map[string]int{} // lower-cased name -> index
	for i, fn := range seq.Values {
		f, err := p.field(fn, i)
		if err != nil {
			return nil, err
		}
		if j, dup := byName[strings.ToLower(f.Name)]; dup {
			return nil, p.errAt(fn, "duplicate field name %q (field %q on line %d; names are compared case-insensitively because SQL engines fold case)",
				f.Name, s.Fields[j].Name, s.Fields[j].Line)
		}
		byName[strings.ToLower(f.Name)] = len(s.Fields)
		s.Fields = append(s.Fields, *f)
	}

	e, ok = top["event_time"]
	if !ok {
		return nil, p.errAt(nil, `missing "event_time": name the timestamp or date field that partitions the rows`)
	}
	if s.EventTime, err = p.str(e, "schema", "event_time"); err != nil {
		return nil, err
	}
	s.EventIndex = s.index(s.EventTime)
	if s.EventIndex < 0 {
		return nil, p.errAt(e.Key, "event_time names unknown field %q", s.EventTime)
	}
	ef := &s.Fields[s.EventIndex]
	if ef.Type.Kind != KindTimestamp && ef.Type.Kind != KindDate {
		return nil, p.errAt(e.Key, "event_time field %q must be a timestamp or date, not %s", ef.Name, ef.Type)
	}
	if !ef.Required {
		return nil, p.errAt(e.Key, "field %q: event_time field must be required (add \"required: true\"): every row needs a partition date", ef.Name)
	}

	if e, ok := top["key"]; ok {
		if s.Key, err = p.list(e, "schema", "key"); err != nil {
			return nil, err
		}
		for _, k := range s.Key {
			i := s.index(k)
			if i < 0 {
				return nil, p.errAt(e.Key, "key names unknown field %q", k)
			}
			if contains(s.KeyIndex, i) {
				return nil, p.errAt(e.Key, "key names field %q twice", k)
			}
			if s.Fields[i].Type.Kind == KindStringList {
				return nil, p.errAt(e.Key, "field %q: a list<string> field cannot be part of the key", k)
			}
			switch s.Fields[i].PII {
			case PIIDrop:
				return nil, p.errAt(e.Key, "field %q: key field cannot have pii: drop (it would not be stored)", k)
			case PIIMask:
				return nil, p.errAt(e.Key, "field %q: key field cannot have pii: mask (masked values collide); use pii: hash", k)
			}
			s.KeyIndex = append(s.KeyIndex, i)
		}
	}
	if err := p.updatePolicy(s, top); err != nil {
		return nil, err
	}
	if err := p.rules(s, top); err != nil {
		return nil, err
	}
	s.Fingerprint = s.fingerprint()
	return s, nil
}

func (s *Schema) index(name string) int {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

func (p *schemaParser) field(n ast.Node, i int) (*Field, *SchemaError) {
	what := fmt.Sprintf("field #%d", i+1)
	if name := peekName(n); fieldNameRE.MatchString(name) {
		what = fmt.Sprintf("field %q", name)
	}
	m, err := p.mapping(n, what, fieldKeys)
	if err != nil {
		return nil, err
	}
	f := &Field{Line: yamlnode.Line(n), PII: PIIKeep}
	if l := yamlnode.Line(firstKey(n)); l > 0 {
		f.Line = l
	}
	e, ok := m["name"]
	if !ok {
		return nil, p.errAt(n, `%s: missing "name"`, what)
	}
	if f.Name, err = p.str(e, what, "name"); err != nil {
		return nil, err
	}
	if !fieldNameRE.MatchString(f.Name) {
		return nil, p.errAt(e.Key, "%s: field name %q is not valid: it must match ^[A-Za-z_][A-Za-z0-9_]*$", what, f.Name)
	}
	if strings.EqualFold(f.Name, "dt") {
		return nil, p.errAt(e.Key, "%s: field name %q is reserved for the partition column", what, f.Name)
	}
	what = fmt.Sprintf("field %q", f.Name)

	e, ok = m["type"]
	if !ok {
		return nil, p.errAt(n, `%s: missing "type"`, what)
	}
	ts, err := p.str(e, what, "type")
	if err != nil {
		return nil, err
	}
	var msg string
	if f.Type, msg = parseType(ts); msg != "" {
		return nil, p.errAt(e.Key, "%s: %s", what, msg)
	}
	kind := f.Type.Kind
	isString := kind == KindString || kind == KindStringList // list options apply to each element
	isTime := kind == KindTimestamp || kind == KindDate
	isNumeric := kind == KindInt64 || kind == KindFloat64 || kind == KindDecimal
	notFor := func(e entry, key, only string) *SchemaError {
		return p.errAt(e.Key, "%s: %q applies only to %s fields, not %s", what, key, only, f.Type)
	}

	if e, ok := m["required"]; ok {
		if f.Required, err = p.boolean(e, what, "required"); err != nil {
			return nil, err
		}
	}

	f.From = []string{f.Name}
	if e, ok := m["from"]; ok {
		if f.From, err = p.list(e, what, "from"); err != nil {
			return nil, err
		}
		if len(f.From) == 0 {
			return nil, p.errAt(e.Key, "%s: \"from\" is empty (omit it to use the field name)", what)
		}
		for _, src := range f.From {
			if src == "" {
				return nil, p.errAt(e.Key, "%s: \"from\" has an empty entry", what)
			}
			if contains(strings.Split(src, "."), "") {
				return nil, p.errAt(e.Key, "%s: \"from\" entry %q has an empty path segment", what, src)
			}
		}
	}
	for _, src := range f.From {
		f.FromPaths = append(f.FromPaths, strings.Split(src, "."))
	}

	if e, ok := m["normalize"]; ok {
		if !isString {
			return nil, notFor(e, "normalize", "string and list<string>")
		}
		if f.Normalize, err = p.list(e, what, "normalize"); err != nil {
			return nil, err
		}
		for _, op := range f.Normalize {
			switch op {
			case "trim", "upper", "lower", "nfc":
			default:
				return nil, p.errAt(e.Key, "%s: unknown normalize step %q (use trim, upper, lower or nfc)", what, op)
			}
		}
	}

	if e, ok := m["enum"]; ok {
		if !isString {
			return nil, notFor(e, "enum", "string and list<string>")
		}
		if f.Enum, err = p.list(e, what, "enum"); err != nil {
			return nil, err
		}
		if len(f.Enum) == 0 {
			return nil, p.errAt(e.Key, "%s: \"enum\" is empty: no value could pass", what)
		}
	}

	for _, key := range []string{"min", "max"} {
		e, ok := m[key]
		if !ok {
			continue
		}
		if !isNumeric {
			return nil, notFor(e, key, "int64, float64 and decimal")
		}
		text, ok := yamlnode.ScalarText(e.Value)
		if !ok {
			return nil, p.errAt(e.Key, "%s: %q must be a number, got %s", what, key, yamlnode.Describe(e.Value))
		}
		canon, fv, msg := canonicalBound(f.Type, text)
		if msg != "" {
			return nil, p.errAt(e.Key, "%s: %s %s", what, key, msg)
		}
		if key == "min" {
			f.MinText, f.Min = canon, &fv
		} else {
			f.MaxText, f.Max = canon, &fv
		}
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return nil, p.errAt(m["min"].Key, "%s: min %s is greater than max %s", what, f.MinText, f.MaxText)
	}

	if e, ok := m["pattern"]; ok {
		if !isString {
			return nil, notFor(e, "pattern", "string and list<string>")
		}
		if f.PatternText, err = p.str(e, what, "pattern"); err != nil {
			return nil, err
		}
		re, cerr := regexp.Compile(f.PatternText)
		if cerr != nil {
			return nil, p.errAt(e.Key, "%s: invalid pattern: %v", what, cerr)
		}
		f.Pattern = re
	}

	switch kind {
	case KindTimestamp:
		f.Formats = []string{"rfc3339"}
	case KindDate:
		f.Formats = []string{"2006-01-02"}
	}
	if e, ok := m["formats"]; ok {
		if !isTime {
			return nil, notFor(e, "formats", "timestamp and date")
		}
		if f.Formats, err = p.list(e, what, "formats"); err != nil {
			return nil, err
		}
		if len(f.Formats) == 0 {
			return nil, p.errAt(e.Key, "%s: \"formats\" is empty (omit it for the default)", what)
		}
		for _, fm := range f.Formats {
			if msg := checkFormat(kind, fm); msg != "" {
				return nil, p.errAt(e.Key, "%s: %s", what, msg)
			}
		}
	}

	if e, ok := m["tags"]; ok {
		if f.Tags, err = p.list(e, what, "tags"); err != nil {
			return nil, err
		}
		for _, t := range f.Tags {
			if t == "" {
				return nil, p.errAt(e.Key, "%s: empty tag", what)
			}
			if strings.ContainsFunc(t, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
				return nil, p.errAt(e.Key, "%s: tag %q must not contain whitespace or commas", what, t)
			}
			if err := tagging.Validate(t); err != nil {
				return nil, p.errAt(e.Key, "%s: %v", what, err)
			}
		}
	}

	if e, ok := m["pii"]; ok {
		if !isString {
			return nil, notFor(e, "pii", "string and list<string>")
		}
		if f.PII, err = p.str(e, what, "pii"); err != nil {
			return nil, err
		}
		switch f.PII {
		case PIIKeep, PIIHash, PIIMask, PIIDrop:
		default:
			return nil, p.errAt(e.Key, "%s: unknown pii policy %q (use keep, hash, mask or drop)", what, f.PII)
		}
	}

	f.Dictionary = isString && len(f.Enum) > 0
	if e, ok := m["dictionary"]; ok {
		if f.Dictionary, err = p.boolean(e, what, "dictionary"); err != nil {
			return nil, err
		}
		if f.Dictionary && kind == KindBool {
			return nil, p.errAt(e.Key, "%s: dictionary encoding is not supported for bool fields", what)
		}
	}
	return f, nil
}

// peekName returns the name of a field mapping, if it has a plain one, so
// that errors in keys before "name" can name the field.
func peekName(n ast.Node) string {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return ""
	}
	for _, mv := range m.Values {
		if k, _ := yamlnode.ScalarText(mv.Key); k == "name" {
			v, _ := yamlnode.ScalarText(mv.Value)
			return v
		}
	}
	return ""
}

func firstKey(n ast.Node) ast.Node {
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		return m.Values[0].Key
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		return mv.Key
	}
	return nil
}

// parseType parses a type as written in a schema file; msg is non-empty when
// it is not valid.
func parseType(s string) (t Type, msg string) {
	switch s {
	case "string":
		return Type{Kind: KindString}, ""
	case "int64":
		return Type{Kind: KindInt64}, ""
	case "float64":
		return Type{Kind: KindFloat64}, ""
	case "bool":
		return Type{Kind: KindBool}, ""
	case "timestamp":
		return Type{Kind: KindTimestamp}, ""
	case "date":
		return Type{Kind: KindDate}, ""
	case "list<string>":
		return Type{Kind: KindStringList}, ""
	}
	sm := decimalRE.FindStringSubmatch(s)
	if sm == nil {
		return t, fmt.Sprintf("unknown type %q (use string, int64, float64, bool, decimal(p,s), timestamp, date or list<string>)", s)
	}
	p, perr := strconv.Atoi(sm[1])
	sc, serr := strconv.Atoi(sm[2])
	switch {
	case perr != nil || p > 18:
		return t, "decimal precision above 18 is not supported"
	case p < 1:
		return t, "decimal precision must be at least 1"
	case serr != nil || sc > p:
		return t, fmt.Sprintf("decimal scale %s is larger than precision %d", sm[2], p)
	}
	return Type{Kind: KindDecimal, Precision: p, Scale: sc}, ""
}

// canonicalBound validates a min/max bound for a field type and returns its
// canonical text and float value; msg is non-empty when it is not valid.
func canonicalBound(t Type, text string) (canon string, f float64, msg string) {
	text = strings.TrimSpace(text)
	switch t.Kind {
	case KindInt64:
		v, derr := parseDecimalSlow([]byte(text), 0, 19)
		switch derr {
		case decSyntax:
			return "", 0, fmt.Sprintf("%q is not a number", text)
		case decScale:
			return "", 0, fmt.Sprintf("%s must be an integer for int64 fields", text)
		case decRange:
			return "", 0, fmt.Sprintf("%s is out of int64 range", text)
		}
		return strconv.FormatInt(v, 10), float64(v), ""
	case KindDecimal:
		v, derr := parseDecimalSlow([]byte(text), t.Scale, t.Precision-t.Scale)
		switch derr {
		case decSyntax:
			return "", 0, fmt.Sprintf("%q is not a number", text)
		case decScale:
			return "", 0, fmt.Sprintf("%s has more than %d decimal places", text, t.Scale)
		case decRange:
			return "", 0, fmt.Sprintf("%s exceeds %s", text, t)
		}
		c := formatDecimal(v, t.Scale)
		fv, _ := strconv.ParseFloat(c, 64)
		return c, fv, ""
	default: // float64
		fv, err := strconv.ParseFloat(text, 64)
		if err != nil || fv != fv || fv > maxFloat || fv < -maxFloat {
			return "", 0, fmt.Sprintf("%q is not a finite number", text)
		}
		return strconv.FormatFloat(fv, 'f', -1, 64), fv, ""
	}
}

const maxFloat = 1.7976931348623157e308

// formatDecimal renders an unscaled value with scale digits after the point,
// without trailing fractional zeros ("1000000", "0.5", "-12.25").
func formatDecimal(v int64, scale int) string {
	s := strconv.FormatInt(v, 10)
	if scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if neg && s != "0" {
		s = "-" + s
	}
	return s
}

// checkFormat validates one entry of formats; msg is non-empty when invalid.
func checkFormat(k Kind, f string) string {
	named := f != "" && f[0] >= 'a' && f[0] <= 'z' && strings.IndexFunc(f, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) < 0
	if named {
		if k == KindDate {
			return fmt.Sprintf("unknown date format %q: date formats are Go layouts such as \"2006-01-02\"", f)
		}
		if !contains(namedTimeFormats, f) {
			return fmt.Sprintf("unknown format %q (use rfc3339, unix, unix_ms, unix_us, unix_ns or a Go layout such as \"2006-01-02 15:04:05\")", f)
		}
		return ""
	}
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	out := ref.Format(f)
	if f == "" || out == f {
		return fmt.Sprintf("format %q is neither a known name nor a Go time layout (such as \"2006-01-02 15:04:05\")", f)
	}
	if _, err := time.ParseInLocation(f, out, time.UTC); err != nil {
		return fmt.Sprintf("format %q is not a usable Go time layout: %v", f, err)
	}
	return ""
}

// HasPIIHash reports whether any field has pii: hash, that is whether
// NewCoercer needs a PII key.
func (s *Schema) HasPIIHash() bool {
	for i := range s.Fields {
		if s.Fields[i].PII == PIIHash {
			return true
		}
	}
	return false
}

// fingerprintDoc is the canonical form hashed into Schema.Fingerprint. Its
// shape must not change: a change would alter every fingerprint.
type fingerprintDoc struct {
	Table     string             `json:"table"`
	EventTime string             `json:"event_time"`
	Key       []string           `json:"key"`
	Fields    []fingerprintField `json:"fields"`
	// Rules is omitted when empty, so schemas without rules keep the
	// fingerprints they had before rules existed.
	Rules []RuleDoc `json:"rules,omitempty"`
	// Omitted when empty, so schemas without them keep their fingerprint.
	UpdatePolicy string `json:"update_policy,omitempty"`
	Version      string `json:"version,omitempty"`
}

type fingerprintField struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	From       []string `json:"from"`
	Required   bool     `json:"required"`
	Normalize  []string `json:"normalize"`
	Enum       []string `json:"enum"`
	Min        string   `json:"min"`
	Max        string   `json:"max"`
	Pattern    string   `json:"pattern"`
	Formats    []string `json:"formats"`
	Tags       []string `json:"tags"`
	PII        string   `json:"pii"`
	Dictionary bool     `json:"dictionary"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Schema) fingerprint() string {
	d := fingerprintDoc{Table: s.Table, EventTime: s.EventTime, Key: nonNil(s.Key), Version: s.Version}
	if s.UpdatePolicy == UpdateReplace {
		d.UpdatePolicy = s.UpdatePolicy
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		d.Fields = append(d.Fields, fingerprintField{
			Name: f.Name, Type: f.Type.String(), From: nonNil(f.From), Required: f.Required,
			Normalize: nonNil(f.Normalize), Enum: nonNil(f.Enum), Min: f.MinText, Max: f.MaxText,
			Pattern: f.PatternText, Formats: nonNil(f.Formats), Tags: nonNil(f.Tags), PII: f.PII,
			Dictionary: f.Dictionary,
		})
	}
	d.Rules = s.ruleDocs()
	b, err := json.Marshal(d)
	if err != nil {
		panic("schemas: fingerprint: " + err.Error()) // only strings, bools and slices: cannot fail
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
