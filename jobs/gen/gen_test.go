package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

var day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testOptions(t testing.TB) Options {
	return Options{
		OutDir:     t.TempDir(),
		Start:      day0,
		Days:       3,
		RowsPerDay: 3000,
		Seed:       42,
		FaultRate:  DefaultFaultRate,
	}
}

func mustGenerate(t testing.TB, o Options) Summary {
	t.Helper()
	s, err := Generate(t.Context(), o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

// readAll returns the decompressed contents of every file, in order.
func readAll(t testing.TB, s Summary) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range s.Files {
		raw, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(raw)) != f.Bytes {
			t.Errorf("%s: summary says %d bytes, file has %d", f.Path, f.Bytes, len(raw))
		}
		var r io.Reader = bytes.NewReader(raw)
		switch filepath.Ext(f.Path) {
		case ".gz":
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			r = zr
		case ".zst":
			zr, err := zstd.NewReader(r)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			defer zr.Close()
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: decompress: %v", f.Path, err)
		}
		out = append(out, b)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	for _, tc := range []struct{ format, comp string }{
		{FormatJSONL, CompressNone}, {FormatCSV, CompressGzip}, {FormatJSONL, CompressZstd},
	} {
		t.Run(tc.format+"_"+tc.comp, func(t *testing.T) {
			o := testOptions(t)
			o.Format, o.Compression = tc.format, tc.comp
			o.Drift = &Drift{From: day0.AddDate(0, 0, 1), AmountScale: 2, NullRates: map[string]float64{"email": 0.2}}
			a := mustGenerate(t, o)
			o2 := o
			o2.OutDir, o2.Parallelism = t.TempDir(), 1 // serial must not change a byte
			b := mustGenerate(t, o2)
			for i := range a.Files {
				x, _ := os.ReadFile(a.Files[i].Path)
				y, _ := os.ReadFile(b.Files[i].Path)
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs between runs", filepath.Base(a.Files[i].Path))
				}
			}
			o3 := o
			o3.OutDir, o3.Seed = t.TempDir(), o.Seed+1
			c := mustGenerate(t, o3)
			for i := range a.Files {
				x, _ := os.ReadFile(a.Files[i].Path)
				y, _ := os.ReadFile(c.Files[i].Path)
				if bytes.Equal(x, y) {
					t.Errorf("%s: another seed gave the same bytes", filepath.Base(a.Files[i].Path))
				}
			}
			// A day's file depends on its date, not on where the run started.
			o4 := o
			o4.OutDir, o4.Start, o4.Days = t.TempDir(), day0.AddDate(0, 0, 2), 1
			d := mustGenerate(t, o4)
			x, _ := os.ReadFile(a.Files[2].Path)
			y, _ := os.ReadFile(d.Files[0].Path)
			if !bytes.Equal(x, y) {
				t.Error("the third day differs when generated alone")
			}
		})
	}
}

