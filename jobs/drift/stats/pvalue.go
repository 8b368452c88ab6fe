package stats

import (
	"math"
)

// ksMaxAutoN is scipy.stats.ks_2samp's MAX_AUTO_N: with method='auto' the exact
// distribution is used when max(nRef, nCur) <= 10000, the asymptotic one otherwise.
const ksMaxAutoN = 10000

// KSExact reports whether KSPValue uses the exact two-sample distribution for
// these sample sizes (scipy 1.17 ks_2samp, method='auto').
func KSExact(nRef, nCur int64) bool {
	return nRef > 0 && nCur > 0 && max(nRef, nCur) <= ksMaxAutoN
}

// KSStatistic returns the KS statistic exactly as scipy reports it: on the exact
// path scipy rounds D to the lattice h/lcm(nRef, nCur) (h = round(D*lcm)); on the
// asymptotic path D is returned unchanged.
func KSStatistic(d float64, nRef, nCur int64) float64 {
	if !KSExact(nRef, nCur) {
		return d
	}
	g := gcd(nRef, nCur)
	lcm := float64((nRef / g) * nCur)
	return math.RoundToEven(d*lcm) / lcm
}

// KSPValue is the two-sided p-value of the two-sample Kolmogorov-Smirnov
// statistic d for samples of sizes nRef and nCur, selected as
// scipy.stats.ks_2samp(method='auto', alternative='two-sided') does in scipy 1.17:
//
//   - max(nRef, nCur) <= 10000: exact. h = round(d*lcm), and the p-value is the
//     share of monotone lattice paths from (0,0) to (nRef,nCur) that touch
//     |i/nRef - j/nCur| >= h/lcm, computed by a banded dynamic programme over the
//     "already crossed" fraction (Hodges 1958; Viehmann 2021 recursion for 1-p,
//     numerically stable for tiny p-values). scipy has a separate closed form
//     for nRef == nCur; both are exact, so they agree to rounding. Below 1e-12
//     an upper bound may be returned instead (see ksExactSFFast). Known
//     deviation: for nRef == nCur == 7 and D = 1/7 scipy's closed form rounds
//     to 1+2e-16, scipy rejects it and falls back to the asymptotic formula
//     (0.99996); we return the exact 1.
//   - otherwise: asymptotic. The one-sample two-sided Kolmogorov distribution
//     with n = round(nRef*nCur/(nRef+nCur)) (scipy.stats.kstwo.sf), evaluated
//     with scipy's Simard & L'Ecuyer (2011) method selection (see kolmogorovSF).
//
// Invalid inputs (n <= 0) give NaN.
func KSPValue(d float64, nRef, nCur int64) float64 {
	if nRef <= 0 || nCur <= 0 || math.IsNaN(d) {
		return math.NaN()
	}
	if KSExact(nRef, nCur) {
		g := gcd(nRef, nCur)
		lcm := (nRef / g) * nCur
		h := int64(math.RoundToEven(d * float64(lcm)))
		if h <= 0 {
			return 1
		}
		return clip01(ksExactSFFast(nRef, nCur, h))
	}
	m, n := float64(max(nRef, nCur)), float64(min(nRef, nCur))
	en := math.RoundToEven(m * n / (m + n))
	return clip01(kolmogorovSF(int64(en), d))
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func clip01(p float64) float64 {
	if p < 0 {
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

// ksTinyP is the level below which KSPValue may return an upper bound instead
// of the exact p-value on the exact path (see ksExactSFFast).
const ksTinyP = 1e-12

// ksExactSFFast is ksExactSF, with a shortcut for large D: the DP costs about
// m * 2h/mg cells (up to 1e8 at 10000 x 10000), so when h is far in the tail it
// first evaluates the exact tail at a smaller h' (a narrower, cheaper band),
// where the Smirnov asymptotic puts the tail near 1e-16. The exact tail is
// monotone in h, so if P(D >= h'/lcm) <= 1e-12, that value is returned as the
// p-value: it bounds the exact one from above, and both are below 1e-12
// (so |Δ| vs scipy < 1e-12). Otherwise the full DP runs.
func ksExactSFFast(m, n, h int64) float64 {
	g := gcd(m, n)
	lcm := (m / g) * n
	fm, fn := float64(m), float64(n)
	en := fm * fn / (fm + fn)
	dPrime := math.Sqrt(-math.Log(1e-16/2) / (2 * en))
	hPrime := int64(math.Ceil(dPrime * float64(lcm)))
	if hPrime > 0 && hPrime*2 < h {
		if p := ksExactSF(m, n, hPrime); p <= ksTinyP {
			return p
		}
	}
	return ksExactSF(m, n, h)
}

// ksExactSF is P(D >= h/lcm(m,n)) for the two-sided two-sample KS statistic
// under H0 (all C(m+n, n) orderings equally likely).
//
// A sample ordering is a monotone lattice path from (0,0) to (m,n); at point
// (i,j) the ECDF difference is |i/m - j/n| = |ng*i - mg*j| / lcm with
// mg = m/g, ng = n/g. Let U(i,j) be the fraction of paths from (0,0) to (i,j)
// that have touched a point with |ng*i - mg*j| >= h. Then U = 1 on such points and
// otherwise U(i,j) = (i*U(i-1,j) + j*U(i,j-1)) / (i+j), because the paths to (i,j)
// split into those through (i-1,j) and (i,j-1) in proportions i/(i+j), j/(i+j).
// The answer is U(m,n). Only the band |ng*i - mg*j| < h is computed; values stay
// in [0,1], so there is no overflow and no cancellation.
func ksExactSF(m, n, h int64) float64 {
	if m < n {
		m, n = n, m
	}
	g := gcd(m, n)
	mg, ng := m/g, n/g
	// row over j = 0..n; cells never yet inside the band hold 1.
	u := make([]float64, n+1)
	for j := range u {
		u[j] = 1
	}
	// 1/(i+j), so the inner loop multiplies instead of dividing.
	inv := make([]float64, m+n+1)
	for k := 1; k < len(inv); k++ {
		inv[k] = 1 / float64(k)
	}
	for i := int64(0); i <= m; i++ {
		// band: ng*i - h < mg*j < ng*i + h
		lo := floorDiv(ng*i-h, mg) + 1
		hi := ceilDiv(ng*i+h, mg) - 1
		if lo < 0 {
			lo = 0
		}
		if hi > n {
			hi = n
		}
		if lo > hi {
			return 1 // every path leaves the band
		}
		fi := float64(i)
		for j := lo; j <= hi; j++ {
			if i == 0 && j == 0 {
				u[0] = 0
				continue
			}
			left := 1.0 // U(i, lo-1) is outside the band
			if j > lo {
				left = u[j-1]
			}
			fj := float64(j)
			up := u[j] // U(i-1, j); 1 when (i-1,j) was outside the band
			if i == 0 {
				up = 0 // unused: weight i = 0
			}
			u[j] = (fi*up + fj*left) * inv[i+j]
		}
		// cells below lo are never read again; cells above hi still hold 1
		// unless they were inside an earlier band, which cannot happen
		// because the band only moves up.
	}
	return u[n]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// kolmogorovSF is P(D_n >= x) for the one-sample two-sided Kolmogorov statistic
// (scipy.stats.kstwo.sf(x, n)), with scipy's method selection (Simard &
// L'Ecuyer 2011):
//
//	x >= 1: 0;  n*x <= 0.5: 1
//	n*x <= 1: Ruben-Gambino closed form;  n*x >= n-1: 2(1-x)^n
//	x >= 0.5: 2*smirnov(n, x)  (exact: the one-sided tails are disjoint)
//	n <= 140: n x^2 <= 4: exact Durbin matrix (scipy uses Durbin below 0.754693
//	          and the equally exact Pomeranz recursion above); else 2*smirnov
//	n > 140:  n x^2 >= 370: 0;  >= 2.2: 2*smirnov;
//	          else 1 - CDF with CDF by Durbin (n <= 1e5 and n x^1.5 <= 1.4)
//	          or the Pelz-Good asymptotic series.
//
// smirnov(n, x) is the exact one-sided tail (Birnbaum-Tingey sum).
func kolmogorovSF(n int64, x float64) float64 {
	if n <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	fn := float64(n)
	t := fn * x
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= 140 {
			cdf = 1
			for i := int64(1); i <= n; i++ {
				cdf *= float64(i) / fn * (2*t - 1)
			}
		} else {
			lg, _ := math.Lgamma(fn + 1)
			cdf = math.Exp(lg - fn*math.Log(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1 - cdf)
	}
	if t >= fn-1 {
		return clip01(2 * math.Pow(1-x, fn))
	}
	if x >= 0.5 {
		return clip01(2 * smirnovSF(n, x))
	}
	nx2 := t * x
	if n <= 140 {
		if nx2 <= 4 {
			return clip01(1 - durbinCDF(n, x))
		}
		return clip01(2 * smirnovSF(n, x))
	}
	if nx2 >= 370 {
		return 0
	}
	if nx2 >= 2.2 {
		return clip01(2 * smirnovSF(n, x))
	}
	var cdf float64
	switch {
	case nx2 >= 18:
		cdf = 1
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		cdf = durbinCDF(n, x)
	default:
		cdf = pelzGoodCDF(n, x)
	}
	return clip01(1 - cdf)
}

// smirnovSF is P(D_n^+ >= x), the exact one-sided one-sample KS tail, by the
// Birnbaum-Tingey formula
//
//	x * sum_{j=0}^{floor(n(1-x))} C(n,j) (1-x-j/n)^(n-j) (x+j/n)^(j-1),
//
// whose terms are all positive; each is evaluated in log space.
func smirnovSF(n int64, x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	fn := float64(n)
	lgn, _ := math.Lgamma(fn + 1)
	jmax := int64(math.Floor(fn * (1 - x)))
	sum := 0.0
	for j := int64(0); j <= jmax; j++ {
		fj := float64(j)
		a := 1 - x - fj/fn
		if a <= 0 {
			continue
		}
		b := x + fj/fn
		lgj, _ := math.Lgamma(fj + 1)
		lgnj, _ := math.Lgamma(fn - fj + 1)
		l := lgn - lgj - lgnj + (fn-fj)*math.Log(a) + (fj-1)*math.Log(b)
		sum += math.Exp(l)
	}
	return x * sum
}

// durbinCDF is P(D_n < x) by Durbin's matrix formula as organised by Marsaglia,
// Tsang & Wang (2003): with k = ceil(n x), h = k - n x and m = 2k-1, the answer
// is n!/n^n * (H^n)[k-1][k-1] for the m x m matrix H below. Powers are scaled by
// 2^-128 as needed, the exponent tracked separately.
func durbinCDF(n int64, x float64) float64 {
	if x >= 1 {
		return 1
	}
	nd := float64(n) * x
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	// inverse factorials 1/i!
	invFact := make([]float64, m+1)
	invFact[0] = 1
	for i := 1; i <= m; i++ {
		invFact[i] = invFact[i-1] / float64(i)
	}
	H := newMat(m)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if d := i - j + 1; d >= 0 {
				H[i*m+j] = invFact[d]
			}
		}
	}
	for i := 0; i < m; i++ {
		H[i*m] = (1 - math.Pow(h, float64(i+1))) * invFact[i+1]
		H[(m-1)*m+i] = (1 - math.Pow(h, float64(m-i))) * invFact[m-i]
	}
	corner := 1 - 2*math.Pow(h, float64(m))
	if 2*h-1 > 0 {
		corner += math.Pow(2*h-1, float64(m))
	}
	H[(m-1)*m] = corner * invFact[m]

	const scaleExp = 128
	big := math.Ldexp(1, scaleExp)
	P := identity(m)
	pExp, hExp := 0, 0
	tmp := newMat(m)
	for e := n; e > 0; e >>= 1 {
		if e&1 == 1 {
			matMul(tmp, P, H, m)
			P, tmp = tmp, P
			pExp += hExp
			if math.Abs(P[(k-1)*m+k-1]) > big {
				scaleMat(P, 1/big)
				pExp += scaleExp
			}
		}
		if e > 1 {
			matMul(tmp, H, H, m)
			H, tmp = tmp, H
			hExp *= 2
			if math.Abs(H[(k-1)*m+k-1]) > big {
				scaleMat(H, 1/big)
				hExp += scaleExp
			}
		}
	}
	p := P[(k-1)*m+k-1]
	fn := float64(n)
	small := 1 / big
	for i := int64(1); i <= n; i++ {
		p = p * float64(i) / fn
		if math.Abs(p) < small {
			p *= big
			pExp -= scaleExp
		}
	}
	return clip01(math.Ldexp(p, pExp))
}

func newMat(m int) []float64 { return make([]float64, m*m) }

func identity(m int) []float64 {
	a := newMat(m)
	for i := 0; i < m; i++ {
		a[i*m+i] = 1
	}
	return a
}

func scaleMat(a []float64, s float64) {
	for i := range a {
		a[i] *= s
	}
}

// matMul sets dst = a*b (m x m, row-major); dst must not alias a or b.
func matMul(dst, a, b []float64, m int) {
	for i := range dst {
		dst[i] = 0
	}
	for i := 0; i < m; i++ {
		row := dst[i*m : (i+1)*m]
		for l := 0; l < m; l++ {
			v := a[i*m+l]
			if v == 0 {
				continue
			}
			br := b[l*m : (l+1)*m]
			for j, w := range br {
				row[j] += v * w
			}
		}
	}
}

// pelzGoodCDF is the Pelz & Good (1976) approximation of P(D_n <= x): the
// Li-Chien/Korolyuk expansion K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5 in
// z = x sqrt(n), with each K rewritten through the Jacobi theta transformation
// into sums that converge fast for small z. These are the series scipy's kstwo
// uses in this range (large n, moderate x).
func pelzGoodCDF(n int64, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	fn := float64(n)
	z := math.Sqrt(fn) * x
	z2 := z * z
	z4 := z2 * z2
	z6 := z4 * z2
	pi2 := math.Pi * math.Pi
	pi4 := pi2 * pi2
	pi6 := pi4 * pi2
	w := -pi2 / 8 / z2
	if w < -708 {
		return 0
	}
	// Sums over odd j = 2k-1 of c(j) exp(-j^2 pi^2 / (8 z^2)).
	kmax := int(math.Ceil(16 * z / math.Pi))
	var s0, s1, s2, s3 float64
	for k := 1; k <= kmax; k++ {
		j := float64(2*k - 1)
		j2 := j * j
		e := math.Exp(w * j2)
		s0 += e
		s1 += (pi2*j2/4 - z2) * e
		s2 += (6*z6 + 2*z4 + (2*z4-5*z2)*pi2*j2/4 + pi4*(1-2*z2)*j2*j2/16) * e
		s3 += (-30*z6 - 90*z6*z2 + pi2*(135*z4-96*z6)*j2/4 +
			pi4*(212*z4-60*z2)*j2*j2/16 + pi6*(5-30*z2)*j2*j2*j2/64) * e
	}
	// Sums over all integers k of k^2 exp(-k^2 pi^2 / (2 z^2)).
	var t2, t3 float64
	w2 := -pi2 / 2 / z2
	for k := 1; k <= kmax; k++ {
		fk := float64(k)
		k2 := fk * fk
		e := math.Exp(w2 * k2)
		t2 += k2 * e
		t3 += (3*z2 - pi2*k2) * k2 * e
	}
	r := math.Sqrt(2 * math.Pi)
	k0 := r / z * s0
	k1 := r / (6 * z4) * s1
	k2 := r/(72*z4*z*z2)*s2 - pi2*r/(36*z2*z)*t2
	k3 := r/(6480*z4*z6)*s3 + pi2*r/(216*z6)*t3
	sq := math.Sqrt(fn)
	return k0 + k1/sq + k2/fn + k3/(fn*sq)
}

// ChiSquareSF is the upper tail P(X >= x) of the chi-square distribution with
// df degrees of freedom: the regularized upper incomplete gamma Q(df/2, x/2).
// It uses the power series of P for x < a+1 and a Lentz continued fraction for Q
// otherwise (relative accuracy ~1e-14). df <= 0 gives NaN.
func ChiSquareSF(x float64, df int) float64 {
	if df <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	if math.IsInf(x, 1) {
		return 0
	}
	return gammaQ(float64(df)/2, x/2)
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x).
func gammaQ(a, x float64) float64 {
	lga, _ := math.Lgamma(a)
	lpre := a*math.Log(x) - x - lga // log(x^a e^-x / Gamma(a))
	if x < a+1 {
		// P(a,x) = x^a e^-x / Gamma(a+1) * sum_k x^k / ((a+1)...(a+k))
		sum, term := 1.0, 1.0
		for k := 1; k < 100000; k++ {
			term *= x / (a + float64(k))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-17 {
				break
			}
		}
		p := math.Exp(lpre) * sum / a
		return clip01(1 - p)
	}
	// Q(a,x) = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	f := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		f *= delta
		if math.Abs(delta-1) < 1e-16 {
			break
		}
	}
	return clip01(math.Exp(lpre) * f)
}

// NormalSF is the standard normal upper tail P(Z >= z).
func NormalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}
