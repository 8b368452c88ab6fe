package schemas

// Exact decimal parsing. Coerce runs once per cell, so the common shapes
// ("123", "-123.45") take a fast path with no allocation and no floats;
// everything else (exponents, "+", long inputs, errors) goes through
// parseDecimalSlow, which is the reference both paths must agree with
// (TestDecimalFastMatchesSlow, BenchmarkCoerceDecimal).

type decErr uint8

const (
	decOK     decErr = iota
	decSyntax        // not a decimal number
	decScale         // non-zero digits beyond the scale
	decRange         // too many integer digits, or int64 overflow
)

// parseDecimal parses b (sign, digits, optional fraction, optional exponent)
// exactly and returns it multiplied by 10^scale. maxIntDigits bounds the
// significant digits before the decimal point (precision - scale for
// decimals, 19 for int64, where int64 overflow is checked as well).
func parseDecimal(b []byte, scale, maxIntDigits int) (int64, decErr) {
	if v, ok := parseDecimalFast(b, scale, maxIntDigits); ok {
		return v, decOK
	}
	return parseDecimalSlow(b, scale, maxIntDigits)
}

// parseDecimalFast handles [-]digits[.digits] with at most 18 significant
// digits in all, which cannot overflow int64. ok is false for anything else,
// including every error.
func parseDecimalFast(b []byte, scale, maxIntDigits int) (v int64, ok bool) {
	i, n := 0, len(b)
	neg := false
	if n > 0 && b[0] == '-' {
		neg = true
		i++
	}
	var u uint64
	sig, intSig := 0, 0 // significant digits in all / before the point
	digits := 0
	for ; i < n && b[i]-'0' <= 9; i++ {
		d := uint64(b[i] - '0')
		digits++
		if u == 0 && d == 0 {
			continue // leading zero
		}
		u = u*10 + d
		sig++
		intSig++
	}
	frac := 0
	if i < n && b[i] == '.' {
		i++
		for ; i < n && b[i]-'0' <= 9; i++ {
			if frac == scale {
				return 0, false // maybe trailing zeros, maybe a scale error
			}
			u = u*10 + uint64(b[i]-'0')
			digits++
			frac++
			if u != 0 {
				sig++
			}
		}
	}
	if i != n || digits == 0 || intSig > maxIntDigits || sig > 18 {
		return 0, false
	}
	for ; frac < scale; frac++ {
		u *= 10
	}
	if u > 999_999_999_999_999_999 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// parseDecimalSlow is the general parser; see parseDecimal.
func parseDecimalSlow(b []byte, scale, maxIntDigits int) (int64, decErr) {
	i, n := 0, len(b)
	neg := false
	if i < n && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	is := i
	for i < n && b[i]-'0' <= 9 {
		i++
	}
	intDigits := b[is:i]
	var fracDigits []byte
	if i < n && b[i] == '.' {
		i++
		fs := i
		for i < n && b[i]-'0' <= 9 {
			i++
		}
		fracDigits = b[fs:i]
	}
	if len(intDigits)+len(fracDigits) == 0 {
		return 0, decSyntax
	}
	exp := 0
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for ; i < n && b[i]-'0' <= 9; i++ {
			if exp < 1_000_000 { // clamp: beyond this only zero can fit
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if i == es {
			return 0, decSyntax
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return 0, decSyntax
	}
	// The digit string D = intDigits ++ fracDigits has its point after
	// pointPos digits.
	nd := len(intDigits) + len(fracDigits)
	digit := func(k int) byte {
		if k < len(intDigits) {
			return intDigits[k]
		}
		return fracDigits[k-len(intDigits)]
	}
	lo, hi := 0, nd
	for lo < hi && digit(lo) == '0' {
		lo++
	}
	if lo == hi {
		return 0, decOK // zero, including "-0.00" and "0e99"
	}
	for digit(hi-1) == '0' {
		hi--
	}
	pointPos := len(intDigits) + exp
	// value = D[lo:hi] * 10^(pointPos-hi); scaled: * 10^scale.
	e10 := pointPos - hi + scale
	if e10 < 0 {
		return 0, decScale
	}
	if pointPos-lo > maxIntDigits || hi-lo+e10 > 19 {
		return 0, decRange
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit = 1 << 63
	}
	var u uint64
	for k := lo; k < hi; k++ {
		u = u*10 + uint64(digit(k)-'0') // at most 19 digits: no uint64 overflow
	}
	for ; e10 > 0; e10-- {
		if u > limit/10 {
			return 0, decRange
		}
		u *= 10
	}
	if u > limit {
		return 0, decRange
	}
	if neg {
		return int64(-u), decOK // two's complement: also right for -2^63
	}
	return int64(u), decOK
}
