package yamlnode

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml/parser"
)

func TestMapping(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		allowed   []string
		want      string // error substring; "" for success
		line      int
	}{
		{"ok", "a: 1\nb: x\n", []string{"a", "b"}, "", 0},
		{"any key", "zz: 1\n", nil, "", 0},
		{"typo", "a: 1\nbb: 2\n", []string{"a", "b"}, `t: unknown key "bb" (did you mean "b"?); want one of a, b`, 2},
		{"duplicate", "a: 1\na: 2\n", []string{"a"}, "", 0}, // the YAML parser itself rejects it
		{"anchor", "a: &x 1\n", []string{"a"}, "anchors and aliases are not supported in test files", 1},
		{"tag", "a: !!str 1\n", []string{"a"}, "tags are not supported in test files", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parser.ParseBytes([]byte(tt.doc), 0)
			if err != nil {
				if tt.name == "duplicate" {
					return
				}
				t.Fatal(err)
			}
			m, yerr := Mapping(f.Docs[0].Body, "t", "test files", tt.allowed)
			if tt.want == "" {
				if yerr != nil || len(m) == 0 {
					t.Fatalf("Mapping = %v, %v", m, yerr)
				}
				return
			}
			if yerr == nil || !strings.Contains(yerr.Msg, tt.want) || yerr.Line != tt.line {
				t.Fatalf("error = %+v, want %q on line %d", yerr, tt.want, tt.line)
			}
		})
	}
}
