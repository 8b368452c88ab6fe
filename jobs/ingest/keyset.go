package ingest

import "github.com/zeebo/xxh3"

// keySet is the set of key hashes present in one partition: an
// open-addressing hash table of 128-bit hashes with linear probing. It
// holds millions of keys per partition, and costs about 21 bytes a key
// (a Go map costs about twice that, and dedup memory bounds ingest
// memory). 128 bits make a false duplicate (two keys with one hash)
// practically impossible: at 10^9 keys the chance is below 10^-20.
type keySet struct {
	slots []xxh3.Uint128 // len is a power of two; {0,0} marks an empty slot
	n     int
	zero  bool // the all-zero hash is present
}

func newKeySet() *keySet { return &keySet{slots: make([]xxh3.Uint128, 1024)} }

// Len is the number of keys in the set.
func (s *keySet) Len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// Add inserts k and reports whether it was absent.
func (s *keySet) Add(k xxh3.Uint128) bool {
	if k == (xxh3.Uint128{}) {
		added := !s.zero
		s.zero = true
		return added
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	if s.insert(k) {
		s.n++
		return true
	}
	return false
}

// Has reports whether k is in the set.
func (s *keySet) Has(k xxh3.Uint128) bool {
	if k == (xxh3.Uint128{}) {
		return s.zero
	}
	mask := uint64(len(s.slots) - 1)
	for i := k.Lo & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case xxh3.Uint128{}:
			return false
		}
	}
}

func (s *keySet) insert(k xxh3.Uint128) bool {
	mask := uint64(len(s.slots) - 1)
	for i := k.Lo & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case xxh3.Uint128{}:
			s.slots[i] = k
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]xxh3.Uint128, len(old)*2)
	for _, k := range old {
		if k != (xxh3.Uint128{}) {
			s.insert(k)
		}
	}
}

// intersects reports whether s and o share a key.
func (s *keySet) intersects(o *keySet) bool {
	if s.Len() > o.Len() {
		s, o = o, s
	}
	if s.zero && o.zero {
		return true
	}
	for _, k := range s.slots {
		if k != (xxh3.Uint128{}) && o.Has(k) {
			return true
		}
	}
	return false
}
