package lake

import (
	"context"
	"sort"

	"github.com/txlake/txlake/storage"
)

// CommittedContribution returns the contribution with key as it stands when
// its last commit completed: every partition its index lists holds it from
// the index's run. ok is false when the key was never committed, when its
// last commit died part-way (a re-run completes it), and when it committed
// no rows at all (its index is removed then). The returned Contribution is
// the one of its first partition; every partition records the same sources.
func CommittedContribution(ctx context.Context, st storage.Store, table, key string) (c Contribution, dates []string, ok bool, err error) {
	ix, err := readIndex(ctx, st, table, ContributionID(key))
	if err != nil || len(ix.Dates) == 0 || ix.Key != key {
		return Contribution{}, nil, false, err
	}
	for i, dt := range ix.Dates {
		m, err := ReadManifest(ctx, st, table, dt)
		if err != nil {
			return Contribution{}, nil, false, err
		}
		if m == nil {
			return Contribution{}, nil, false, nil
		}
		pc, found := m.Contribution(ix.ID)
		if !found || pc.RunID != ix.RunID {
			return Contribution{}, nil, false, nil
		}
		if i == 0 {
			c = pc
		}
	}
	return c, ix.Dates, true, nil
}

// SameSources reports whether two source lists name the same files with the
// same sizes and checksums, in any order.
func SameSources(a, b []Source) bool {
	if len(a) != len(b) {
		return false
	}
	ka, kb := sourceKeys(a), sourceKeys(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return false
		}
	}
	return true
}

func sourceKeys(s []Source) []Source {
	out := append([]Source(nil), s...)
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}
