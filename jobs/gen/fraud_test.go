package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFraudOffUnchanged pins the output with FraudRate 0 to hashes taken
// before fraud injection existed: the feature must not move a byte.
func TestFraudOffUnchanged(t *testing.T) {
	for _, tc := range []struct {
		format, comp string
		drift        bool
		want         string
	}{
		{FormatJSONL, CompressNone, false, "739003f2db75d80dc9ed297e2597e288ef909f13f59af0d7812f73b9e09df6f2"},
		{FormatCSV, CompressGzip, true, "0f7391b506cf79aeef37d772532a086b966dd3b35d6d18e07861c85b7d1d9d6e"},
		{FormatJSONL, CompressZstd, true, "8b474393eebe564c98a7e2531631a32707f1ca103c1a4b0f6608a7d7e87c3784"},
	} {
		t.Run(tc.format+"_"+tc.comp, func(t *testing.T) {
			o := testOptions(t)
			o.Format, o.Compression = tc.format, tc.comp
			if tc.drift {
				o.Drift = &Drift{From: day0.AddDate(0, 0, 1), AmountScale: 2, Countries: []CountryShare{{"BR", 0.3}},
					NewCurrency: "CHF", NullRates: map[string]float64{"email": 0.2}}
			}
			s := mustGenerate(t, o)
			h := sha256.New()
			for _, f := range s.Files {
				b, err := os.ReadFile(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				h.Write(b)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("output hash %s, want %s", got, tc.want)
			}
			if s.Fraud != nil || s.LabelFiles != nil {
				t.Errorf("fraud summary with FraudRate 0: %v %v", s.Fraud, s.LabelFiles)
			}
			if m, _ := filepath.Glob(filepath.Join(o.OutDir, "labels-*")); len(m) > 0 {
				t.Errorf("labels files with FraudRate 0: %v", m)
			}
		})
	}
}

func TestFraudRateValidate(t *testing.T) {
	ok := Options{OutDir: "x", Start: day0, Days: 1, RowsPerDay: 1}
	for _, r := range []float64{-0.1, 0.51, 1.5, math.NaN(), math.Inf(1)} {
		o := ok
		o.FraudRate = r
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "fraud rate") {
			t.Errorf("FraudRate %g: Validate = %v", r, err)
		}
	}
	for _, r := range []float64{0, 0.01, MaxFraudRate} {
		o := ok
		o.FraudRate = r
		if err := o.Validate(); err != nil {
			t.Errorf("FraudRate %g: Validate = %v", r, err)
		}
	}
}

