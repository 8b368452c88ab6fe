package tagging

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RuleKind is the kind of a row rule.
type RuleKind string

// The row-rule kinds. Velocity, novelty and outlier rules look back over the
// lake's committed history (history rules); condition rules look at one row.
const (
	// Velocity tags a row when at least Count rows with the row's key have
	// an event time within Window before it (the row itself and rows at
	// the same instant included).
	Velocity RuleKind = "velocity"
	// Novelty tags a row whose Field value was not seen for its key in the
	// Lookback before the row's event time.
	Novelty RuleKind = "novelty"
	// Outlier tags a row whose numeric Field is more than Threshold away
	// from its key's history in the Lookback before it, measured as a
	// z-score or a robust MAD score.
	Outlier RuleKind = "outlier"
	// Condition tags a row for which the expression Expr is true.
	Condition RuleKind = "condition"
)

// RuleKinds lists the kinds in documentation order.
func RuleKinds() []RuleKind { return []RuleKind{Velocity, Novelty, Outlier, Condition} }

// Outlier scoring methods.
const (
	MethodZScore = "zscore" // |x - mean| / sample standard deviation
	MethodMAD    = "mad"    // 0.6745 · |x - median| / median absolute deviation
)

// What a novelty rule does with a key that has no history in its lookback.
const (
	NoHistorySkip = "skip" // not tagged: every value of a new key is new (default)
	NoHistoryTag  = "tag"  // tagged: a first-seen key counts as novel
)

// MaxRules is the most rules one schema may declare (row tags are kept as a
// 64-bit set while a run works).
const MaxRules = 64

// Rule is one row rule. Each hit adds Name to the row's tags column.
type Rule struct {
	Name string   // the tag a hit adds
	Kind RuleKind // velocity | novelty | outlier | condition
	// Key names the fields that group rows for history rules (for example
	// [customer_id]). Rows with a null key field are never tagged.
	Key []string
	// Field is the field a novelty or outlier rule looks at.
	Field string
	// Count and Window: a velocity rule hits when at least Count rows of
	// the key fall within Window up to the row's event time.
	Count  int
	Window time.Duration
	// Lookback is how far back novelty and outlier rules look.
	Lookback time.Duration
	// NoHistory is what a novelty rule does for a key without history.
	NoHistory string
	// Method, Threshold and MinHistory configure outlier rules: the row's
	// score must exceed Threshold, given at least MinHistory earlier rows.
	Method     string
	Threshold  float64
	MinHistory int
	// Expr is a condition rule's expression (expr-lang syntax), and
	// Compiled its compiled form.
	Expr     string
	Compiled *CompiledCondition
	// Line is the rule's line in its file, for messages.
	Line int
}

// History reports whether the rule looks back over the lake.
func (r *Rule) History() bool { return r.Kind != Condition }

// Span is how far back before a row's event time the rule looks.
func (r *Rule) Span() time.Duration {
	if r.Kind == Velocity {
		return r.Window
	}
	return r.Lookback
}

var ruleNameRe = regexp.MustCompile(`^[a-z][a-z0-9_:.-]{0,62}$`)

// ValidateRuleName checks the tag a rule adds.
func ValidateRuleName(name string) error {
	if !ruleNameRe.MatchString(name) {
		return fmt.Errorf("rule name %q: want lowercase letters, digits, '_', ':', '.' or '-', starting with a letter (it becomes the row tag)", name)
	}
	return nil
}

// ParseDuration parses a duration: Go's syntax ("90m", "1h30m") plus whole
// days and weeks ("30d", "2w").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseInt(s[:n-1], 10, 64)
		if err == nil && v > 0 {
			unit := 24 * time.Hour
			if s[n-1] == 'w' {
				unit *= 7
			}
			if v > math.MaxInt64/int64(unit) {
				return 0, fmt.Errorf("duration %q is too long", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 90m, 1h, 30d or 2w", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}

// FormatDuration renders d the way ParseDuration reads it, preferring whole
// weeks and days.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d > 0 && d%(7*day) == 0:
		return strconv.FormatInt(int64(d/(7*day)), 10) + "w"
	case d > 0 && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
