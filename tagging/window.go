package tagging

import (
	"math"
	"slices"
	"sort"
)

// sortedValues is a multiset of float64 kept in order, with insert and
// remove in O(√n)-ish time and access by rank in O(log n): the values sit in
// sorted blocks of at most 2·valueBlock, and ends holds the running count
// through each block. (A plain sorted slice costs O(n) per update, which a
// key with millions of rows in its window makes quadratic.) Values must not
// be NaN.
type sortedValues struct {
	blocks [][]float64
	ends   []int // ends[b]: how many values blocks[:b+1] hold
	n      int
}

const valueBlock = 512

func (s *sortedValues) reset() {
	s.blocks, s.ends, s.n = s.blocks[:0], s.ends[:0], 0
}

// block is the index of the block where v is or belongs: the first whose
// last value is ≥ v, else the last.
func (s *sortedValues) block(v float64) int {
	last := len(s.blocks) - 1
	return sort.Search(last, func(b int) bool { blk := s.blocks[b]; return blk[len(blk)-1] >= v })
}

func (s *sortedValues) insert(v float64) {
	if len(s.blocks) == 0 {
		s.blocks = append(s.blocks, make([]float64, 0, 2*valueBlock))
		s.ends = append(s.ends, 0)
	}
	b := s.block(v)
	blk := s.blocks[b]
	i, _ := slices.BinarySearch(blk, v)
	blk = slices.Insert(blk, i, v)
	s.blocks[b] = blk
	s.n++
	if len(blk) < 2*valueBlock {
		for j := b; j < len(s.ends); j++ {
			s.ends[j]++
		}
		return
	}
	// Split the full block in two.
	tail := append(make([]float64, 0, 2*valueBlock), blk[valueBlock:]...)
	s.blocks[b] = blk[:valueBlock]
	s.blocks = slices.Insert(s.blocks, b+1, tail)
	s.ends = slices.Insert(s.ends, b+1, 0)
	s.recount(b)
}

// remove removes one value equal to v, which the set must hold.
func (s *sortedValues) remove(v float64) {
	b := s.block(v)
	blk := s.blocks[b]
	i, found := slices.BinarySearch(blk, v)
	if !found {
		panic("tagging: sortedValues.remove of a value not in the set")
	}
	blk = slices.Delete(blk, i, i+1)
	s.blocks[b] = blk
	s.n--
	if len(blk) > 0 || len(s.blocks) == 1 {
		for j := b; j < len(s.ends); j++ {
			s.ends[j]--
		}
		return
	}
	s.blocks = slices.Delete(s.blocks, b, b+1)
	s.ends = slices.Delete(s.ends, b, b+1)
	s.recount(b)
}

func (s *sortedValues) recount(from int) {
	n := 0
	if from > 0 {
		n = s.ends[from-1]
	}
	for b := from; b < len(s.blocks); b++ {
		n += len(s.blocks[b])
		s.ends[b] = n
	}
}

// at returns the value of rank i (0-based).
func (s *sortedValues) at(i int) float64 {
	if len(s.blocks) == 1 {
		return s.blocks[0][i]
	}
	b := sort.Search(len(s.ends), func(b int) bool { return s.ends[b] > i })
	blk := s.blocks[b]
	return blk[i-(s.ends[b]-len(blk))]
}

// median is DuckDB's median of the values: the middle one, or for an even
// count lo + (hi-lo)·0.5 of the two middle ones (its interpolation).
func (s *sortedValues) median() float64 {
	if s.n%2 == 1 {
		return s.at(s.n / 2)
	}
	return interpolate(s.at(s.n/2-1), s.at(s.n/2))
}

func interpolate(lo, hi float64) float64 { return lo + (hi-lo)*0.5 }

// mad is DuckDB's mad(): the median, as median computes it, of the
// absolute deviations |v - centre|, with centre the values' median.
//
// The deviations of the values below centre, read downwards, and of those
// from centre up, read upwards, are two ascending sequences (rounding is
// monotonic), so a deviation's rank is found by binary search over how many
// of the smallest come from each: O(log² n), nothing copied.
func (s *sortedValues) mad(centre float64) float64 {
	p := sort.Search(s.n, func(i int) bool { return s.at(i) >= centre }) // first value ≥ centre
	kth := func(k int) float64 {
		nl, nr := p, s.n-p
		left := func(i int) float64 { return math.Abs(s.at(p-1-i) - centre) }
		right := func(j int) float64 { return math.Abs(s.at(p+j) - centre) }
		// i: how many of the k smallest come from the left; the least i
		// whose left(i) is not below the right's k-i-th.
		i := sort.Search(min(k, nl)-max(0, k-nr), func(d int) bool {
			i := max(0, k-nr) + d
			return left(i) >= right(k-i-1)
		}) + max(0, k-nr)
		j := k - i
		switch {
		case i == nl:
			return right(j)
		case j == nr:
			return left(i)
		}
		return min(left(i), right(j))
	}
	if s.n%2 == 1 {
		return kth(s.n / 2)
	}
	return interpolate(kth(s.n/2-1), kth(s.n/2))
}
