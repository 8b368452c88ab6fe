package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Ground-truth labels, the values of the "label" key of a labels file and
// the keys of Summary.Fraud.
//
// With Options.FraudRate > 0, about that share of each day's rows belongs to
// an injected fraud pattern, split roughly evenly by rows between three
// patterns:
//
//   - a burst: one customer makes 10–15 purchases within 40 minutes. Every
//     burst row is labelled and carries the burst's burst_id and its 1-based
//     burst_seq; rows 1–9 are labelled LabelBurst, rows 10 on LabelVelocity
//     (the rows a "10 within the window" rule should tag);
//   - a new-country purchase (LabelNovelty): the customer buys from a country
//     other than their home country, in that country's currency, and has not
//     used that country in the previous 30 days of generated data;
//   - an outlier amount (LabelOutlier): 40–100 times the customer's typical
//     amount (the 75th percentile of their amount distribution), at most
//     1,000,000.
//
// Fraud rows are valid rows: they never carry a fault and are never repeated
// as duplicates. So that the labels are the whole truth, the rows around
// them change too when FraudRate > 0 (never when it is 0): customers are
// drawn uniformly instead of favouring a few very active ones (who would
// otherwise make 10 purchases an hour on their own), and ordinary rows are
// always made in the customer's home country.
const (
	LabelVelocity = "velocity" // burst row 10 and later
	LabelBurst    = "burst"    // burst rows 1–9
	LabelNovelty  = "novelty"  // new-country purchase
	LabelOutlier  = "outlier"  // outlier amount
)

// FraudLabels lists the labels in a stable order.
func FraudLabels() []string { return []string{LabelVelocity, LabelBurst, LabelNovelty, LabelOutlier} }

// MaxFraudRate is the largest Options.FraudRate.
const MaxFraudRate = 0.5

// LabelsFileName returns the name of the labels file of day:
// labels-2026-01-02.jsonl (plain JSON lines, whatever the compression).
func LabelsFileName(day time.Time) string {
	return "labels-" + utcDay(day).Format(time.DateOnly) + ".jsonl"
}

const (
	burstMin          = 10
	burstMax          = 15
	burstVelocityFrom = 10            // burst_seq from which a row is labelled velocity
	burstSpanMs       = 39*60000 + 59 // all rows of a burst lie within 40 minutes
	burstMeanSize     = (burstMin + burstMax) / 2.0

	// A customer may make a new-country purchase only on every
	// noveltyPeriod-th day, and the country cycles through the 11 foreign
	// countries, so the same country comes back after 33 days at the soonest.
	noveltyPeriod = 3

	outlierMinMult = 40.0
	outlierMaxMult = 100.0
	maxCents       = 100_000_000
)

type fraudKind uint8

const (
	fraudNone fraudKind = iota
	fraudVelocity
	fraudBurst
	fraudNovelty
	fraudOutlier
	numFraudKinds
)

func (k fraudKind) String() string { return FraudLabels()[k-1] }

// amountP75 is the 75th percentile of the category mixture of amounts (USD,
// customer level 1): a customer's "typical" amount is it times their level,
// fx and the drift's amount scale.
var amountP75 = func() float64 {
	var wsum float64
	for _, c := range categories {
		wsum += c.weight
	}
	cdf := func(x float64) float64 {
		var s float64
		for _, c := range categories {
			z := (math.Log(x) - math.Log(c.median)) / c.sigma
			s += c.weight / wsum * 0.5 * math.Erfc(-z/math.Sqrt2)
		}
		return s
	}
	lo, hi := 0.01, 1e6
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if cdf(mid) < 0.75 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}()

// burst is one planned burst of a day.
type burst struct {
	id       int
	customer int32
	size     int
	seq      int     // rows emitted so far
	times    []int64 // event times (Unix ms), set when the first row is made
}

// fraudState plans and labels the fraud rows of one day. It is used by one
// goroutine, in row order, with its own random stream, so the day's output
// depends only on the options and the date.
type fraudState struct {
	r                          *rand.Rand
	seed                       uint64
	dn                         int64
	pBurst, pNovelty, pOutlier float64
	stride                     int
	reserved                   map[int]*burst // future row slots of running bursts
	inBurst                    map[int32]bool // customers of running bursts
	novel                      map[int32]bool // customers with a new-country row today
	bursts                     int

	// the current row's plan
	cur      *burst
	customer int32

	counts [numFraudKinds]int64
	labels []byte
}

