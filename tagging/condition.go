package tagging

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// CompiledCondition is a condition rule's expression, compiled once and
// evaluated for every row.
type CompiledCondition struct {
	program *vm.Program
	// Fields are the fields the expression reads, sorted; only they need
	// to be in the environment of Eval.
	Fields []string
}

// CompileCondition compiles a condition expression (expr-lang syntax, for
// example `amount > 10000 && currency == "USD"`) against env, which maps
// each field name to a value of the field's Go type (string, int, float64,
// bool or time.Time). The expression must be boolean and may only read
// fields of env.
func CompileCondition(src string, env map[string]any) (*CompiledCondition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	p, err := expr.Compile(src, expr.Env(env), expr.AsBool(), expr.Timezone("UTC"))
	if err != nil {
		return nil, fmt.Errorf("invalid expression: %s", firstLine(err.Error()))
	}
	c := &CompiledCondition{program: p}
	seen := map[string]bool{}
	node := p.Node()
	ast.Walk(&node, identVisitor(func(name string) {
		if _, ok := env[name]; ok && !seen[name] {
			seen[name] = true
			c.Fields = append(c.Fields, name)
		}
	}))
	sort.Strings(c.Fields)
	return c, nil
}

type identVisitor func(string)

func (f identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		f(id.Value)
	}
}

// Eval runs the condition with env, which holds the values of c.Fields (nil
// for a null value). m is the caller's reusable virtual machine: one per
// goroutine. An expression that fails on a row, typically because a field
// it compares is null, is false for that row.
func (c *CompiledCondition) Eval(m *vm.VM, env map[string]any) bool {
	out, err := m.Run(c.program, env)
	if err != nil {
		return false
	}
	b, _ := out.(bool)
	return b
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
