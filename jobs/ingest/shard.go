package ingest

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/txlake/txlake/storage/lake"
)

// Shard selects one deterministic share of a run's expanded sources: shard
// Index of Count (0 <= Index < Count). The zero value selects every source.
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" (0 <= i < n <= 4096); "" is the zero Shard.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 4096 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n <= 4096, e.g. 0/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns "i/n", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Contains reports whether the source with this URL belongs to the shard.
// The split hashes the URL (FNV-1a), so it depends on nothing but the URL:
// every process computes the same shards, and a file keeps its shard when
// other files come or go.
func (s Shard) Contains(url string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(url))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

func (s Shard) filter(srcs []*source) []*source {
	if s.Count <= 1 {
		return srcs
	}
	out := make([]*source, 0, len(srcs)/s.Count+1)
	for _, src := range srcs {
		if s.Contains(src.url) {
			out = append(out, src)
		}
	}
	return out
}

// Identities resolves sources as Run does (globs, URLs), keeps the shard's
// share, and returns their identities (URL, size, checksum) in Run's order,
// which is the order a committed contribution records. Errors are Run's:
// a *SourceError for a missing file or an empty glob.
func Identities(ctx context.Context, sources []string, format Format, shard Shard, workers int) ([]lake.Source, error) {
	srcs, err := resolveSources(ctx, sources, format)
	defer closeSourceStores(srcs)
	if err != nil {
		return nil, err
	}
	srcs = shard.filter(srcs)
	if workers <= 0 {
		workers = 4
	}
	if err := checksumSources(ctx, srcs, workers); err != nil {
		return nil, err
	}
	out := make([]lake.Source, len(srcs))
	for i, s := range srcs {
		out[i] = s.identity()
	}
	return out, nil
}
