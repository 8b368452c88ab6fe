package gen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Drift describes how the generated data changes from day From on. The zero
// value of each field except From means "no change".
type Drift struct {
	// From is the first UTC day the drift applies to; days before it are
	// generated as if there were no drift.
	From time.Time
	// AmountScale multiplies every amount; 0 or 1 leave amounts alone.
	AmountScale float64
	// Countries moves the given share of rows to each country (with its
	// currency). Shares are in [0,1] and sum to at most 1.
	Countries []CountryShare
	// NewCurrency is a three-letter code the generator never emits otherwise;
	// about 15% of rows use it.
	NewCurrency string
	// NullRates maps an optional field (see NullableFields) to the share of
	// rows in which it is emitted as JSON null or an empty CSV cell.
	NullRates map[string]float64
}

// CountryShare is one country=CC:share term of a drift spec.
type CountryShare struct {
	Code  string  // ISO 3166 alpha-2, one of the generator's countries
	Share float64 // in [0,1]
}

// newCurrencyShare is the share of drifted rows that use Drift.NewCurrency.
const newCurrencyShare = 0.15

// NullableFields lists the fields a drift may null, in a stable order. Only
// optional schema fields qualify.
func NullableFields() []string {
	return []string{"email", "country", "channel", "card_number", "merchant_category"}
}

// ParseDrift parses a drift spec: comma-separated key=value terms, for example
//
//	from=2026-01-20,amount_scale=1.8,country=BR:0.4,new_currency=BRL,null_rate=email:0.3
//
// Keys: from (required, YYYY-MM-DD), amount_scale (a number > 0),
// country=CC:share (repeatable), new_currency=CODE, null_rate=field:rate
// (repeatable, one per field). Shares and rates must lie in [0,1]. The error
// for a bad term names its key.
func ParseDrift(spec string) (Drift, error) {
	var d Drift
	seen := map[string]bool{}
	if strings.TrimSpace(spec) == "" {
		return d, errors.New("drift: empty spec; want e.g. from=2026-01-20,amount_scale=1.5")
	}
	for term := range strings.SplitSeq(spec, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		key, val, ok := strings.Cut(term, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return d, fmt.Errorf("drift: term %q: want key=value", term)
		}
		bad := func(format string, args ...any) (Drift, error) {
			return Drift{}, fmt.Errorf("drift: %s: "+format, append([]any{key}, args...)...)
		}
		switch key {
		case "from", "amount_scale", "new_currency":
			if seen[key] {
				return bad("given twice")
			}
			seen[key] = true
		}
		switch key {
		case "from":
			t, err := time.Parse(time.DateOnly, val)
			if err != nil {
				return bad("%q is not a date (YYYY-MM-DD)", val)
			}
			d.From = t
		case "amount_scale":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || !(f > 0) || f > 1e6 {
				return bad("%q is not a number in (0, 1e6]", val)
			}
			d.AmountScale = f
		case "country":
			cc, s, ok := strings.Cut(val, ":")
			if !ok {
				return bad("%q: want CC:share, e.g. BR:0.4", val)
			}
			cc = strings.ToUpper(strings.TrimSpace(cc))
			if countryIndex(cc) < 0 {
				return bad("unknown country %q (known: %s)", cc, strings.Join(countryCodes(), " "))
			}
			share, err := parseRate(s)
			if err != nil {
				return bad("%v", err)
			}
			for _, c := range d.Countries {
				if c.Code == cc {
					return bad("country %s given twice", cc)
				}
			}
			d.Countries = append(d.Countries, CountryShare{Code: cc, Share: share})
			var sum float64
			for _, c := range d.Countries {
				sum += c.Share
			}
			if sum > 1 {
				return bad("shares sum to %g, more than 1", sum)
			}
		case "new_currency":
			c := strings.ToUpper(val)
			if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return bad("%q is not a three-letter currency code", val)
			}
			if currencyInUse(c) {
				return bad("%s is already emitted; choose a code the generator never uses (e.g. XTS, CHF)", c)
			}
			d.NewCurrency = c
		case "null_rate":
			f, s, ok := strings.Cut(val, ":")
			if !ok {
				return bad("%q: want field:rate, e.g. email:0.3", val)
			}
			f = strings.TrimSpace(f)
			if !slices.Contains(NullableFields(), f) {
				return bad("field %q cannot be null (nullable: %s)", f, strings.Join(NullableFields(), " "))
			}
			r, err := parseRate(s)
			if err != nil {
				return bad("%v", err)
			}
			if _, dup := d.NullRates[f]; dup {
				return bad("field %s given twice", f)
			}
			if d.NullRates == nil {
				d.NullRates = map[string]float64{}
			}
			d.NullRates[f] = r
		default:
			return d, fmt.Errorf("drift: unknown key %q (known: from, amount_scale, country, new_currency, null_rate)", key)
		}
	}
	if d.From.IsZero() {
		return Drift{}, errors.New("drift: from: required, e.g. from=2026-01-20")
	}
	return d, nil
}

func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return 0, fmt.Errorf("%q is not a number in [0,1]", s)
	}
	return r, nil
}

// String returns the spec in canonical form; ParseDrift(d.String()) equals d
// for any d that ParseDrift returned.
func (d Drift) String() string {
	var b strings.Builder
	b.WriteString("from=" + d.From.Format(time.DateOnly))
	if d.AmountScale != 0 {
		b.WriteString(",amount_scale=" + strconv.FormatFloat(d.AmountScale, 'g', -1, 64))
	}
	for _, c := range d.Countries {
		b.WriteString(",country=" + c.Code + ":" + strconv.FormatFloat(c.Share, 'g', -1, 64))
	}
	if d.NewCurrency != "" {
		b.WriteString(",new_currency=" + d.NewCurrency)
	}
	for _, f := range NullableFields() {
		if r, ok := d.NullRates[f]; ok {
			b.WriteString(",null_rate=" + f + ":" + strconv.FormatFloat(r, 'g', -1, 64))
		}
	}
	return b.String()
}

// validate checks a Drift built by hand rather than by ParseDrift.
func (d *Drift) validate() error {
	if _, err := ParseDrift(d.String()); err != nil {
		return err
	}
	for f := range d.NullRates {
		if !slices.Contains(NullableFields(), f) {
			return fmt.Errorf("drift: null_rate: field %q cannot be null", f)
		}
	}
	if math.IsNaN(d.AmountScale) || d.AmountScale < 0 {
		return fmt.Errorf("drift: amount_scale: %g is not a number > 0", d.AmountScale)
	}
	return nil
}