func newFraudState(seed int64, day time.Time, rows int, rate float64) *fraudState {
	dn := dayNumber(day)
	f := &fraudState{
		r:        rand.New(rand.NewPCG(mix64(uint64(seed)^0x6672617564), mix64(uint64(dn)^0x6c6162656c73))), // "fraud", "labels"
		seed:     uint64(seed),
		dn:       dn,
		reserved: map[int]*burst{},
		inBurst:  map[int32]bool{},
		novel:    map[int32]bool{},
		stride:   max(1, min(50, rows/1000)),
	}
	// Bursts reserve burstMeanSize-1 later slots for each start, so the
	// per-slot probabilities are taken over the slots left free.
	free := 1 - rate*(burstMeanSize-1)/(3*burstMeanSize)
	f.pBurst = rate / (3 * burstMeanSize) / free
	f.pNovelty = rate / 3 / free
	f.pOutlier = rate / 3 / free
	return f
}

// slot decides whether row slot i of the day is a fraud row, and of which
// kind. It is called once per slot, in order.
func (f *fraudState) slot(p *dayPlan, i int) fraudKind {
	if b, ok := f.reserved[i]; ok {
		delete(f.reserved, i)
		f.cur = b
		return f.burstKind(b)
	}
	f.cur = nil
	v := f.r.Float64()
	switch {
	case v < f.pBurst:
		if b := f.startBurst(p, i); b != nil {
			f.cur = b
			return f.burstKind(b)
		}
	case v < f.pBurst+f.pNovelty:
		if f.pickNovelty(p) {
			return fraudNovelty
		}
	case v < f.pBurst+f.pNovelty+f.pOutlier:
		if f.pickOutlier(p) {
			return fraudOutlier
		}
	}
	return fraudNone
}

func (f *fraudState) burstKind(b *burst) fraudKind {
	if b.seq+1 >= burstVelocityFrom {
		return fraudVelocity
	}
	return fraudBurst
}

// startBurst plans a burst whose first row is slot i, or returns nil if the
// burst does not fit into the rest of the day.
func (f *fraudState) startBurst(p *dayPlan, i int) *burst {
	n := len(p.pop.customers)
	var c int32 = -1
	for range 16 {
		if x := int32(f.r.IntN(n)); !f.inBurst[x] {
			c = x
			break
		}
	}
	if c < 0 {
		return nil
	}
	size := burstMin + f.r.IntN(burstMax-burstMin+1)
	slots := make([]int, 0, size-1)
	s := i
	for range size - 1 {
		s += f.stride
		for f.reserved[s] != nil || slices.Contains(slots, s) {
			s++
		}
		if s >= p.rows {
			return nil
		}
		slots = append(slots, s)
	}
	b := &burst{id: f.bursts, customer: c, size: size}
	f.bursts++
	for _, s := range slots {
		f.reserved[s] = b
	}
	f.inBurst[c] = true
	return b
}

// noveltyOffsets returns the customer's day offset (which days in
// noveltyPeriod they may buy abroad) and country offset.
func (f *fraudState) noveltyOffsets(c int32) (dayOff, countryOff int64) {
	h := mix64(f.seed ^ mix64(uint64(c)+0x6e6f76656c)) // "novel"
	return int64(h % noveltyPeriod), int64((h >> 8) % uint64(len(countries)-1))
}

// noveltyCountry returns the foreign country customer c uses on day dn,
// or -1 if dn is not one of c's new-country days.
func (f *fraudState) noveltyCountry(p *dayPlan, c int32) int {
	dayOff, countryOff := f.noveltyOffsets(c)
	if (f.dn+dayOff)%noveltyPeriod != 0 {
		return -1
	}
	e := (f.dn + dayOff) / noveltyPeriod
	k := int((e + countryOff) % int64(len(countries)-1))
	if home := int(p.pop.customers[c].country); k >= home {
		k++ // skip the home country
	}
	return k
}

func (f *fraudState) pickNovelty(p *dayPlan) bool {
	n := len(p.pop.customers)
	for range 32 {
		c := int32(f.r.IntN(n))
		if !f.novel[c] && !f.inBurst[c] && f.noveltyCountry(p, c) >= 0 {
			f.novel[c] = true
			f.customer = c
			return true
		}
	}
	return false
}

