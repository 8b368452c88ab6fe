package ingest

import (
	"math/bits"

	"github.com/zeebo/xxh3"
)

// keySet is the set of key hashes present in one partition. It holds
// millions of keys per partition, and dedup memory bounds ingest memory
// (at 4 GB of input the key sets are most of it), so it is packed tightly:
//
//   - a slot keeps 96 bits of the 128-bit hash (Lo and the low half of Hi)
//     in two arrays, 12 bytes;
//   - the table has any number of 8-slot buckets (not a power of two): a
//     key's home bucket is its Lo multiplied into the bucket count, and
//     collisions probe linearly from the start of the home bucket;
//   - it grows when 85% full: it doubles up to 1M slots, then grows by a
//     quarter.
//
// That costs 14.1 to 17.6 bytes a key (the earlier power-of-two table of
// 16-byte slots that doubled at 75% cost 21 to 43, a Go map about 40).
// A false duplicate needs two different keys of one partition to agree on
// all 96 stored bits: at 10^9 keys in a partition the chance is below
// 10^-11 (pairs × 2^-96); the earlier 128-bit slots made it 10^-20.
type keySet struct {
	lo []uint64 // Lo of the hash; 0 marks an empty slot
	hi []uint32 // low half of Hi
	n  int      // keys in lo/hi
	// zeroLo holds the keys whose Lo is 0 (about one in 2^64), by hi.
	zeroLo map[uint32]struct{}
}

const (
	bucketSlots = 8
	// The table grows when more than maxLoadNum/maxLoadDen of its slots
	// are used.
	maxLoadNum, maxLoadDen = 17, 20
)

func newKeySet() *keySet {
	return &keySet{lo: make([]uint64, 16*bucketSlots), hi: make([]uint32, 16*bucketSlots)}
}

// Len is the number of keys in the set.
func (s *keySet) Len() int { return s.n + len(s.zeroLo) }

// Add inserts k and reports whether it was absent.
func (s *keySet) Add(k xxh3.Uint128) bool {
	if k.Lo == 0 {
		if _, ok := s.zeroLo[uint32(k.Hi)]; ok {
			return false
		}
		if s.zeroLo == nil {
			s.zeroLo = map[uint32]struct{}{}
		}
		s.zeroLo[uint32(k.Hi)] = struct{}{}
		return true
	}
	if (s.n+1)*maxLoadDen > len(s.lo)*maxLoadNum {
		s.grow()
	}
	if s.insert(k.Lo, k.Hi) {
		s.n++
		return true
	}
	return false
}

// Has reports whether k is in the set.
func (s *keySet) Has(k xxh3.Uint128) bool {
	if k.Lo == 0 {
		_, ok := s.zeroLo[uint32(k.Hi)]
		return ok
	}
	h := uint32(k.Hi)
	for i := s.home(k.Lo); ; i++ {
		if i == len(s.lo) {
			i = 0
		}
		switch s.lo[i] {
		case 0:
			return false
		case k.Lo:
			if s.hi[i] == h {
				return true
			}
		}
	}
}

// home is the first slot of the home bucket of a hash with this Lo.
func (s *keySet) home(lo uint64) int {
	b, _ := bits.Mul64(lo, uint64(len(s.lo)/bucketSlots))
	return int(b) * bucketSlots
}

// insert adds the hash (lo != 0) unless present; only the low half of hi
// is kept.
func (s *keySet) insert(lo, hi uint64) bool {
	h := uint32(hi)
	for i := s.home(lo); ; i++ {
		if i == len(s.lo) {
			i = 0
		}
		switch s.lo[i] {
		case 0:
			s.lo[i], s.hi[i] = lo, h
			return true
		case lo:
			if s.hi[i] == h {
				return false
			}
		}
	}
}

// doubleBelow is the table size (slots) below which a set doubles when it
// grows: 12 MiB. Larger sets grow by a quarter, which keeps them tight
// (they are what bounds ingest memory); doubling the small ones saves most
// of the rehashing.
const doubleBelow = 1 << 20

// grow rehashes into a table twice as large while it is small, then a
// quarter larger.
func (s *keySet) grow() {
	oldLo, oldHi := s.lo, s.hi
	nb := len(oldLo) / bucketSlots
	n := (nb + max(nb/4, 1)) * bucketSlots
	if len(oldLo) < doubleBelow {
		n = 2 * nb * bucketSlots
	}
	s.lo, s.hi = make([]uint64, n), make([]uint32, n)
	// Write the fresh pages before the probes read them: a page read first
	// is mapped to the shared zero page, and the write that follows costs a
	// copy-on-write fault and a TLB flush on every CPU (2 % of ingest CPU).
	clear(s.lo)
	clear(s.hi)
	for i, lo := range oldLo {
		if lo != 0 {
			s.insert(lo, uint64(oldHi[i]))
		}
	}
}

// intersects reports whether s and o share a key (as stored: 96 bits).
func (s *keySet) intersects(o *keySet) bool {
	if s.Len() > o.Len() {
		s, o = o, s
	}
	for h := range s.zeroLo {
		if _, ok := o.zeroLo[h]; ok {
			return true
		}
	}
	for i, lo := range s.lo {
		// Has keeps only the low half of Hi, so the stored half is enough.
		if lo != 0 && o.Has(xxh3.Uint128{Lo: lo, Hi: uint64(s.hi[i])}) {
			return true
		}
	}
	return false
}
