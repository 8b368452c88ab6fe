package schemas

import "hash/maphash"

// strCache is the string table behind a field's caches (raw texts to
// accepted values, masked forms): open addressing, linear probing, a
// power-of-two table at most half full, keys hashed with hash/maphash
// under a per-process seed. On the short keys of these caches it looks up
// about twice as fast as a Go map, whose look-ups were 6-8 % of ingest
// CPU. It holds fewer than memoLimit entries: the one that would reach
// the limit switches it off for good (a field of that many distinct values
// gains little from it), and a switched-off cache finds nothing.
type strCache struct {
	slots []strSlot
	n     int
	off   bool
}

type strSlot struct {
	h        uint64 // the key's hash with its low bit set; 0 marks a free slot
	key, val string
}

var strSeed = maphash.MakeSeed()

func strHash(b []byte) uint64 { return maphash.Bytes(strSeed, b) | 1 }

// get returns the value of key b.
func (c *strCache) get(b []byte) (string, bool) {
	if c.n == 0 {
		return "", false
	}
	h := strHash(b)
	mask := uint64(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.h == h && s.key == string(b) {
			return s.val, true
		}
		if s.h == 0 {
			return "", false
		}
	}
}

// add sets the value of key (absent from c).
func (c *strCache) add(key, val string) {
	if c.off {
		return
	}
	if c.n+1 >= memoLimit {
		*c = strCache{off: true}
		return
	}
	if 2*(c.n+1) > len(c.slots) {
		old := c.slots
		c.slots = make([]strSlot, max(16, 2*len(old)))
		for i := range old {
			if old[i].h != 0 {
				c.insert(old[i])
			}
		}
	}
	c.insert(strSlot{h: strHash([]byte(key)), key: key, val: val})
	c.n++
}

func (c *strCache) insert(s strSlot) {
	mask := uint64(len(c.slots) - 1)
	i := s.h & mask
	for c.slots[i].h != 0 {
		i = (i + 1) & mask
	}
	c.slots[i] = s
}
