// Package yamlnode reads the plain YAML that txlake's configuration files
// use (schema files, drift configs) from goccy/go-yaml's AST, so that every
// error can name the line of the offending key or value.
package yamlnode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Entry is one key of a mapping with its key and value nodes.
type Entry struct {
	Key   ast.Node
	Value ast.Node
}

// Error is a problem at a position of the file (0 when unknown).
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string { return e.Msg }

// At returns an Error positioned at n.
func At(n ast.Node, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// Line returns the line of n, or 0.
func Line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// ScalarText returns the text of a non-null scalar: the unquoted value of a
// string, and the source text of numbers and booleans.
func ScalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		tk := n.GetToken()
		if tk == nil {
			return "", false
		}
		return tk.Value, true
	}
	return "", false
}

// Describe names the kind of n for messages ("a list", "a number").
func Describe(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "nothing (null)"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	}
	return "a string"
}

// Plain rejects the YAML features txlake's files do not use (anchors,
// aliases, tags, complex keys), so that what the file says is what the
// parser sees. files names the kind of file in messages ("schema files").
func Plain(n ast.Node, what, files string) *Error {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode:
		return At(n, "%s: YAML anchors and aliases are not supported in %s", what, files)
	case *ast.TagNode:
		return At(n, "%s: YAML tags are not supported in %s", what, files)
	case *ast.MappingKeyNode:
		return At(n, "%s: complex mapping keys are not supported", what)
	}
	return nil
}

// IsMapping reports whether n is a mapping (callers word their own message
// for a value that is not one).
func IsMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// Mapping returns the entries of the mapping n by key. Keys must be plain,
// unique and, unless allowed is nil, in allowed: an unknown key's error
// suggests the closest allowed key and lists them all. Keys and values must
// pass Plain. n must be a mapping (see IsMapping). what names the mapping in
// messages ("schema", `field "amount"`).
func Mapping(n ast.Node, what, files string, allowed []string) (map[string]Entry, *Error) {
	if err := Plain(n, what, files); err != nil {
		return nil, err
	}
	if !IsMapping(n) {
		return nil, At(n, "%s: expected a mapping of keys to values, got %s", what, Describe(n))
	}
	values := Ordered(n)
	out := make(map[string]Entry, len(values))
	for _, mv := range values {
		if err := Plain(mv.Key, what, files); err != nil {
			return nil, err
		}
		k, ok := ScalarText(mv.Key)
		if !ok {
			return nil, At(mv.Key, "%s: keys must be plain names", what)
		}
		if allowed != nil && !contains(allowed, k) {
			msg := fmt.Sprintf("%s: unknown key %q", what, k)
			if s := suggest(k, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, At(mv.Key, "%s; want one of %s", msg, strings.Join(allowed, ", "))
		}
		if prev, dup := out[k]; dup {
			return nil, At(mv.Key, "%s: duplicate key %q (first on line %d)", what, k, Line(prev.Key))
		}
		if err := Plain(mv.Value, what, files); err != nil {
			return nil, err
		}
		out[k] = Entry{Key: mv.Key, Value: mv.Value}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// suggest returns the allowed key closest to k when it is a likely typo.
func suggest(k string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(k), a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Document parses data as at most one YAML document and returns its body,
// nil for an empty file. Syntax errors, several documents and a panic of
// the YAML library (outside input's first reader) come back as an *Error
// with the line when known.
func Document(data []byte) (body ast.Node, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, &Error{Msg: fmt.Sprintf("cannot parse YAML (internal parser error: %v)", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		var se *yaml.SyntaxError
		if errors.As(perr, &se) && se.Token != nil && se.Token.Position != nil {
			return nil, &Error{Line: se.Token.Position.Line, Column: se.Token.Position.Column, Msg: "invalid YAML: " + se.Message}
		}
		return nil, &Error{Msg: "invalid YAML: " + perr.Error()}
	}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			return nil, At(d.Body, "only one YAML document is allowed")
		}
		body = d.Body
	}
	return body, nil
}

// Ordered returns the key-value pairs of the mapping n in file order (nil
// when n is not a mapping).
func Ordered(n ast.Node) []*ast.MappingValueNode {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	}
	return nil
}
