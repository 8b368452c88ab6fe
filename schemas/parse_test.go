package schemas

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const goodSchema = `table: payments
event_time: created_at
key: [id]
fields:
  - name: id
    type: string
    required: true
  - name: amount
    type: decimal(18,2)
    from: [amount, amt]
    min: 0
    max: 1000000.50
  - name: created_at
    type: timestamp
    required: true
`

func TestLoadShipped(t *testing.T) {
	s, err := Load("transactions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Table != "transactions" || s.Fields[s.EventIndex].Name != "created_at" || len(s.KeyIndex) != 1 || s.KeyIndex[0] != 0 {
		t.Fatalf("unexpected schema %+v", s)
	}
	if !strings.HasPrefix(s.Fingerprint, "sha256:") || len(s.Fingerprint) != 7+64 {
		t.Fatalf("fingerprint %q", s.Fingerprint)
	}
	mc := s.Fields[s.index("merchant_category")]
	if !mc.Dictionary || mc.Line == 0 {
		t.Fatalf("merchant_category: dictionary %v line %d", mc.Dictionary, mc.Line)
	}
	m := s.Fields[s.index("merchant_id")]
	if len(m.FromPaths) != 2 || strings.Join(m.FromPaths[0], "/") != "merchant/id" {
		t.Fatalf("from paths %q", m.FromPaths)
	}
	if s.HasPIIHash() {
		t.Fatal("shipped schema has no pii: hash")
	}
}

