package schemas

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

const listSchema = `table: t
event_time: ts
fields:
  - name: ts
    type: timestamp
    required: true
    formats: [unix]
  - name: labels
    type: list<string>
    normalize: [trim, lower]
    enum: [vip, new, blocked, ""]
  - name: free
    type: list<string>
    required: true
  - name: emails
    type: list<string>
    pii: hash
  - name: codes
    type: list<string>
    pattern: '^[A-Z]{2}$'
    dictionary: true
  - name: hidden
    type: list<string>
    pii: drop
rules:
  - name: vip
    kind: condition
    expr: '"vip" in labels'
`

func listElems(v Value) []string {
	var out []string
	for e := range v.ListElems() {
		out = append(out, e)
	}
	return out
}

func newListCoercer(t testing.TB) (*Schema, *Coercer) {
	t.Helper()
	return parseCoercer(t, listSchema, testPIIKey)
}

func comp(s string) Raw { return Raw{Kind: RawComposite, Text: []byte(s)} }

func TestListValuePacking(t *testing.T) {
	for _, elems := range [][]string{nil, {""}, {"a"}, {"", "", ""}, {strings.Repeat("x", 300), "é\x00z", ""}} {
		v := ListValue(elems)
		if v.Null || v.I != int64(len(elems)) {
			t.Fatalf("%q: %+v", elems, v)
		}
		if got := listElems(v); !slices.Equal(got, elems) {
			t.Errorf("ListElems(ListValue(%q)) = %q", elems, got)
		}
	}
}

func TestCoerceList(t *testing.T) {
	s, c := newListCoercer(t)
	idx := func(name string) int { return s.index(name) }
	tests := []struct {
		field string
		raw   Raw
		want  []string // nil with null true: a null list
		null  bool
		rule  string // expected RuleError.Rule, "" for success
		msg   string // substring of the error
	}{
		{field: "labels", raw: comp(`["VIP", " new "]`), want: []string{"vip", "new"}},
		{field: "labels", raw: comp(`[]`), want: []string{}},
		{field: "labels", raw: comp(` [ ] `), want: []string{}},
		{field: "labels", raw: str(`["vip"]`), want: []string{"vip"}}, // a CSV cell
		{field: "labels", raw: str(``), null: true},
		{field: "labels", raw: str(`  `), null: true},
		{field: "labels", raw: Raw{Kind: RawNull}, null: true},
		{field: "labels", raw: Raw{Kind: RawMissing}, null: true},
		{field: "labels", raw: comp(`["vip", "gold"]`), rule: "enum", msg: "element 1: "},
		{field: "labels", raw: comp(`["vip", null]`), rule: "type", msg: "element 1 is null"},
		{field: "labels", raw: comp(`["vip", 3]`), rule: "type", msg: "element 1 is number"},
		{field: "labels", raw: comp(`[["vip"]]`), rule: "type", msg: "element 0 is array"},
		{field: "labels", raw: comp(`{"a": 1}`), rule: "type", msg: "expected list<string>, got object"},
		{field: "labels", raw: str(`vip`), rule: "type", msg: "a JSON array of strings"},
		{field: "labels", raw: str(`["vip"`), rule: "type", msg: "a JSON array of strings"},
		{field: "labels", raw: num(`3`), rule: "type", msg: "got number"},
		{field: "labels", raw: boolean(true), rule: "type", msg: "got bool"},
		{field: "labels", raw: str("[\"v\xffp\"]"), rule: "utf8"},
		{field: "free", raw: comp(`["a,b", "c\"d", "", "\u00e9"]`), want: []string{"a,b", `c"d`, "", "é"}},
		{field: "free", raw: comp(`[]`), want: []string{}},
		{field: "free", raw: Raw{Kind: RawNull}, rule: "required"},
		{field: "free", raw: Raw{Kind: RawMissing}, rule: "required"},
		{field: "codes", raw: comp(`["FR", "DE"]`), want: []string{"FR", "DE"}},
		{field: "codes", raw: comp(`["FR", "d"]`), rule: "pattern", msg: "element 1: "},
		{field: "hidden", raw: comp(`["x"]`), null: true},
		{field: "hidden", raw: comp(`[1]`), rule: "type"},
	}
	for _, tc := range tests {
		v, rerr := c.Coerce(idx(tc.field), tc.raw)
		name := tc.field + " " + string(tc.raw.Text)
		if tc.rule != "" {
			if rerr == nil {
				t.Errorf("%s: accepted as %q, want rule %s", name, listElems(v), tc.rule)
				continue
			}
			if rerr.Rule != tc.rule || !strings.Contains(rerr.Error(), tc.msg) || rerr.Field != tc.field {
				t.Errorf("%s: error %q (rule %s), want rule %s with %q", name, rerr, rerr.Rule, tc.rule, tc.msg)
			}
			continue
		}
		if rerr != nil {
			t.Errorf("%s: %v", name, rerr)
			continue
		}
		if v.Null != tc.null {
			t.Errorf("%s: null = %v", name, v.Null)
			continue
		}
		if got := listElems(v); !tc.null && (!slices.Equal(got, tc.want) || v.I != int64(len(tc.want))) {
			t.Errorf("%s: got %q (I=%d), want %q", name, got, v.I, tc.want)
		}
	}

	// pii: hash applies to each element.
	v, rerr := c.Coerce(idx("emails"), comp(`["a@b.c", "a@b.c", "x@y.z"]`))
	if rerr != nil {
		t.Fatal(rerr)
	}
	h := listElems(v)
	one, _ := c.Coerce(idx("emails"), comp(`["a@b.c"]`))
	if len(h) != 3 || h[0] != h[1] || h[0] == h[2] || len(h[0]) != 64 || listElems(one)[0] != h[0] || strings.Contains(strings.Join(h, ""), "@") {
		t.Errorf("hashed elements %q", h)
	}
}