func TestLayoutAndSummary(t *testing.T) {
	for _, tc := range []struct {
		format, comp, name string
	}{
		{FormatJSONL, CompressNone, "transactions-2026-01-02.jsonl"},
		{FormatJSONL, CompressGzip, "transactions-2026-01-02.jsonl.gz"},
		{FormatCSV, CompressZstd, "transactions-2026-01-02.csv.zst"},
		{FormatCSV, CompressNone, "transactions-2026-01-02.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			o.OutDir = filepath.Join(o.OutDir, "new", "dir")
			o.Format, o.Compression = tc.format, tc.comp
			s := mustGenerate(t, o)
			if len(s.Files) != 3 || filepath.Base(s.Files[1].Path) != tc.name {
				t.Fatalf("files = %+v, want 3 with %s second", s.Files, tc.name)
			}
			ents, _ := os.ReadDir(o.OutDir)
			if len(ents) != 3 {
				t.Errorf("out dir holds %d entries, want 3 (no temp files)", len(ents))
			}
			if s.Rows != 9000 {
				t.Errorf("rows = %d, want 9000", s.Rows)
			}
			if got := slices.Sorted(mapKeys(s.Faults)); !slices.Equal(got, slices.Sorted(slices.Values(FaultKinds()))) {
				t.Errorf("fault kinds = %v", got)
			}
			if s.Late != s.Faults[FaultLate] || s.Duplicates != s.Faults[FaultDuplicate] {
				t.Errorf("late/duplicates disagree with faults: %+v", s)
			}
			for i, b := range readAll(t, s) {
				lines := bytes.Count(b, []byte("\n"))
				want := s.Files[i].Rows
				if tc.format == FormatCSV {
					want++
					if !bytes.HasPrefix(b, []byte(csvHeader)) {
						t.Errorf("no CSV header")
					}
				}
				empty := int64(bytes.Count(b, []byte("\n\n")))
				if bytes.HasPrefix(b, []byte("\n")) {
					empty++
				}
				if int64(lines) != want+empty {
					t.Errorf("file %d: %d lines, want %d rows + %d empty", i, lines, want, empty)
				}
			}
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestOutDirIsFile(t *testing.T) {
	o := testOptions(t)
	o.OutDir = filepath.Join(o.OutDir, "f")
	if err := os.WriteFile(o.OutDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(t.Context(), o)
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Options{OutDir: "x", Start: day0, Days: 1, RowsPerDay: 1}
	for _, tc := range []struct {
		name string
		mod  func(*Options)
	}{
		{"no out", func(o *Options) { o.OutDir = "" }},
		{"zero days", func(o *Options) { o.Days = 0 }},
		{"zero rows", func(o *Options) { o.RowsPerDay = 0 }},
		{"format", func(o *Options) { o.Format = "xml" }},
		{"compression", func(o *Options) { o.Compression = "lz4" }},
		{"fault rate", func(o *Options) { o.FaultRate = 1.5 }},
		{"fault rate NaN", func(o *Options) { o.FaultRate = math.NaN() }},
		{"start", func(o *Options) { o.Start = time.Time{} }},
		{"drift", func(o *Options) { o.Drift = &Drift{From: day0, NullRates: map[string]float64{"status": 0.1}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Validate = %v, want ErrInvalidOptions", err)
			}
		})
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(ok) = %v", err)
	}
}

// dayLines generates one day in memory and returns its lines with the fault
// kind of each.
func dayLines(t testing.TB, o Options, day time.Time) ([][]byte, []faultKind) {
	t.Helper()
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var kinds []faultKind
	if _, err := generateDay(t.Context(), newDayPlan(newPopulation(o.Seed, o.Customers), &o, day), &buf, &kinds); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if o.Format == FormatCSV {
		if !bytes.HasPrefix(b, []byte(csvHeader)) {
			t.Fatal("no CSV header")
		}
		b = b[len(csvHeader):]
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines[len(lines)-1]) != 0 {
		t.Fatal("last line does not end in a newline")
	}
	lines = lines[:len(lines)-1]
	if len(lines) != len(kinds) {
		t.Fatalf("%d lines, %d kinds", len(lines), len(kinds))
	}
	return lines, kinds
}

var (
	reTxID      = regexp.MustCompile(`^tx_[0-9a-f]{16}$`)
	reCustomer  = regexp.MustCompile(`^c_[0-9]{6,}$`)
	reMerchant  = regexp.MustCompile(`^m_[0-9]{5}$`)
	reEmail     = regexp.MustCompile(`^[a-z]+\.[a-z]+[0-9]{0,2}@[a-z]+\.[a-z]+$`)
	categoryEnu = []string{"grocery", "electronics", "travel", "restaurants", "fuel", "fashion", "entertainment", "health", "digital_goods", "utilities"}
	statusEnum  = []string{"authorized", "captured", "refunded", "declined"}
)

// row is a parsed line in the schema's terms, after normalisation.
type row struct {
	id, customer, currency, country, merchant, category, channel, status, email, card string
	cents                                                                             int64
	at                                                                                time.Time
	nulls                                                                             map[string]bool
}

func parseAmount(t testing.TB, s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return int64(math.Round(f * 100))
}

func parseTime(t testing.TB, v any) time.Time {
	switch v := v.(type) {
	case float64:
		return time.UnixMilli(int64(v)).UTC()
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			t.Fatalf("created_at %v: %v", v, err)
		}
		return time.UnixMilli(n).UTC()
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(n).UTC()
		}
		if tm, err := time.Parse("2006-01-02T15:04:05.000Z", v); err == nil {
			return tm
		}
		tm, err := time.Parse(time.DateTime, v)
		if err != nil {
			t.Fatalf("created_at %q: no schema format", v)
		}
		return tm
	}
	t.Fatalf("created_at %v (%T)", v, v)
	return time.Time{}
}

func str(v any) string { s, _ := v.(string); return s }

// checkRow asserts the schema on a clean row.
func checkRow(t testing.TB, r row) {
	t.Helper()
	if !reTxID.MatchString(r.id) || !reCustomer.MatchString(r.customer) || !reMerchant.MatchString(r.merchant) {
		t.Fatalf("bad ids: %+v", r)
	}
	if r.cents < 1 || r.cents > 100_000_000 {
		t.Fatalf("amount %d cents out of range", r.cents)
	}
	if !regexp.MustCompile(`^[A-Z]{3}$`).MatchString(r.currency) {
		t.Fatalf("currency %q", r.currency)
	}
	if !r.nulls["country"] && countryIndex(r.country) < 0 {
		t.Fatalf("country %q", r.country)
	}
	if !r.nulls["merchant_category"] && !slices.Contains(categoryEnu, r.category) {
		t.Fatalf("category %q", r.category)
	}
	if !r.nulls["channel"] && !slices.Contains(channels, r.channel) {
		t.Fatalf("channel %q", r.channel)
	}
	if !slices.Contains(statusEnum, r.status) {
		t.Fatalf("status %q", r.status)
	}
	if !r.nulls["email"] && !reEmail.MatchString(r.email) {
		t.Fatalf("email %q", r.email)
	}
	if !r.nulls["card_number"] && (len(r.card) != 16 || !luhnValid(r.card)) {
		t.Fatalf("card %q", r.card)
	}
}

func parseJSONRow(t testing.TB, line []byte) (row, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return row{}, err
	}
	r := row{nulls: map[string]bool{}}
	r.id, r.customer = str(m["transaction_id"]), str(m["customer_id"])
	amt, ok := m["amount"]
	if !ok {
		amt = m["amt"]
	}
	switch a := amt.(type) {
	case json.Number:
		r.cents = parseAmount(t, a.String())
	case string:
		r.cents = parseAmount(t, a)
	default:
		t.Fatalf("amount %v (%T)", amt, amt)
	}
	r.currency = strings.ToUpper(strings.TrimSpace(str(m["currency"])))
	r.status = strings.ToLower(strings.TrimSpace(str(m["status"])))
	mer, _ := m["merchant"].(map[string]any)
	r.merchant = str(mer["id"])
	r.category = str(mer["category"])
	r.nulls["merchant_category"] = mer["category"] == nil
	for _, f := range []struct {
		key string
		dst *string
	}{{"country", &r.country}, {"channel", &r.channel}, {"email", &r.email}, {"card_number", &r.card}} {
		v, ok := m[f.key]
		if !ok {
			t.Fatalf("no %s in %s", f.key, line)
		}
		r.nulls[f.key] = v == nil
		*f.dst = str(v)
	}
	r.email = strings.ToLower(r.email)
	r.at = parseTime(t, m["created_at"])
	return r, nil
}

func parseCSVRow(t testing.TB, line []byte) (row, error) {
	cr := csv.NewReader(bytes.NewReader(line))
	cr.FieldsPerRecord = 12
	rec, err := cr.Read()
	if err != nil {
		return row{}, err
	}
	r := row{id: rec[0], customer: rec[1], cents: parseAmount(t, rec[2]),
		currency: strings.ToUpper(strings.TrimSpace(rec[3])), country: rec[4], merchant: rec[5], category: rec[6],
		channel: rec[7], status: strings.ToLower(strings.TrimSpace(rec[8])), email: strings.ToLower(rec[9]), card: rec[10],
		nulls: map[string]bool{}}
	for k, i := range map[string]int{"country": 4, "merchant_category": 6, "channel": 7, "email": 9, "card_number": 10} {
		r.nulls[k] = rec[i] == ""
	}
	r.at = parseTime(t, rec[11])
	return r, nil
}

func parseRow(t testing.TB, format string, line []byte) (row, error) {
	if format == FormatCSV {
		return parseCSVRow(t, line)
	}
	return parseJSONRow(t, line)
}

func TestRowsMatchSchema(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			o := testOptions(t)
			o.Format, o.RowsPerDay, o.FaultRate = format, 20000, 0.05
			day := day0.AddDate(0, 0, 1)
			lines, kinds := dayLines(t, o, day)
			ids := map[string]bool{}
			var prev time.Time
			outOfOrder, legacy := 0, 0
			for i, line := range lines {
				k := kinds[i]
				switch k {
				case faultEmptyLine:
					if string(line) != "\n" {
						t.Fatalf("empty_line fault is %q", line)
					}
					continue
				case faultMalformed:
					if _, err := parseRow(t, format, line); err == nil {
						t.Fatalf("malformed line parses: %s", line)
					}
					continue
				case faultWrongType, faultMissingField, faultBadValue:
					continue // checked in TestFaultKinds
				case faultInvalidUTF8:
					if utf8.Valid(line) {
						t.Fatalf("invalid_utf8 line is valid UTF-8: %s", line)
					}
					continue
				}
				r, err := parseRow(t, format, line)
				if err != nil {
					t.Fatalf("line %d (%v): %v\n%s", i+1, k, err, line)
				}
				checkRow(t, r)
				if bytes.Contains(line, []byte(`"amt":`)) {
					legacy++
				}
				switch k {
				case faultDuplicate:
					if !ids[r.id] {
						t.Fatalf("duplicate %s repeats no earlier row", r.id)
					}
				case faultLate:
					if d := day.Sub(r.at); d <= 0 || d > 72*time.Hour {
						t.Fatalf("late row at %v, day %v", r.at, day)
					}
				default:
					if ids[r.id] {
						t.Fatalf("id %s not unique", r.id)
					}
					if utcDay(r.at) != day {
						t.Fatalf("row at %v is not on %v", r.at, day)
					}
					if r.at.Before(prev.Add(-time.Second)) {
						outOfOrder++
					}
					prev = r.at
				}
				ids[r.id] = true
			}
			if outOfOrder > 0 {
				t.Errorf("%d clean rows out of time order by more than a second", outOfOrder)
			}
			if format == FormatJSONL && (legacy < 500 || legacy > 1500) {
				t.Errorf("%d of 20000 rows use the legacy amt key, want about 5%%", legacy)
			}
		})
	}
}