func TestParseDefaults(t *testing.T) {
	s, err := Parse("p.yaml", []byte(goodSchema))
	if err != nil {
		t.Fatal(err)
	}
	id, amt, ts := s.Fields[0], s.Fields[1], s.Fields[2]
	if strings.Join(id.From, ",") != "id" || id.PII != PIIKeep || id.Dictionary || id.Line != 5 {
		t.Errorf("id: %+v", id)
	}
	if amt.Type != (Type{Kind: KindDecimal, Precision: 18, Scale: 2}) || amt.MinText != "0" || amt.MaxText != "1000000.5" ||
		*amt.Max != 1000000.5 || strings.Join(amt.From, ",") != "amount,amt" {
		t.Errorf("amount: %+v", amt)
	}
	if strings.Join(ts.Formats, ",") != "rfc3339" || s.EventIndex != 2 {
		t.Errorf("created_at: %+v", ts)
	}
	if s.File != "p.yaml" {
		t.Errorf("file %q", s.File)
	}
	// Formatting and comments do not change the fingerprint; rules do.
	s2, err := Parse("", []byte("# comment\n"+strings.ReplaceAll(goodSchema, "[amount, amt]", "[ amount,   amt ] # x")))
	if err != nil {
		t.Fatal(err)
	}
	if s2.Fingerprint != s.Fingerprint {
		t.Error("fingerprint changed with formatting")
	}
	s3, err := Parse("", []byte(strings.Replace(goodSchema, "min: 0", "min: 1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if s3.Fingerprint == s.Fingerprint {
		t.Error("fingerprint did not change with min")
	}
	date, err := Parse("", []byte("table: t\nevent_time: d\nfields:\n  - name: d\n    type: date\n    required: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(date.Fields[0].Formats, ",") != "2006-01-02" {
		t.Errorf("date formats %q", date.Fields[0].Formats)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var se *SchemaError
	if !errors.As(err, &se) || se.Line != 0 || !se.ConfigError() || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("got %v", err)
	}
}

func TestSchemaErrorFormat(t *testing.T) {
	e := &SchemaError{File: "transactions.yaml", Line: 12, Column: 5, Msg: `field "amount": unknown type "decimal(18)"`}
	if got := e.Error(); got != `schema transactions.yaml:12:5: field "amount": unknown type "decimal(18)"` {
		t.Fatal(got)
	}
	if got := (&SchemaError{File: "a.yaml", Msg: "x"}).Error(); got != "schema a.yaml: x" {
		t.Fatal(got)
	}
}

// schemaWith builds a valid schema with extra lines added to field "x"
// (declared on line 5, its keys from line 6 on).
func schemaWith(xType string, extra ...string) string {
	var b strings.Builder
	b.WriteString("table: t\nevent_time: ts\nkey: [x]\nfields:\n  - name: x\n    type: " + xType + "\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	b.WriteString("  - name: ts\n    type: timestamp\n    required: true\n")
	return b.String()
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		line             int
	}{
		{"typo key", schemaWith("string", "requird: true"), `field "x": unknown key "requird" (did you mean "required"?)`, 7},
		{"top typo", "tabel: t\n", `unknown key "tabel"`, 1},
		{"unknown type", schemaWith("decimal(18)"), `field "x": unknown type "decimal(18)"`, 6},
		{"precision", schemaWith("decimal(19,2)"), "decimal precision above 18 is not supported", 6},
		{"scale>p", schemaWith("decimal(4,5)"), "scale 5 is larger than precision 4", 6},
		{"p zero", schemaWith("decimal(0,0)"), "precision must be at least 1", 6},
		{"dup field", schemaWith("string") + "  - name: X\n    type: int64\n", `duplicate field name "X"`, 10},
		{"empty table", "table: ''\nevent_time: a\nfields: []\n", "table name is empty", 1},
		{"table dotdot", "table: ../x\n", "table name \"../x\" is not valid", 1},
		{"table upper", "table: Tx\n", "is not valid", 1},
		{"table reserved", "table: _runs\n", "reserved", 1},
		{"table missing", "fields: []\n", `missing "table"`, 0},
		{"no fields", "table: t\nevent_time: a\nfields: []\n", `"fields" is empty`, 3},
		{"bad field name", "table: t\nevent_time: a\nfields:\n  - name: 'a-b'\n    type: string\n", `field name "a-b" is not valid`, 4},
		{"dt reserved", "table: t\nevent_time: a\nfields:\n  - name: dt\n    type: string\n", "reserved for the partition column", 4},
		{"missing type", "table: t\nevent_time: a\nfields:\n  - name: a\n", `field "a": missing "type"`, 4},
		{"event_time unknown", strings.Replace(schemaWith("string"), "event_time: ts", "event_time: nope", 1), `event_time names unknown field "nope"`, 2},
		{"event_time type", strings.Replace(schemaWith("string"), "event_time: ts", "event_time: x", 1), "must be a timestamp or date", 2},
		{"event_time not required", strings.Replace(schemaWith("string"), "    required: true\n", "", 1), "event_time field must be required", 2},
		{"event_time missing", "table: t\nfields:\n  - name: a\n    type: string\n", `missing "event_time"`, 0},
		{"key unknown", strings.Replace(schemaWith("string"), "key: [x]", "key: [x, y]", 1), `key names unknown field "y"`, 3},
		{"key twice", strings.Replace(schemaWith("string"), "key: [x]", "key: [x, x]", 1), "twice", 3},
		{"key drop", schemaWith("string", "pii: drop"), `field "x": key field cannot have pii: drop`, 3},
		{"key mask", schemaWith("string", "pii: mask"), "key field cannot have pii: mask", 3},
		{"key not list", strings.Replace(schemaWith("string"), "key: [x]", "key: x", 1), `"key" must be a list`, 3},
		{"normalize unknown", schemaWith("string", "normalize: [trim, title]"), `unknown normalize step "title"`, 7},
		{"normalize int", schemaWith("int64", "normalize: [trim]"), `field "x": "normalize" applies only to string and list<string> fields, not int64`, 7},
		{"enum int", schemaWith("int64", "enum: [1, 2]"), `"enum" applies only to string`, 7},
		{"enum empty", schemaWith("string", "enum: []"), `"enum" is empty`, 7},
		{"min on string", schemaWith("string", "min: 0"), `"min" applies only to int64, float64 and decimal`, 7},
		{"min>max", schemaWith("int64", "min: 5", "max: 1"), "min 5 is greater than max 1", 7},
		{"min not number", schemaWith("float64", "min: abc"), `min "abc" is not a finite number`, 7},
		{"min fraction int", schemaWith("int64", "min: 0.5"), "must be an integer", 7},
		{"min scale decimal", schemaWith("decimal(10,2)", "min: 0.001"), "more than 2 decimal places", 7},
		{"max range decimal", schemaWith("decimal(4,2)", "max: 100"), "exceeds decimal(4,2)", 7},
		{"bad regex", schemaWith("string", "pattern: '^[a-'"), "invalid pattern", 7},
		{"pattern int", schemaWith("int64", "pattern: '^1$'"), `"pattern" applies only to string`, 7},
		{"formats on string", schemaWith("string", "formats: [rfc3339]"), `"formats" applies only to timestamp and date`, 7},
		{"unknown format", strings.Replace(schemaWith("string"), "    required: true\n", "    required: true\n    formats: [rfc3339, iso8601]\n", 1), `unknown format "iso8601"`, 10},
		{"not a layout", strings.Replace(schemaWith("string"), "    required: true\n", "    required: true\n    formats: ['hello world']\n", 1), "neither a known name nor a Go time layout", 10},
		{"date named", "table: t\nevent_time: d\nfields:\n  - name: d\n    type: date\n    required: true\n    formats: [rfc3339]\n", "date formats are Go layouts", 7},
		{"pii unknown", schemaWith("string", "pii: encrypt"), `unknown pii policy "encrypt"`, 7},
		{"pii int", schemaWith("int64", "pii: hash"), `"pii" applies only to string`, 7},
		{"empty tag", schemaWith("string", "tags: ['']"), "empty tag", 7},
		{"tag space", schemaWith("string", "tags: ['a b']"), "must not contain whitespace or commas", 7},
		{"tag comma", schemaWith("string", "tags: ['a,b']"), "must not contain whitespace or commas", 7},
		{"from empty entry", schemaWith("string", "from: ['']"), `"from" has an empty entry`, 7},
		{"from empty segment", schemaWith("string", "from: [a..b]"), `"from" entry "a..b" has an empty path segment`, 7},
		{"from trailing dot", schemaWith("string", "from: ['a.']"), "empty path segment", 7},
		{"from empty list", schemaWith("string", "from: []"), `"from" is empty`, 7},
		{"required not bool", schemaWith("string", "required: 'yes'"), `"required" must be true or false`, 7},
		{"dictionary bool", schemaWith("bool", "dictionary: true"), "dictionary encoding is not supported for bool", 7},
		{"dup key", schemaWith("string", "pii: keep", "pii: hash"), `mapping key "pii" already defined`, 8},
		{"anchor", "table: &a t\n", "anchors and aliases are not supported", 1},
		{"not yaml", "table: [\n", "invalid YAML", 0},
		{"empty", "", "empty schema file", 0},
		{"two docs", "table: t\n---\ntable: u\n", "only one YAML document", 3},
		{"fields not list", "table: t\nevent_time: a\nfields: {a: 1}\n", `"fields" must be a list`, 3},
		{"field not mapping", "table: t\nevent_time: a\nfields:\n  - x\n", "field #1: expected a mapping", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("s.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; parsed %+v", s)
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SchemaError: %v", err, err)
			}
			if !strings.Contains(se.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.want)
			}
			if tt.name == "not yaml" {
				return // the YAML library picks the position
			}
			if se.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", se.Line, tt.line, err)
			}
		})
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, s *Schema)
	}{
		{"dictionary override", schemaWith("string", "enum: [a, b]", "dictionary: false"), func(t *testing.T, s *Schema) {
			if s.Fields[0].Dictionary {
				t.Error("dictionary should be false")
			}
		}},
		{"dictionary on int", schemaWith("int64", "dictionary: true"), func(t *testing.T, s *Schema) {
			if !s.Fields[0].Dictionary {
				t.Error("dictionary should be true")
			}
		}},
		{"numeric enum text", schemaWith("string", "enum: [1, yes, 2.50]"), func(t *testing.T, s *Schema) {
			if got := strings.Join(s.Fields[0].Enum, ","); got != "1,yes,2.50" {
				t.Errorf("enum %q", got)
			}
		}},
		{"layouts", strings.Replace(schemaWith("string"), "    required: true\n", "    required: true\n    formats: [unix, unix_ms, unix_us, unix_ns, '02/01/2006 15:04']\n", 1), func(t *testing.T, s *Schema) {
			if len(s.Fields[1].Formats) != 5 {
				t.Errorf("formats %q", s.Fields[1].Formats)
			}
		}},
		{"hash", strings.Replace(schemaWith("string", "pii: hash"), "key: [x]\n", "", 1), func(t *testing.T, s *Schema) {
			if !s.HasPIIHash() || len(s.Key) != 0 {
				t.Error("HasPIIHash false")
			}
		}},
		{"float bounds", schemaWith("float64", "min: -1.5e3", "max: 2"), func(t *testing.T, s *Schema) {
			if s.Fields[0].MinText != "-1500" || *s.Fields[0].Min != -1500 {
				t.Errorf("min %q", s.Fields[0].MinText)
			}
		}},
		{"date event", "table: t\nevent_time: d\nfields:\n  - name: d\n    type: date\n    required: true\n    formats: ['2006-01-02', '02.01.2006']\n", func(t *testing.T, s *Schema) {
			if s.EventIndex != 0 {
				t.Error("event index")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodSchema))
	f.Add([]byte(schemaWith("string", "enum: [a]", "pii: hash", "normalize: [nfc]")))
	f.Add([]byte("table: t\n"))
	f.Add([]byte("{table: t, fields: [{name: a, type: date}], event_time: a}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("not a *SchemaError: %T %v", err, err)
			}
			return
		}
		if s.Fingerprint == "" {
			t.Fatal("empty fingerprint")
		}
		s2, err := Parse("f.yaml", data)
		if err != nil || s2.Fingerprint != s.Fingerprint {
			t.Fatalf("not deterministic: %v", err)
		}
		if s.EventIndex < 0 || s.EventIndex >= len(s.Fields) {
			t.Fatal("bad event index")
		}
	})
}