func readFiles(t *testing.T, fs []File) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range fs {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestFraudDeterministic(t *testing.T) {
	for _, tc := range []struct{ format, comp string }{{FormatJSONL, CompressNone}, {FormatCSV, CompressGzip}} {
		t.Run(tc.format+"_"+tc.comp, func(t *testing.T) {
			o := testOptions(t)
			o.Format, o.Compression, o.FraudRate = tc.format, tc.comp, 0.1
			a := mustGenerate(t, o)
			o2 := o
			o2.OutDir, o2.Parallelism = t.TempDir(), 1
			b := mustGenerate(t, o2)
			if len(a.LabelFiles) != o.Days || len(b.LabelFiles) != o.Days {
				t.Fatalf("label files %d/%d, want %d", len(a.LabelFiles), len(b.LabelFiles), o.Days)
			}
			for _, pair := range [][2][]File{{a.Files, b.Files}, {a.LabelFiles, b.LabelFiles}} {
				x, y := readFiles(t, pair[0]), readFiles(t, pair[1])
				for i := range x {
					if !bytes.Equal(x[i], y[i]) {
						t.Errorf("%s differs between parallel and serial runs", filepath.Base(pair[0][i].Path))
					}
				}
			}
			// A day alone gives the same data and labels.
			o3 := o
			o3.OutDir, o3.Start, o3.Days = t.TempDir(), day0.AddDate(0, 0, 2), 1
			c := mustGenerate(t, o3)
			if !bytes.Equal(readFiles(t, a.Files[2:])[0], readFiles(t, c.Files)[0]) ||
				!bytes.Equal(readFiles(t, a.LabelFiles[2:])[0], readFiles(t, c.LabelFiles)[0]) {
				t.Error("the third day differs when generated alone")
			}
			if filepath.Base(a.LabelFiles[1].Path) != "labels-2026-01-02.jsonl" {
				t.Errorf("label file name %s", a.LabelFiles[1].Path)
			}
			// Fraud changes the data.
			o4 := o
			o4.OutDir, o4.FraudRate = t.TempDir(), 0
			d := mustGenerate(t, o4)
			if bytes.Equal(readFiles(t, a.Files[:1])[0], readFiles(t, d.Files[:1])[0]) {
				t.Error("FraudRate 0.1 gave the same bytes as 0")
			}
		})
	}
}

type label struct {
	ID       string `json:"transaction_id"`
	Label    string `json:"label"`
	Customer string `json:"customer_id"`
	At       string `json:"created_at"`
	BurstID  string `json:"burst_id"`
	BurstSeq int    `json:"burst_seq"`
}

// looseRow is what a lenient reader gets from any line, faulty or not.
type looseRow struct {
	id, customer, country string
	cents                 int64 // 0 if unreadable
	at                    time.Time
	ok                    bool // customer, country and time read
}

func parseLoose(line []byte) looseRow {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return looseRow{}
	}
	r := looseRow{id: str(m["transaction_id"]), customer: str(m["customer_id"]), country: str(m["country"])}
	amt, ok := m["amount"]
	if !ok {
		amt = m["amt"]
	}
	var as string
	switch a := amt.(type) {
	case json.Number:
		as = a.String()
	case string:
		as = a
	}
	if f, err := strconv.ParseFloat(as, 64); err == nil && f > 0 {
		r.cents = int64(math.Round(f * 100))
	}
	switch v := m["created_at"].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			r.at = time.UnixMilli(n).UTC()
		}
	case string:
		if tm, err := time.Parse("2006-01-02T15:04:05.000Z", v); err == nil {
			r.at = tm
		} else if tm, err := time.Parse(time.DateTime, v); err == nil {
			r.at = tm
		}
	}
	r.ok = r.customer != "" && r.country != "" && !r.at.IsZero()
	return r
}

var reAnyTxID = regexp.MustCompile(`tx_[0-9a-f]{16}`)

func median(v []int64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}

func TestFraudLabels(t *testing.T) {
	for _, rate := range []float64{0.06, MaxFraudRate} {
		t.Run(strconv.FormatFloat(rate, 'g', -1, 64), func(t *testing.T) {
			checkFraudLabels(t, rate)
		})
	}
}

