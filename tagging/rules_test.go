package tagging

import (
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

func TestParseAndFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"2w", 14 * 24 * time.Hour, "2w"},
		{"1h", time.Hour, "1h"},
		{"90m", 90 * time.Minute, "90m"},
		{"1h30m", 90 * time.Minute, "90m"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if f := FormatDuration(got); f != tc.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", got, f, tc.out)
		}
	}
	for _, bad := range []string{"", "d", "-1h", "0s", "0d", "-3d", "1y", "99999999999999w"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q): no error", bad)
		}
	}
}

func TestHitsSQLShape(t *testing.T) {
	in := HistoryInput{Cur: "cur", Hist: "hist", EventTime: "at", From: time.Unix(0, 0), To: time.Unix(86400, 0)}
	r := Rule{Name: "v", Kind: Velocity, Key: []string{"customer"}, Count: 10, Window: time.Hour}
	q, err := r.HitsSQL(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`c."customer" = h."customer"`, "c._ts - to_microseconds(3600000000)", "count(*) >= 10",
		`FROM "hist"`, "TIMESTAMPTZ '1970-01-01 00:00:00+00'", "TIMESTAMPTZ '1970-01-02 00:00:00+00'"} {
		if !strings.Contains(q, want) {
			t.Errorf("velocity SQL lacks %q:\n%s", want, q)
		}
	}
	in.Hist = ""
	if q, _ := r.HitsSQL(in); strings.Contains(q, "UNION") {
		t.Errorf("SQL without history reads a history:\n%s", q)
	}
	if _, err := (&Rule{Name: "c", Kind: Condition, Expr: "true"}).HitsSQL(in); err == nil {
		t.Error("a condition rule has a history query")
	}
}

func TestCompileCondition(t *testing.T) {
	env := map[string]any{"amount": 0.0, "currency": "", "n": 0}
	c, err := CompileCondition(`amount > 10000 && currency == "USD"`, env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Fields, ",") != "amount,currency" {
		t.Errorf("fields %v", c.Fields)
	}
	var m vm.VM
	for _, tc := range []struct {
		env  map[string]any
		want bool
	}{
		{map[string]any{"amount": 20000.0, "currency": "USD"}, true},
		{map[string]any{"amount": 20000.0, "currency": "EUR"}, false},
		{map[string]any{"amount": nil, "currency": "USD"}, false}, // null: false, no error
		{map[string]any{"amount": 20000.0, "currency": nil}, false},
	} {
		if got := c.Eval(&m, tc.env); got != tc.want {
			t.Errorf("Eval(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
	for _, bad := range []string{"amount", "amount >", "unknown > 1", "n + 1", ""} {
		if _, err := CompileCondition(bad, env); err == nil {
			t.Errorf("CompileCondition(%q): no error", bad)
		}
	}
}