func TestListSchemaRules(t *testing.T) {
	s, _ := newListCoercer(t)
	if got := s.Fields[s.index("labels")].Type.String(); got != "list<string>" {
		t.Errorf("type string %q", got)
	}
	// A condition rule sees a list as a list of strings.
	r := s.Rules[0]
	var m vm.VM
	for _, tc := range []struct {
		v    Value
		want bool
	}{
		{ListValue([]string{"new", "vip"}), true},
		{ListValue([]string{"new"}), false},
		{ListValue(nil), false},
		{Value{Null: true}, false},
	} {
		env := s.ExprEnv()
		env["labels"] = ExprValue(&s.Fields[s.index("labels")], tc.v)
		if got := r.Compiled.Eval(&m, env); got != tc.want {
			t.Errorf("condition on %q (null %v) = %v", listElems(tc.v), tc.v.Null, got)
		}
	}
}

func TestListParseErrors(t *testing.T) {
	base := "table: t\nevent_time: ts\nfields:\n  - name: ts\n    type: timestamp\n    required: true\n  - name: l\n    type: list<string>\n"
	tests := []struct{ name, yaml, want string }{
		{"min", base + "    min: 1\n", `"min" applies only to int64, float64 and decimal fields, not list<string>`},
		{"formats", base + "    formats: [rfc3339]\n", `"formats" applies only to timestamp and date fields`},
		{"key", strings.Replace(base, "fields:", "key: [l]\nfields:", 1), `field "l": a list<string> field cannot be part of the key`},
		{"event time", strings.Replace(base, "event_time: ts", "event_time: l", 1), "must be a timestamp or date, not list<string>"},
		{"list of int", strings.Replace(base, "list<string>", "list<int64>", 1), `unknown type "list<int64>"`},
		{"rule key", base + "  - name: c\n    type: string\nrules:\n  - name: v\n    kind: velocity\n    key: [l]\n    count: 3\n    window: 1h\n",
			`key field "l" is a list<string>`},
		{"rule field", base + "  - name: c\n    type: string\nrules:\n  - name: n\n    kind: novelty\n    key: [c]\n    field: l\n    lookback: 1d\n",
			`field "l" is a list<string>`},
		{"version", strings.Replace(base, "fields:", "key: [ts]\nupdate_policy: replace\nversion: l\nfields:", 1), "version field \"l\" must be"},
	}
	for _, tc := range tests {
		_, err := Parse("l.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestListParquetRoundTrip(t *testing.T) {
	s, c := newListCoercer(t)
	inputs := []map[string]Raw{
		{"ts": num("1"), "labels": comp(`["vip","new"]`), "free": comp(`["a"]`), "codes": comp(`["FR"]`)},
		{"ts": num("2"), "labels": comp(`[]`), "free": comp(`[]`), "emails": comp(`[]`)},
		{"ts": num("3"), "free": comp(`["", "x", "y"]`)},
	}
	want := coerceRows(t, s, c, inputs...)
	var rows []parquet.Row
	for _, vals := range want {
		rows = append(rows, s.AppendTags(s.AppendRow(nil, vals), 0))
	}
	buf, f := writeTestParquet(t, rows, s.ParquetSchema())
	var lists int
	for _, el := range f.Metadata().Schema {
		if _, ok := el.LogicalType.Value.(*format.ListType); ok {
			lists++
		}
	}
	if lists != 5 { // labels, free, emails, codes, tags (hidden is dropped)
		t.Errorf("%d LIST columns in the footer, want 5", lists)
	}
	// Read back each row and rebuild the lists from the levels.
	r := parquet.NewReader(bytes.NewReader(buf))
	got := make([]parquet.Row, 4)
	n, err := r.ReadRows(got)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if n != len(inputs) {
		t.Fatalf("read %d rows", n)
	}
	stored := s.StoredFields()
	for ri := range n {
		byCol := map[int][]parquet.Value{}
		for _, v := range got[ri] {
			byCol[v.Column()] = append(byCol[v.Column()], v)
		}
		for ci, fi := range stored {
			fd := &s.Fields[fi]
			if fd.Type.Kind != KindStringList {
				continue
			}
			vs := byCol[ci]
			wv := want[ri][fi]
			maxDef := 1
			if !fd.Required {
				maxDef = 2
			}
			switch {
			case wv.Null:
				if len(vs) != 1 || !vs[0].IsNull() || vs[0].DefinitionLevel() != 0 {
					t.Errorf("row %d %s: want null, got %v", ri, fd.Name, vs)
				}
			case wv.I == 0:
				if len(vs) != 1 || !vs[0].IsNull() || vs[0].DefinitionLevel() != maxDef-1 {
					t.Errorf("row %d %s: want empty list, got %v", ri, fd.Name, vs)
				}
			default:
				var elems []string
				for _, v := range vs {
					if v.DefinitionLevel() != maxDef {
						t.Errorf("row %d %s: definition level %d", ri, fd.Name, v.DefinitionLevel())
					}
					elems = append(elems, string(v.ByteArray()))
				}
				if !slices.Equal(elems, listElems(wv)) {
					t.Errorf("row %d %s: %q, want %q", ri, fd.Name, elems, listElems(wv))
				}
			}
		}
	}
}

// FuzzCoerceList: any bytes, as a JSON composite or as a CSV cell, give a
// list whose packed elements read back (as many as Value.I says, each valid
// UTF-8 and allowed by the field's rules) or a RuleError, never a panic.
func FuzzCoerceList(f *testing.F) {
	for _, seed := range []string{`["VIP"," new "]`, `[]`, `["a",null]`, `[1]`, `{"a":[]}`, `["\u00e9\ud800"]`, "[\"\xff\"]", `[`, ``, `[[]]`} {
		f.Add([]byte(seed))
	}
	s, c := newListCoercer(f)
	labels, free := s.index("labels"), s.index("free")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, raw := range []Raw{{Kind: RawComposite, Text: b}, {Kind: RawString, Text: b}} {
			for _, fi := range []int{labels, free} {
				v, rerr := c.Coerce(fi, raw)
				if rerr != nil || v.Null {
					continue
				}
				n := 0
				for e := range v.ListElems() {
					n++
					if !utf8.ValidString(e) {
						t.Fatalf("element %q is not UTF-8", e)
					}
					if fi == labels && !slices.Contains([]string{"vip", "new", "blocked", ""}, e) {
						t.Fatalf("element %q passed the enum", e)
					}
				}
				if int64(n) != v.I {
					t.Fatalf("%d elements, Value.I = %d", n, v.I)
				}
			}
		}
	})
}
