package drift

import (
	"math"
	"sort"
)

// BenjaminiHochberg returns the Benjamini–Hochberg adjusted p-values of ps,
// in the order of ps: adj(i) = min over j with rank(j) >= rank(i) of
// p(j)·m/rank(j), capped at 1. Rejecting every hypothesis with adj < q
// controls the false discovery rate at q.
func BenjaminiHochberg(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	adj := make([]float64, m)
	running := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		v := ps[i] * float64(m) / float64(r+1)
		if v < running {
			running = v
		}
		adj[i] = running
	}
	return adj
}

// applyFDR adjusts every p-value the verdicts use (the p-value methods'
// and the null-rate tests') together, and re-decides them: drifted when the
// adjusted p-value is below q. Distances keep their verdict.
func applyFDR(cols []Column, q float64) {
	type test struct {
		col    int
		isNull bool
	}
	var at []test
	var ps []float64
	for i, c := range cols {
		if c.Method.UsesPValue() && c.PValue != nil {
			at = append(at, test{i, false})
			ps = append(ps, *c.PValue)
		}
		if c.NullRate.PValue != nil {
			at = append(at, test{i, true})
			ps = append(ps, *c.NullRate.PValue)
		}
	}
	for k, a := range BenjaminiHochberg(ps) {
		c := &cols[at[k].col]
		if at[k].isNull {
			c.NullRate.AdjustedPValue = ptr(a)
			c.NullRate.Drifted = a < q && math.Abs(c.NullRate.Change) >= NullRateMinChange
		} else {
			c.AdjustedPValue = ptr(a)
			c.Threshold = q
			c.DistributionDrifted = a < q
		}
	}
	for i := range cols {
		cols[i].Drifted = cols[i].DistributionDrifted || cols[i].NullRate.Drifted
	}
}
