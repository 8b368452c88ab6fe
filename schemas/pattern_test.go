package schemas

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestSimplePatternMatchesRegexp checks the fast matcher against regexp on
// random valid UTF-8 inputs, and that patterns of other shapes fall back.
func TestSimplePatternMatchesRegexp(t *testing.T) {
	simple := []string{`^tx_[0-9a-f]{16}$`, `^[A-Z]{3}$`, `^[A-Z]{2}$`, `^[a-z_]+$`, `^ab*$`, `^a[0-9]?$`,
		`^x[a-c]{2,4}$`, `^$`, `^[0-9]{2,}$`, `^a-b$`, `^\d{3}$`}
	fallback := []string{`tx_[0-9a-f]{16}`, `^[A-Z]{3}`, `^(a|b)$`, `^.{3}$`, `^[^a]$`, `^é$`, `^(?i)abc$`,
		`^a*b$`, `^[a-z]+[0-9]$`}
	alphabet := []rune("tx_0123456789abcdefABCDEFXYZé-\n ")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range simple {
		sp := compileSimplePattern(p)
		if sp == nil {
			t.Errorf("%s: not compiled to the fast matcher", p)
			continue
		}
		re := regexp.MustCompile(p)
		for range 20000 {
			n := rng.IntN(22)
			rs := make([]rune, n)
			for i := range rs {
				rs[i] = alphabet[rng.IntN(len(alphabet))]
			}
			b := []byte(string(rs))
			if sp.match(b) != re.Match(b) {
				t.Fatalf("%s on %q: fast %v, regexp %v", p, b, sp.match(b), re.Match(b))
			}
		}
		for _, s := range []string{"tx_0123456789abcdef", "EUR", "DE", "a_b", "a", "ab", "abbb", "a5", "xab", "xabcab", "", "12", "a-b"} {
			if sp.match([]byte(s)) != re.MatchString(s) {
				t.Fatalf("%s on %q: fast %v, regexp %v", p, s, sp.match([]byte(s)), re.MatchString(s))
			}
		}
	}
	for _, p := range fallback {
		if compileSimplePattern(p) != nil {
			t.Errorf("%s: compiled to the fast matcher, want the regexp fallback", p)
		}
	}
}

// BenchmarkPattern compares the table matcher with regexp on a
// transaction id.
func BenchmarkPattern(b *testing.B) {
	const p = `^tx_[0-9a-f]{16}$`
	in := []byte("tx_0123456789abcdef")
	sp, re := compileSimplePattern(p), regexp.MustCompile(p)
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			if !sp.match(in) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			if !re.Match(in) {
				b.Fatal("no match")
			}
		}
	})
}
