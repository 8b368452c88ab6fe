package gen

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDrift(t *testing.T) {
	from := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, spec string
		want       Drift
		errKey     string // the error must name this
	}{
		{name: "full", spec: "from=2026-01-20,amount_scale=1.8,country=BR:0.4,new_currency=chf,null_rate=email:0.3",
			want: Drift{From: from, AmountScale: 1.8, Countries: []CountryShare{{"BR", 0.4}}, NewCurrency: "CHF",
				NullRates: map[string]float64{"email": 0.3}}},
		{name: "from only", spec: "from=2026-01-20", want: Drift{From: from}},
		{name: "spaces and repeats", spec: " from = 2026-01-20 , country=br:0.2, country=JP:0.1,null_rate=country:0,null_rate=card_number:1,",
			want: Drift{From: from, Countries: []CountryShare{{"BR", 0.2}, {"JP", 0.1}},
				NullRates: map[string]float64{"country": 0, "card_number": 1}}},
		{name: "empty", spec: "", errKey: "empty"},
		{name: "no from", spec: "amount_scale=2", errKey: "from"},
		{name: "bad date", spec: "from=2026-13-01", errKey: "from"},
		{name: "from twice", spec: "from=2026-01-20,from=2026-01-21", errKey: "from"},
		{name: "unknown key", spec: "from=2026-01-20,colour=red", errKey: "colour"},
		{name: "no equals", spec: "from=2026-01-20,amount_scale", errKey: "amount_scale"},
		{name: "bad scale", spec: "from=2026-01-20,amount_scale=x", errKey: "amount_scale"},
		{name: "zero scale", spec: "from=2026-01-20,amount_scale=0", errKey: "amount_scale"},
		{name: "NaN scale", spec: "from=2026-01-20,amount_scale=NaN", errKey: "amount_scale"},
		{name: "country no share", spec: "from=2026-01-20,country=BR", errKey: "country"},
		{name: "country unknown", spec: "from=2026-01-20,country=ZZ:0.1", errKey: "country"},
		{name: "country share > 1", spec: "from=2026-01-20,country=BR:1.5", errKey: "country"},
		{name: "country shares sum > 1", spec: "from=2026-01-20,country=BR:0.6,country=JP:0.6", errKey: "country"},
		{name: "currency not 3 letters", spec: "from=2026-01-20,new_currency=EURO", errKey: "new_currency"},
		{name: "currency in use", spec: "from=2026-01-20,new_currency=EUR", errKey: "new_currency"},
		{name: "null rate negative", spec: "from=2026-01-20,null_rate=email:-0.1", errKey: "null_rate"},
		{name: "null rate required field", spec: "from=2026-01-20,null_rate=amount:0.1", errKey: "null_rate"},
		{name: "null rate no rate", spec: "from=2026-01-20,null_rate=email", errKey: "null_rate"},
		{name: "null rate twice", spec: "from=2026-01-20,null_rate=email:0.1,null_rate=email:0.2", errKey: "null_rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDrift(tc.spec)
			if tc.errKey != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errKey) {
					t.Fatalf("ParseDrift(%q) error = %v, want one naming %q", tc.spec, err, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDrift(%q): %v", tc.spec, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseDrift(%q) = %+v, want %+v", tc.spec, got, tc.want)
			}
		})
	}
}

func FuzzParseDrift(f *testing.F) {
	for _, s := range []string{
		"from=2026-01-20,amount_scale=1.8,country=BR:0.4,new_currency=XTS,null_rate=email:0.3",
		"from=2026-01-20", "", "from=2026-01-20,country=BR:", "null_rate=:,,=", "from=2026-01-20,amount_scale=1e308",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		d, err := ParseDrift(spec)
		if err != nil {
			return
		}
		// A parsed drift prints back to a spec that parses to the same drift.
		again, err := ParseDrift(d.String())
		if err != nil {
			t.Fatalf("ParseDrift(%q) ok, but its String %q fails: %v", spec, d.String(), err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("round trip of %q: %+v != %+v", spec, d, again)
		}
		if err := d.validate(); err != nil {
			t.Fatalf("validate(%q): %v", spec, err)
		}
	})
}