func TestFaultKinds(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			o := testOptions(t)
			o.Format, o.RowsPerDay, o.FaultRate = format, 40000, 0.04
			lines, kinds := dayLines(t, o, day0)
			counts := map[faultKind]int{}
			for i, line := range lines {
				k := kinds[i]
				counts[k]++
				var m map[string]any
				switch k {
				case faultWrongType, faultMissingField, faultBadValue:
				default:
					continue
				}
				if format == FormatCSV {
					rec, err := csv.NewReader(bytes.NewReader(line)).Read()
					if err != nil || len(rec) != 12 {
						t.Fatalf("%v line does not parse as 12 CSV fields: %v %q", k, err, line)
					}
					var bad bool
					switch k {
					case faultWrongType:
						bad = rec[2] == "abc" || rec[11] == "yesterday"
					case faultMissingField:
						bad = rec[0] == "" || rec[11] == ""
					case faultBadValue:
						bad = strings.HasPrefix(rec[2], "-") || rec[3] == "EURO" || rec[8] == "pending"
					}
					if !bad {
						t.Fatalf("%v line shows no fault: %q", k, line)
					}
					continue
				}
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("%v line is not JSON: %v %s", k, err, line)
				}
				amt, ok := m["amount"]
				if !ok {
					amt = m["amt"]
				}
				var bad bool
				switch k {
				case faultWrongType:
					_, obj := amt.(map[string]any)
					bad = obj || amt == "abc" || m["created_at"] == "yesterday"
				case faultMissingField:
					_, hasID := m["transaction_id"]
					_, hasAt := m["created_at"]
					bad = !hasID || !hasAt
				case faultBadValue:
					f, isNum := amt.(float64)
					s, _ := amt.(string)
					bad = (isNum && f < 0) || strings.HasPrefix(s, "-") || m["currency"] == "EURO" || m["status"] == "pending"
				}
				if !bad {
					t.Fatalf("%v line shows no fault: %s", k, line)
				}
			}
			// 40000 slots at 4% over 8 kinds: about 200 each.
			total := 0
			for k := faultMalformed; k < numFaultKinds; k++ {
				total += counts[k]
				if counts[k] < 120 || counts[k] > 280 {
					t.Errorf("%v: %d faults, want about 200", k, counts[k])
				}
			}
			if total < 1400 || total > 1800 {
				t.Errorf("%d faults, want about 1600", total)
			}
		})
	}
}

