package ingest

import (
	"math/rand/v2"
	"testing"

	"github.com/zeebo/xxh3"
)

// TestKeySetMatchesMap checks the key set against a Go map through many
// growths, with repeated keys, keys whose Lo is 0 and keys that share their
// home bucket and Lo.
func TestKeySetMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := newKeySet()
	want := map[xxh3.Uint128]bool{}
	var keys []xxh3.Uint128
	for i := range 300_000 {
		var k xxh3.Uint128
		switch {
		case i%97 == 0:
			k = xxh3.Uint128{Hi: uint64(i % 3)} // Lo 0, kept aside
		case i%5 == 0 && len(keys) > 0:
			k = keys[rng.IntN(len(keys))] // a repeat
		case i%1000 == 7:
			k = xxh3.Uint128{Hi: uint64(i), Lo: 42} // same home bucket and Lo, different Hi
		default:
			k = xxh3.Uint128{Hi: rng.Uint64(), Lo: rng.Uint64()}
		}
		added := s.Add(k)
		if added == want[k] {
			t.Fatalf("Add(%v) = %v after %d keys, want %v", k, added, len(want), !want[k])
		}
		want[k] = true
		keys = append(keys, k)
		if s.Len() != len(want) {
			t.Fatalf("Len = %d, want %d", s.Len(), len(want))
		}
	}
	for k := range want {
		if !s.Has(k) {
			t.Fatalf("Has(%v) = false", k)
		}
	}
	for range 10_000 {
		k := xxh3.Uint128{Hi: rng.Uint64(), Lo: rng.Uint64()}
		if s.Has(k) != want[k] {
			t.Fatalf("Has(%v) = %v", k, s.Has(k))
		}
	}
	growth := 1.25 // the last growth: small tables double
	if len(s.lo) <= 2*doubleBelow {
		growth = 2
	}
	if b := float64(len(s.lo)*12) / float64(s.Len()); b > 12.0*maxLoadDen/maxLoadNum*growth+0.5 {
		t.Errorf("%.1f bytes a key", b)
	}
}

// BenchmarkKeySetAdd inserts 2M random keys (one partition of a large
// ingest) and reports the bytes a key the table ends at.
func BenchmarkKeySetAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]xxh3.Uint128, 2_000_000)
	for i := range keys {
		keys[i] = xxh3.Uint128{Hi: rng.Uint64(), Lo: rng.Uint64()}
	}
	var s *keySet
	for b.Loop() {
		s = newKeySet()
		for _, k := range keys {
			s.Add(k)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
	b.ReportMetric(float64(len(s.lo)*12)/float64(s.Len()), "bytes/key")
}
