package ingest

import (
	"github.com/expr-lang/expr/vm"

	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/tagging"
)

// conditions evaluates a schema's condition rules on decoded rows. One per
// decode worker: it owns its virtual machine and environment.
type conditions struct {
	s     *schemas.Schema
	rules []condRule
	m     vm.VM
	env   map[string]any
}

type condRule struct {
	bit    uint64
	c      *tagging.CompiledCondition
	fields []int // indexes in s.Fields of c.Fields
}

// newConditions returns nil when the schema has no condition rules.
func newConditions(s *schemas.Schema) *conditions {
	cs := &conditions{s: s, env: map[string]any{}}
	for i := range s.Rules {
		r := &s.Rules[i]
		if r.Kind != tagging.Condition {
			continue
		}
		cr := condRule{bit: 1 << i, c: r.Compiled}
		for _, name := range r.Compiled.Fields {
			for fi := range s.Fields {
				if s.Fields[fi].Name == name {
					cr.fields = append(cr.fields, fi)
				}
			}
		}
		cs.rules = append(cs.rules, cr)
	}
	if len(cs.rules) == 0 {
		return nil
	}
	return cs
}

// eval returns the bits of the condition rules row meets.
func (cs *conditions) eval(row []schemas.Value) uint64 {
	var hits uint64
	for i := range cs.rules {
		r := &cs.rules[i]
		clear(cs.env)
		for _, fi := range r.fields {
			f := &cs.s.Fields[fi]
			cs.env[f.Name] = schemas.ExprValue(f, row[fi])
		}
		if r.c.Eval(&cs.m, cs.env) {
			hits |= r.bit
		}
	}
	return hits
}
