package schemas

import "regexp/syntax"

// simplePattern is a fast matcher for the common shape of schema patterns:
// anchored at both ends, a sequence of ASCII literals and ASCII character
// classes, each repeated a fixed number of times, except that the last may
// repeat a range ("^tx_[0-9a-f]{16}$", "^[A-Z]{3}$", "^[a-z_]+$"). Such a
// pattern needs no backtracking, and matching it is a table lookup per byte,
// several times faster than regexp's one-pass matcher. It gives the same
// answer as regexp.Match on valid UTF-8 (Coerce checks UTF-8 first): a byte
// of a multi-byte rune is never in an ASCII class.
type simplePattern struct {
	steps []patternStep
}

type patternStep struct {
	set      [4]uint64 // bytes 0..255 the step accepts (only ASCII is ever set)
	min, max int       // repetitions; max -1 for no limit (last step only)
}

// compileSimplePattern returns nil when pattern is not of the simple shape.
func compileSimplePattern(pattern string) *simplePattern {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	subs = subs[1 : len(subs)-1]
	p := &simplePattern{}
	for i, sub := range subs {
		last := i == len(subs)-1
		min, max := 1, 1
		switch sub.Op {
		case syntax.OpRepeat:
			min, max = sub.Min, sub.Max
			sub = sub.Sub[0]
		case syntax.OpStar:
			min, max = 0, -1
			sub = sub.Sub[0]
		case syntax.OpPlus:
			min, max = 1, -1
			sub = sub.Sub[0]
		case syntax.OpQuest:
			min, max = 0, 1
			sub = sub.Sub[0]
		}
		if (min != max && !last) || sub.Flags&syntax.FoldCase != 0 {
			return nil
		}
		switch sub.Op {
		case syntax.OpLiteral:
			if min != 1 || max != 1 {
				if len(sub.Rune) != 1 {
					return nil
				}
			}
			for _, r := range sub.Rune {
				if r >= 0x80 {
					return nil
				}
				var st patternStep
				st.set[r/64] |= 1 << (r % 64)
				st.min, st.max = min, max
				p.steps = append(p.steps, st)
			}
		case syntax.OpCharClass:
			var st patternStep
			for k := 0; k+1 < len(sub.Rune); k += 2 {
				lo, hi := sub.Rune[k], sub.Rune[k+1]
				if hi >= 0x80 {
					return nil
				}
				for r := lo; r <= hi; r++ {
					st.set[r/64] |= 1 << (r % 64)
				}
			}
			st.min, st.max = min, max
			p.steps = append(p.steps, st)
		default:
			return nil
		}
	}
	return p
}

// match reports whether b matches the whole pattern.
func (p *simplePattern) match(b []byte) bool {
	i := 0
	for _, st := range p.steps {
		n := 0
		for i < len(b) && (st.max < 0 || n < st.max) && st.set[b[i]>>6]&(1<<(b[i]&63)) != 0 {
			i++
			n++
		}
		if n < st.min {
			return false
		}
	}
	return i == len(b)
}