// typicalAmount is customer c's typical amount (in their home currency) on
// the plan's day.
func typicalAmount(p *dayPlan, c int32) float64 {
	cust := &p.pop.customers[c]
	return amountP75 * cust.level * countries[cust.country].fx * p.amtScale
}

func (f *fraudState) pickOutlier(p *dayPlan) bool {
	n := len(p.pop.customers)
	for range 16 {
		c := int32(f.r.IntN(n))
		if !f.inBurst[c] && outlierMinMult*typicalAmount(p, c) <= maxCents/100 {
			f.customer = c
			return true
		}
	}
	return false
}

// apply turns the freshly drawn clean row t into a fraud row of kind k and
// records its label.
func (f *fraudState) apply(p *dayPlan, k fraudKind, t *txn) {
	c := f.customer
	if f.cur != nil {
		c = f.cur.customer
	}
	cust := &p.pop.customers[c]
	country := int(cust.country)
	if k == fraudNovelty {
		country = f.noveltyCountry(p, c)
	}
	ct := &countries[country]
	t.customer = c
	t.country, t.currency = ct.code, ct.currency
	t.nulls &^= nullCountry

	var amt float64
	if k == fraudOutlier {
		amt = (outlierMinMult + (outlierMaxMult-outlierMinMult)*f.r.Float64()) * typicalAmount(p, c)
	} else {
		cat := &categories[p.pop.merchants[t.merchant].category]
		amt = cat.median * math.Exp(cat.sigma*f.r.NormFloat64()) * cust.level * ct.fx * p.amtScale
	}
	if ct.wholeAmt {
		amt = math.Round(amt)
	}
	t.cents = max(1, min(int64(math.Round(amt*100)), maxCents))

	b := f.cur
	if b != nil {
		if b.seq == 0 {
			dayEnd := p.day.UnixMilli() + msPerDay - 1
			t0 := min(t.tsMs, dayEnd-burstSpanMs)
			b.times = make([]int64, b.size)
			for j := 1; j < b.size; j++ {
				b.times[j] = f.r.Int64N(burstSpanMs + 1)
			}
			slices.Sort(b.times)
			for j := range b.times {
				b.times[j] += t0
			}
		}
		t.tsMs = b.times[b.seq]
		b.seq++
		if b.seq == b.size {
			delete(f.inBurst, b.customer)
		}
	}

	if t.tsForm == tsSpace {
		t.tsMs -= t.tsMs % 1000 // the label's time is the time the row says
	}

	f.counts[k]++
	l := f.labels
	l = append(l, `{"transaction_id":"tx_`...)
	l = appendHex16(l, t.id)
	l = append(l, `","label":"`...)
	l = append(l, k.String()...)
	l = append(l, `","customer_id":"`...)
	l = append(l, cust.id...)
	l = append(l, `","created_at":"`...)
	l = appendTimestamp(l, t.tsMs, tsRFC3339)
	l = append(l, '"')
	if b != nil {
		l = append(l, `,"burst_id":"b_`...)
		l = append(l, p.day.Format("20060102")...)
		l = append(l, '_')
		l = strconv.AppendInt(l, int64(b.id), 10)
		l = append(l, `","burst_seq":`...)
		l = strconv.AppendInt(l, int64(b.seq), 10)
	}
	f.labels = append(l, "}\n"...)
}

// writeLabels writes the day's labels file under a temporary name and
// renames it into place.
func writeLabels(dir string, day time.Time, f *fraudState) (_ File, err error) {
	final := filepath.Join(dir, LabelsFileName(day))
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return File{}, fmt.Errorf("write %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", final, err)
		}
	}()
	if _, err = tmp.Write(f.labels); err != nil {
		return File{}, err
	}
	if err = tmp.Chmod(0o644); err == nil {
		if err = tmp.Sync(); err == nil {
			err = tmp.Close()
		}
	}
	if err != nil {
		return File{}, err
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return File{}, err
	}
	var rows int64
	for _, c := range f.counts {
		rows += c
	}
	return File{Path: final, Rows: rows, Bytes: int64(len(f.labels))}, nil
}
