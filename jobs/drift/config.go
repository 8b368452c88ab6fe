package drift

import (
	"errors"
	"fmt"
	"github.com/txlake/txlake/schemas/yamlnode"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Method is a drift test or distance. P-value methods flag drift when the
// p-value is below the threshold; distance methods when the statistic
// reaches it.
type Method string

// The methods a column can use.
const (
	KS            Method = "ks"            // two-sample Kolmogorov–Smirnov, p-value (numeric)
	Wasserstein   Method = "wasserstein"   // Wasserstein-1 / reference std, distance (numeric)
	PSI           Method = "psi"           // population stability index on reference-quantile bins (numeric)
	KLDiv         Method = "kl_div"        // Kullback–Leibler divergence, distance
	Hellinger     Method = "hellinger"     // Hellinger distance
	JensenShannon Method = "jensenshannon" // Jensen–Shannon distance
	ChiSquare     Method = "chisquare"     // chi-square test of the categories, p-value
	ZTest         Method = "ztest"         // two-proportion z-test, p-value (binary)
)

// Methods lists every method in documentation order.
var Methods = []Method{KS, Wasserstein, PSI, KLDiv, Hellinger, JensenShannon, ChiSquare, ZTest}

// UsesPValue reports whether m decides drift on a p-value (p < threshold)
// rather than on a distance (statistic >= threshold).
func (m Method) UsesPValue() bool { return m == KS || m == ChiSquare || m == ZTest }

// DefaultThreshold is the threshold of m when the config gives none: 0.05
// for p-value methods, 0.1 for distances.
func (m Method) DefaultThreshold() float64 {
	if m.UsesPValue() {
		return 0.05
	}
	return 0.1
}

// validFor reports whether m can be computed for a column of kind k.
func (m Method) validFor(k string) bool {
	switch m {
	case KS, Wasserstein:
		return k == kindNumeric
	case ZTest:
		return k == kindBinary
	case ChiSquare:
		return k == kindCategorical || k == kindBinary
	case PSI, JensenShannon, KLDiv, Hellinger:
		return true // numeric columns use reference-quantile cells
	}
	return false
}

// DefaultMaxCategories caps the new and vanished categories listed per
// column when the config does not say.
const DefaultMaxCategories = 20

// DefaultMaxDistinct is Config.MaxDistinct's default.
const DefaultMaxDistinct = 1000

// DefaultDriftShare is the share of drifted columns at which the dataset
// counts as drifted.
const DefaultDriftShare = 0.5

// Config overrides the report's defaults. The zero value is not valid; use
// DefaultConfig or LoadConfig.
type Config struct {
	// File is the config file's name, for messages ("" when none).
	File string
	// DriftShare is the share of compared columns that must drift for the
	// dataset to count as drifted, in (0, 1].
	DriftShare float64
	// Bins is the number of histogram (and PSI) bins of numeric columns;
	// 0 lets the stats package choose.
	Bins int
	// MaxCategories caps the new and vanished categories listed per column;
	// 0 means DefaultMaxCategories.
	MaxCategories int
	// MaxDistinct is the most distinct values a categorical column may have
	// and still be compared by default; columns above it (near-unique values
	// such as masked card numbers) are listed as not compared unless the
	// config sets their method.
	MaxDistinct int
	// Columns holds per-column overrides by column name.
	Columns map[string]ColumnConfig
}

// ColumnConfig overrides one column.
type ColumnConfig struct {
	Method    Method   // "" keeps the default method
	Threshold *float64 // nil keeps the method's default threshold
	Skip      bool     // leave the column out of the report
	Line      int      // line of the column's key in the config file
}

// DefaultConfig returns the configuration used without --config.
func DefaultConfig() *Config {
	return &Config{DriftShare: DefaultDriftShare, MaxDistinct: DefaultMaxDistinct, Columns: map[string]ColumnConfig{}}
}

var (
	configKeys = []string{"drift_share", "bins", "max_categories", "max_distinct", "columns"}
	columnKeys = []string{"method", "threshold", "skip"}
)

// LoadConfig reads a drift config file. Every error is a *ConfigError with
// the file name and, for problems in the content, the line.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := "cannot read drift config: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "drift config not found"
		}
		return nil, &ConfigError{File: path, Msg: msg}
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a drift config:
//
//	drift_share: 0.5          # share of drifted columns that makes the dataset drifted
//	bins: 20                  # histogram and PSI bins of numeric columns
//	max_categories: 20        # new/vanished categories listed per column
//	max_distinct: 1000        # categorical columns with more distinct values are not compared
//	columns:
//	  amount:  {method: psi, threshold: 0.2}
//	  country: {method: chisquare, threshold: 0.01}
//	  email:   {skip: true}
//
// Unknown or duplicate keys, unknown methods and out-of-range values are
// errors (*ConfigError) naming the line. Whether a column exists and whether
// its method suits its type is checked when the report runs.
func ParseConfig(file string, data []byte) (c *Config, err error) {
	c = DefaultConfig()
	c.File = file
	p := configParser{file: file}
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, &ConfigError{File: file, Msg: fmt.Sprintf("cannot parse YAML (internal parser error: %v)", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		var se *yaml.SyntaxError
		if errors.As(perr, &se) && se.Token != nil && se.Token.Position != nil {
			return nil, &ConfigError{File: file, Line: se.Token.Position.Line, Msg: "invalid YAML: " + se.Message}
		}
		return nil, &ConfigError{File: file, Msg: "invalid YAML: " + perr.Error()}
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
		return c, nil // an empty file keeps every default
	}
	top, cerr := p.mapping(body, "drift config", configKeys)
	if cerr != nil {
		return nil, cerr
	}
	if e, ok := top["drift_share"]; ok {
		v, cerr := p.number(e, "drift_share")
		if cerr != nil {
			return nil, cerr
		}
		if !(v > 0 && v <= 1) {
			return nil, p.errAt(e.Value, "drift_share: %v is not in (0, 1]", v)
		}
		c.DriftShare = v
	}
	if e, ok := top["max_distinct"]; ok {
		v, cerr := p.number(e, "max_distinct")
		if cerr != nil {
			return nil, cerr
		}
		if v != math.Trunc(v) || v < 2 || v > 1e9 {
			return nil, p.errAt(e.Value, "max_distinct: %v is not a whole number >= 2", v)
		}
		c.MaxDistinct = int(v)
	}
	for _, k := range []string{"bins", "max_categories"} {
		e, ok := top[k]
		if !ok {
			continue
		}
		v, cerr := p.number(e, k)
		if cerr != nil {
			return nil, cerr
		}
		if v != math.Trunc(v) || v < 2 || v > 1000 {
			return nil, p.errAt(e.Value, "%s: %v is not a whole number in 2..1000", k, v)
		}
		if k == "bins" {
			c.Bins = int(v)
		} else {
			c.MaxCategories = int(v)
		}
	}
	if e, ok := top["columns"]; ok {
		if _, isNull := e.Value.(*ast.NullNode); isNull {
			return c, nil
		}
		cols, cerr := p.mapping(e.Value, "columns", nil)
		if cerr != nil {
			return nil, cerr
		}
		for name, ce := range cols {
			what := fmt.Sprintf("column %q", name)
			keys, cerr := p.mapping(ce.Value, what, columnKeys)
			if cerr != nil {
				return nil, cerr
			}
			cc := ColumnConfig{Line: yamlnode.Line(ce.Key)}
			if e, ok := keys["method"]; ok {
				s, ok := yamlnode.ScalarText(e.Value)
				if !ok {
					return nil, p.errAt(e.Value, "%s: method: want one of %s", what, methodList())
				}
				m := Method(strings.ToLower(s))
				if !slices.Contains(Methods, m) {
					return nil, p.errAt(e.Value, "%s: unknown method %q; want one of %s", what, s, methodList())
				}
				cc.Method = m
			}
			if e, ok := keys["threshold"]; ok {
				v, cerr := p.number(e, what+": threshold")
				if cerr != nil {
					return nil, cerr
				}
				if !(v >= 0) || math.IsInf(v, 0) {
					return nil, p.errAt(e.Value, "%s: threshold %v must be a finite number >= 0", what, v)
				}
				cc.Threshold = &v
			}
			if e, ok := keys["skip"]; ok {
				b, ok := e.Value.(*ast.BoolNode)
				if !ok {
					return nil, p.errAt(e.Value, "%s: skip: want true or false", what)
				}
				cc.Skip = b.Value
			}
			if cc.Threshold != nil && cc.Method == "" {
				return nil, p.errAt(ce.Key, "%s: a threshold needs a method, since the default method depends on the data", what)
			}
			if cc.Threshold != nil && cc.Method.UsesPValue() && *cc.Threshold > 1 {
				return nil, p.errAt(keys["threshold"].Value, "%s: threshold %v is a p-value for %s and must be in [0, 1]", what, *cc.Threshold, cc.Method)
			}
			c.Columns[name] = cc
		}
	}
	return c, nil
}

func methodList() string {
	s := make([]string, len(Methods))
	for i, m := range Methods {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

type configParser struct{ file string }

type entry = yamlnode.Entry

func (p configParser) errAt(n ast.Node, format string, args ...any) *ConfigError {
	return &ConfigError{File: p.file, Line: yamlnode.Line(n), Msg: fmt.Sprintf(format, args...)}
}

// mapping checks that n is a mapping with unique plain keys, all in allowed
// unless allowed is nil.
func (p configParser) mapping(n ast.Node, what string, allowed []string) (map[string]entry, *ConfigError) {
	if err := yamlnode.Plain(n, what, "drift config files"); err != nil {
		return nil, p.at(err)
	}
	if !yamlnode.IsMapping(n) {
		return nil, p.errAt(n, "%s: want a mapping of keys to values", what)
	}
	m, err := yamlnode.Mapping(n, what, "drift config files", allowed)
	if err != nil {
		return nil, p.at(err)
	}
	return m, nil
}

// at turns a yamlnode error into a ConfigError of this file.
func (p configParser) at(e *yamlnode.Error) *ConfigError {
	return &ConfigError{File: p.file, Line: e.Line, Msg: e.Msg}
}

func (p configParser) number(e entry, what string) (float64, *ConfigError) {
	switch e.Value.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		s, _ := yamlnode.ScalarText(e.Value)
		v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err == nil && !math.IsNaN(v) {
			return v, nil
		}
	}
	return 0, p.errAt(e.Value, "%s: want a number", what)
}

// sortedColumns returns the names of c's column overrides in order.
func (c *Config) sortedColumns() []string {
	names := make([]string, 0, len(c.Columns))
	for n := range c.Columns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Column kinds (the same strings as stats.Kind).
const (
	kindNumeric     = "numeric"
	kindCategorical = "categorical"
	kindBinary      = "binary"
)