func TestFaultRateZero(t *testing.T) {
	o := testOptions(t)
	o.FaultRate, o.Days = 0, 1
	s := mustGenerate(t, o)
	for k, n := range s.Faults {
		if n != 0 {
			t.Errorf("%s: %d faults at rate 0", k, n)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(readAll(t, s)[0]))
	for sc.Scan() {
		if _, err := parseJSONRow(t, sc.Bytes()); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
	}
}

func TestSummaryFaultsMatchRate(t *testing.T) {
	o := testOptions(t)
	o.RowsPerDay, o.FaultRate = 10000, 0.02
	s := mustGenerate(t, o)
	var total int64
	for _, n := range s.Faults {
		total += n
	}
	if want := 600.0; math.Abs(float64(total)-want) > 0.2*want {
		t.Errorf("%d faults in 30000 rows at 2%%, want about %v", total, want)
	}
}

// dayStat summarises one day's clean rows.
type dayStat struct {
	n, usd, br, emailNull int
	usdCents              float64
	newCur                int
}

func TestDrift(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			d, err := ParseDrift("from=2026-01-03,amount_scale=2,country=BR:0.4,new_currency=XTS,null_rate=email:0.3")
			if err != nil {
				t.Fatal(err)
			}
			o := testOptions(t)
			o.Format, o.Days, o.RowsPerDay, o.Drift = format, 4, 8000, &d
			var st [4]dayStat
			for i := range st {
				lines, kinds := dayLines(t, o, day0.AddDate(0, 0, i))
				for j, line := range lines {
					if kinds[j] != faultNone {
						continue
					}
					r, err := parseRow(t, format, line)
					if err != nil {
						t.Fatal(err)
					}
					s := &st[i]
					s.n++
					if r.currency == "USD" {
						s.usd++
						s.usdCents += float64(r.cents)
					}
					if r.country == "BR" {
						s.br++
					}
					if r.currency == "XTS" {
						s.newCur++
					}
					if r.nulls["email"] {
						s.emailNull++
					}
				}
			}
			share := func(a, b int) float64 { return float64(a) / float64(b) }
			before := (st[0].usdCents/float64(st[0].usd) + st[1].usdCents/float64(st[1].usd)) / 2
			for i, s := range st {
				drifted := i >= 2
				ratio := s.usdCents / float64(s.usd) / before
				br, nul, cur := share(s.br, s.n), share(s.emailNull, s.n), share(s.newCur, s.n)
				t.Logf("day %d: usd mean ratio %.2f, BR share %.3f, email null %.3f, XTS %.3f", i, ratio, br, nul, cur)
				if drifted {
					if ratio < 1.6 || ratio > 2.5 {
						t.Errorf("day %d: USD mean ratio %.2f, want about 2", i, ratio)
					}
					if br < 0.35 || br > 0.47 {
						t.Errorf("day %d: BR share %.3f, want about 0.4", i, br)
					}
					if nul < 0.27 || nul > 0.33 {
						t.Errorf("day %d: email null rate %.3f, want 0.3", i, nul)
					}
					if cur < 0.12 || cur > 0.18 {
						t.Errorf("day %d: new currency share %.3f, want 0.15", i, cur)
					}
				} else {
					if br > 0.12 || nul != 0 || cur != 0 {
						t.Errorf("day %d (before from): BR %.3f, email null %.3f, XTS %.3f", i, br, nul, cur)
					}
					if ratio < 0.8 || ratio > 1.25 {
						t.Errorf("day %d: USD mean ratio %.2f before drift", i, ratio)
					}
				}
			}
		})
	}
}