func checkFraudLabels(t *testing.T, rate float64) {
	o := testOptions(t)
	o.Days, o.RowsPerDay, o.FraudRate, o.Seed = 40, 1500, rate, 7
	if rate > 0.2 {
		o.Days = 10
	}
	s := mustGenerate(t, o)
	pop := newPopulation(o.Seed, o.withDefaults().Customers)

	// Every line of the logs, with the count of each transaction id.
	var lines [][]byte
	for _, b := range readAll(t, s) {
		for l := range bytes.Lines(b) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, l)
			}
		}
	}
	idCount := map[string]int{}
	lineOf := map[string][]byte{}
	for _, l := range lines {
		for _, id := range reAnyTxID.FindAll(l, -1) {
			idCount[string(id)]++
			lineOf[string(id)] = l
		}
	}

	// The labels.
	var labels []label
	counts := map[string]int64{}
	for i, f := range s.LabelFiles {
		if want := filepath.Join(o.OutDir, LabelsFileName(o.Start.AddDate(0, 0, i))); f.Path != want {
			t.Errorf("label file %s, want %s", f.Path, want)
		}
		b := readFiles(t, []File{f})[0]
		if int64(len(b)) != f.Bytes || int64(bytes.Count(b, []byte("\n"))) != f.Rows {
			t.Errorf("%s: summary %+v, file has %d bytes, %d lines", f.Path, f, len(b), bytes.Count(b, []byte("\n")))
		}
		for l := range bytes.Lines(b) {
			var lb label
			d := json.NewDecoder(bytes.NewReader(l))
			d.DisallowUnknownFields()
			if err := d.Decode(&lb); err != nil {
				t.Fatalf("%s: %v: %s", f.Path, err, l)
			}
			labels = append(labels, lb)
			counts[lb.Label]++
		}
	}
	for _, l := range FraudLabels() {
		if s.Fraud[l] != counts[l] {
			t.Errorf("summary fraud[%s] = %d, labels files have %d", l, s.Fraud[l], counts[l])
		}
	}
	if len(s.Fraud) != len(FraudLabels()) {
		t.Errorf("summary fraud = %v", s.Fraud)
	}

	// Each labelled row is in the logs exactly once and is a valid row.
	fraud := map[string]label{}
	for _, lb := range labels {
		if _, dup := fraud[lb.ID]; dup {
			t.Fatalf("%s labelled twice", lb.ID)
		}
		fraud[lb.ID] = lb
		if n := idCount[lb.ID]; n != 1 {
			t.Fatalf("%s occurs %d times in the logs", lb.ID, n)
		}
		r, err := parseJSONRow(t, lineOf[lb.ID])
		if err != nil {
			t.Fatalf("%s: %v", lb.ID, err)
		}
		checkRow(t, r)
		at, err := time.Parse(time.RFC3339, lb.At)
		if err != nil {
			t.Fatalf("created_at %q: %v", lb.At, err)
		}
		if r.id != lb.ID || r.customer != lb.Customer || !r.at.Equal(at) {
			t.Fatalf("label %+v does not match row %+v", lb, r)
		}
	}

	// The rest, read leniently: history per customer.
	home := map[string]string{}
	amounts := map[string][]int64{}
	type visit struct {
		country string
		at      time.Time
	}
	visits := map[string][]visit{}
	for _, l := range lines {
		r := parseLoose(l)
		if !r.ok {
			continue
		}
		visits[r.customer] = append(visits[r.customer], visit{r.country, r.at})
		if _, ok := fraud[r.id]; ok {
			continue
		}
		if h, ok := home[r.customer]; ok && h != r.country {
			t.Fatalf("customer %s buys in %s and %s outside novelty rows", r.customer, h, r.country)
		}
		home[r.customer] = r.country
		if r.cents > 0 {
			amounts[r.customer] = append(amounts[r.customer], r.cents)
		}
	}

	bursts := map[string][]label{}
	outliersChecked := 0
	for _, lb := range labels {
		r, _ := parseJSONRow(t, lineOf[lb.ID])
		switch lb.Label {
		case LabelVelocity, LabelBurst:
			bursts[lb.BurstID] = append(bursts[lb.BurstID], lb)
			if (lb.BurstSeq >= 10) != (lb.Label == LabelVelocity) {
				t.Errorf("%s: burst_seq %d labelled %s", lb.ID, lb.BurstSeq, lb.Label)
			}
		case LabelNovelty:
			if lb.BurstID != "" {
				t.Errorf("novelty %s has a burst id", lb.ID)
			}
			h := home[r.customer]
			if h == "" { // no ordinary row: the population says
				h = countries[pop.customers[parseCustomer(t, r.customer)].country].code
			}
			if h == r.country {
				t.Errorf("novelty %s: country %s, home %q", lb.ID, r.country, h)
			}
			if cur := countries[countryIndex(r.country)].currency; r.currency != cur {
				t.Errorf("novelty %s: currency %s in %s", lb.ID, r.currency, r.country)
			}
			for _, v := range visits[r.customer] {
				if v.country == r.country && v.at.Before(r.at) && !v.at.Before(r.at.Add(-30*24*time.Hour)) {
					t.Errorf("novelty %s: %s used %s at %s, within 30 days before %s", lb.ID, r.customer, r.country, v.at, r.at)
				}
			}
		case LabelOutlier:
			if h := home[r.customer]; h != "" && h != r.country {
				t.Errorf("outlier %s abroad", lb.ID)
			}
			if a := amounts[r.customer]; len(a) >= 15 { // a median of fewer rows is too noisy
				outliersChecked++
				if m := median(a); float64(r.cents) < 15*m {
					t.Errorf("outlier %s: %d cents < 15 × median %g of %d rows", lb.ID, r.cents, m, len(a))
				}
			}
		default:
			t.Errorf("label %q", lb.Label)
		}
	}
	if rate < 0.1 && int64(outliersChecked) < counts[LabelOutlier]/2 {
		t.Errorf("only %d of %d outliers have a history to check", outliersChecked, counts[LabelOutlier])
	}
	for id, rows := range bursts {
		slices.SortFunc(rows, func(a, b label) int { return a.BurstSeq - b.BurstSeq })
		if len(rows) < 10 || len(rows) > 15 {
			t.Errorf("burst %s has %d rows", id, len(rows))
		}
		first, _ := time.Parse(time.RFC3339, rows[0].At)
		for i, lb := range rows {
			at, _ := time.Parse(time.RFC3339, lb.At)
			if lb.BurstSeq != i+1 || lb.Customer != rows[0].Customer {
				t.Errorf("burst %s row %d: %+v", id, i, lb)
			}
			if at.Before(first) || at.Sub(first) >= 40*time.Minute {
				t.Errorf("burst %s: row %d at %s, first at %s", id, i+1, at, first)
			}
		}
	}

	// About rate × rows, split roughly evenly.
	total := float64(len(labels))
	want := rate * float64(s.Rows)
	if total < 0.7*want || total > 1.3*want {
		t.Errorf("%g labelled rows, want %g ± 30%%", total, want)
	}
	for name, n := range map[string]int64{
		"burst": counts[LabelVelocity] + counts[LabelBurst], "novelty": counts[LabelNovelty], "outlier": counts[LabelOutlier],
	} {
		if share := float64(n) / total; share < 0.2 || share > 0.47 {
			t.Errorf("%s rows are %.2f of the labelled rows", name, share)
		}
	}
	t.Logf("rows %d, labelled %v (%.4f), bursts %d, outliers checked %d", s.Rows, counts, total/float64(s.Rows), len(bursts), outliersChecked)
}

// TestFraudCSV checks that labelled rows are valid CSV rows too.
func TestFraudCSV(t *testing.T) {
	o := testOptions(t)
	o.Format, o.FraudRate = FormatCSV, 0.1
	s := mustGenerate(t, o)
	ids := map[string]int{}
	lineOf := map[string][]byte{}
	for _, b := range readAll(t, s) {
		for l := range bytes.Lines(b) {
			for _, id := range reAnyTxID.FindAll(l, -1) {
				ids[string(id)]++
				lineOf[string(id)] = l
			}
		}
	}
	n := 0
	for _, b := range readFiles(t, s.LabelFiles) {
		for l := range bytes.Lines(b) {
			var lb label
			if err := json.Unmarshal(l, &lb); err != nil {
				t.Fatal(err)
			}
			if ids[lb.ID] != 1 {
				t.Fatalf("%s occurs %d times", lb.ID, ids[lb.ID])
			}
			r, err := parseCSVRow(t, lineOf[lb.ID])
			if err != nil {
				t.Fatalf("%s: %v", lb.ID, err)
			}
			checkRow(t, r)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no labels")
	}
}

func parseCustomer(t *testing.T, id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "c_"))
	if err != nil {
		t.Fatalf("customer id %q", id)
	}
	return n
}
