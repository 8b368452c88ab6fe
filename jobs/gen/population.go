package gen

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// country is one home country of the customer population.
type country struct {
	code     string
	currency string
	weight   float64 // share of customers
	fx       float64 // units of currency per USD, scales amounts
	wholeAmt bool    // amounts are whole units (JPY)
}

var countries = []country{
	{"US", "USD", 0.30, 1, false},
	{"GB", "GBP", 0.10, 0.79, false},
	{"DE", "EUR", 0.10, 0.92, false},
	{"FR", "EUR", 0.08, 0.92, false},
	{"ES", "EUR", 0.05, 0.92, false},
	{"IT", "EUR", 0.05, 0.92, false},
	{"NL", "EUR", 0.04, 0.92, false},
	{"BR", "BRL", 0.06, 5.0, false},
	{"IN", "INR", 0.06, 83, false},
	{"JP", "JPY", 0.05, 150, true},
	{"CA", "CAD", 0.06, 1.35, false},
	{"AU", "AUD", 0.05, 1.5, false},
}

func countryIndex(code string) int {
	for i, c := range countries {
		if c.code == code {
			return i
		}
	}
	return -1
}

func countryCodes() []string {
	out := make([]string, len(countries))
	for i, c := range countries {
		out[i] = c.code
	}
	return out
}

func currencyInUse(code string) bool {
	for _, c := range countries {
		if c.currency == code {
			return true
		}
	}
	return false
}

// Merchant categories, exactly the schema's enum, with their share of
// transactions and log-normal amount parameters (median in USD, sigma).
var categories = []struct {
	name   string
	weight float64
	median float64
	sigma  float64
}{
	{"grocery", 0.20, 35, 0.6},
	{"electronics", 0.06, 180, 0.9},
	{"travel", 0.04, 420, 0.8},
	{"restaurants", 0.18, 28, 0.6},
	{"fuel", 0.10, 45, 0.4},
	{"fashion", 0.09, 70, 0.7},
	{"entertainment", 0.08, 25, 0.8},
	{"health", 0.07, 40, 0.8},
	{"digital_goods", 0.11, 9, 0.9},
	{"utilities", 0.07, 85, 0.5},
}

var channels = []string{"web", "app", "pos"}

var firstNames = []string{
	"james", "mary", "john", "linda", "michael", "sarah", "david", "emma", "oliver", "olivia",
	"lucas", "sophie", "noah", "mia", "liam", "anna", "lukas", "lea", "hugo", "chloe",
	"mateo", "lucia", "marco", "giulia", "daan", "sanne", "gabriel", "ana", "arjun", "priya",
	"rahul", "aisha", "haruto", "yui", "sota", "hina", "william", "charlotte", "jack", "isla",
}

var lastNames = []string{
	"smith", "johnson", "brown", "taylor", "wilson", "jones", "miller", "davis", "garcia", "martin",
	"muller", "schmidt", "schneider", "fischer", "dubois", "bernard", "moreau", "lopez", "martinez", "sanchez",
	"rossi", "russo", "ferrari", "dejong", "jansen", "silva", "santos", "oliveira", "sharma", "patel",
	"kumar", "singh", "sato", "suzuki", "takahashi", "tanaka", "nguyen", "walker", "clarke", "roy",
}

var emailDomains = []struct {
	name   string
	weight float64
}{
	{"gmail.com", 0.45}, {"yahoo.com", 0.12}, {"outlook.com", 0.12}, {"hotmail.com", 0.10},
	{"icloud.com", 0.11}, {"proton.me", 0.04}, {"example.org", 0.06},
}

type customer struct {
	id      string
	email   string
	card    string
	level   float64 // spending multiplier, log-normal around 1
	country uint8
	channel uint8 // preferred channel
}

type merchant struct {
	id       string
	category uint8
}

// population is the fixed cast shared by every day: customers and merchants.
// It depends only on the seed and the customer count, and is read-only once
// built.
type population struct {
	customers   []customer
	byCountry   [][]int32 // customer indexes per home country
	merchants   []merchant
	byCategory  [][]int32 // merchant indexes per category
	countryCum  []float64
	categoryCum []float64
}

const numMerchants = 1000

func newPopulation(seed int64, n int) *population {
	r := rand.New(rand.NewPCG(mix64(uint64(seed)^0x9e3779b97f4a7c15), 0x706f70756c617469)) // "populati"
	p := &population{
		customers:   make([]customer, n),
		byCountry:   make([][]int32, len(countries)),
		merchants:   make([]merchant, numMerchants),
		byCategory:  make([][]int32, len(categories)),
		countryCum:  cumulative(len(countries), func(i int) float64 { return countries[i].weight }),
		categoryCum: cumulative(len(categories), func(i int) float64 { return categories[i].weight }),
	}
	domainCum := cumulative(len(emailDomains), func(i int) float64 { return emailDomains[i].weight })
	width := max(6, len(strconv.Itoa(n-1)))
	for i := range p.customers {
		c := &p.customers[i]
		c.id = "c_" + zeroPad(i, width)
		ci := pick(r, p.countryCum)
		c.country = uint8(ci)
		p.byCountry[ci] = append(p.byCountry[ci], int32(i))
		c.level = math.Exp(0.5*r.NormFloat64() - 0.125) // mean 1
		c.channel = uint8(pick(r, []float64{0.35, 0.75, 1}))
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		if r.Float64() < 0.03 { // some people type their own name capitalised
			first = string(first[0]-'a'+'A') + first[1:]
			last = string(last[0]-'a'+'A') + last[1:]
		}
		e := first + "." + last
		if r.Float64() < 0.7 {
			e += strconv.Itoa(1 + r.IntN(99))
		}
		c.email = e + "@" + emailDomains[pick(r, domainCum)].name
		c.card = cardNumber(r)
	}
	for i := range p.merchants {
		cat := i // the first merchants cover every category once
		if i >= len(categories) {
			cat = pick(r, p.categoryCum)
		}
		p.merchants[i] = merchant{id: "m_" + zeroPad(i, 5), category: uint8(cat)}
		p.byCategory[cat] = append(p.byCategory[cat], int32(i))
	}
	return p
}

// cardNumber returns a 16-digit Visa or Mastercard-like number with a valid
// Luhn check digit.
func cardNumber(r *rand.Rand) string {
	var d [16]byte
	n := 0
	if r.Float64() < 0.6 {
		d[0], n = 4, 1
	} else {
		d[0], d[1], n = 5, byte(1+r.IntN(5)), 2
	}
	for ; n < 15; n++ {
		d[n] = byte(r.IntN(10))
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := int(d[i])
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte((10 - sum%10) % 10)
	for i := range d {
		d[i] += '0'
	}
	return string(d[:])
}

// luhnValid reports whether s is a digit string with a valid Luhn check digit.
func luhnValid(s string) bool {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		v := int(s[i] - '0')
		if v < 0 || v > 9 {
			return false
		}
		if (len(s)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return len(s) > 0 && sum%10 == 0
}

func cumulative(n int, w func(int) float64) []float64 {
	out := make([]float64, n)
	var s float64
	for i := range n {
		s += w(i)
		out[i] = s
	}
	for i := range out {
		out[i] /= s
	}
	out[n-1] = 1
	return out
}

// pick draws an index from a cumulative distribution.
func pick(r *rand.Rand, cum []float64) int {
	u := r.Float64()
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

func zeroPad(v, width int) string {
	s := strconv.Itoa(v)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// mix64 is the splitmix64 finaliser, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