func TestCancel(t *testing.T) {
	o := testOptions(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Generate(ctx, o); err == nil {
		t.Fatal("no error after cancel")
	}
	ents, _ := os.ReadDir(o.OutDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestTimestampAndCivil(t *testing.T) {
	for _, ms := range []int64{0 + 7*msPerDay, 951782400000 - 1, 951782400000 + msPerDay, 1767225599999, 4102444800123, 253402300799999} {
		tm := time.UnixMilli(ms).UTC()
		if got, want := string(appendTimestamp(nil, ms, tsRFC3339)), tm.Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("%d: %s, want %s", ms, got, want)
		}
		if got, want := string(appendTimestamp(nil, ms, tsSpace)), tm.Format(time.DateTime); got != want {
			t.Errorf("%d: %s, want %s", ms, got, want)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, comp := range []string{CompressNone, CompressGzip, CompressZstd} {
		b.Run(comp, func(b *testing.B) {
			o := Options{OutDir: b.TempDir(), Start: day0, Days: 4, RowsPerDay: 100_000, Seed: 1,
				FaultRate: DefaultFaultRate, Compression: comp}
			s, err := Generate(b.Context(), o)
			if err != nil {
				b.Fatal(err)
			}
			var raw int64
			for _, f := range s.Files {
				raw += f.Bytes
			}
			if comp != CompressNone { // SetBytes counts uncompressed output
				o2 := o
				o2.Compression, o2.OutDir = CompressNone, b.TempDir()
				s2, err := Generate(b.Context(), o2)
				if err != nil {
					b.Fatal(err)
				}
				raw = 0
				for _, f := range s2.Files {
					raw += f.Bytes
				}
			}
			b.SetBytes(raw)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Generate(b.Context(), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
