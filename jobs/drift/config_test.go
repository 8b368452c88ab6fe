package drift

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("drift.yaml", []byte(`# overrides
drift_share: 0.3
bins: 12
columns:
  amount: {method: psi, threshold: 0.2}
  country:
    method: chisquare
    threshold: 0.01
  email: {skip: true}
  status: {method: JensenShannon}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DriftShare != 0.3 || c.Bins != 12 {
		t.Fatalf("drift_share %v bins %d", c.DriftShare, c.Bins)
	}
	a := c.Columns["amount"]
	if a.Method != PSI || a.Threshold == nil || *a.Threshold != 0.2 || a.Line != 5 {
		t.Fatalf("amount = %+v", a)
	}
	if c.Columns["country"].Method != ChiSquare || *c.Columns["country"].Threshold != 0.01 {
		t.Fatalf("country = %+v", c.Columns["country"])
	}
	if !c.Columns["email"].Skip || c.Columns["status"].Method != JensenShannon || c.Columns["status"].Threshold != nil {
		t.Fatalf("email/status = %+v %+v", c.Columns["email"], c.Columns["status"])
	}
	empty, err := ParseConfig("empty.yaml", []byte("# nothing\n"))
	if err != nil || empty.DriftShare != DefaultDriftShare || len(empty.Columns) != 0 {
		t.Fatalf("empty config = %+v, %v", empty, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown top key", "drift_share: 0.5\ncolumnz: {}\n", `c.yaml:2: drift config: unknown key "columnz"`},
		{"unknown column key", "columns:\n  amount:\n    metod: ks\n", `c.yaml:3: column "amount": unknown key "metod"`},
		{"unknown method", "columns:\n  amount: {method: t-test}\n", `c.yaml:2: column "amount": unknown method "t-test"`},
		{"share out of range", "drift_share: 1.5\n", "c.yaml:1: drift_share: 1.5 is not in (0, 1]"},
		{"share not a number", "drift_share: half\n", "c.yaml:1: drift_share: want a number"},
		{"negative threshold", "columns:\n  a: {method: psi, threshold: -1}\n", "must be a finite number >= 0"},
		{"p-value above 1", "columns:\n  a: {method: ks, threshold: 5}\n", "must be in [0, 1]"},
		{"threshold without method", "columns:\n  a: {threshold: 0.2}\n", "c.yaml:2: column \"a\": a threshold needs a method"},
		{"skip not bool", "columns:\n  a: {skip: yes please}\n", "skip: want true or false"},
		{"duplicate", "columns:\n  a: {skip: true}\n  a: {skip: false}\n", "c.yaml:3"},
		{"bad yaml", "columns: [\n", "c.yaml"},
		{"not a mapping", "- a\n- b\n", "want a mapping"},
		{"bins", "bins: 1.5\n", "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *ConfigError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("drift_share: 0.5\ncolumns:\n  amount: {method: psi, threshold: 0.2}\n  email: {skip: true}\n")
	f.Add("columns:\n  &a x: *a\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig("f.yaml", []byte(s))
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError", err)
			}
			return
		}
		if !(c.DriftShare > 0 && c.DriftShare <= 1) {
			t.Fatalf("drift_share %v accepted", c.DriftShare)
		}
	})
}

func TestConfigExampleParses(t *testing.T) {
	c, err := LoadConfig("../../testdata/drift/config-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Columns["amount"].Method != PSI || !c.Columns["email"].Skip || c.MaxDistinct != 1000 {
		t.Fatalf("config example = %+v", c)
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	// Values checked against statsmodels.stats.multitest.multipletests(method="fdr_bh").
	got := BenjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.20, 0.002})
	want := []float64{0.025, 0.05, 0.05, 0.20, 0.01}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("BenjaminiHochberg = %v, want %v", got, want)
		}
	}
	if len(BenjaminiHochberg(nil)) != 0 {
		t.Fatal("BenjaminiHochberg(nil) is not empty")
	}
}
