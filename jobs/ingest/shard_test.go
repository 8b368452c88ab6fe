package ingest

import (
	"fmt"
	"testing"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"": {}, "0/1": {0, 1}, "3/4": {3, 4}, "0/4096": {0, 4096}} {
		got, err := ParseShard(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("%q: %+v %v (String %q)", in, got, err, got.String())
		}
	}
	for _, in := range []string{"4/4", "-1/4", "1", "a/b", "0/0", "1/4097", "1/2/3", " 1/2"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// Every source is in exactly one shard, the split is stable, and it is
// roughly even.
func TestShardContains(t *testing.T) {
	const n, files = 4, 4000
	counts := make([]int, n)
	for f := range files {
		url := fmt.Sprintf("s3://landing/pay/2026/01/31/part-%05d.jsonl.gz", f)
		in := 0
		for i := range n {
			if (Shard{Index: i, Count: n}).Contains(url) {
				in++
				counts[i]++
			}
		}
		if in != 1 {
			t.Fatalf("%s is in %d shards", url, in)
		}
	}
	for i, c := range counts {
		if c < files/n*8/10 || c > files/n*12/10 {
			t.Errorf("shard %d/%d holds %d of %d files", i, n, c, files)
		}
	}
	if !(Shard{}).Contains("x") || !(Shard{Index: 0, Count: 1}).Contains("x") {
		t.Error("the zero shard and 0/1 hold every source")
	}
	// Pinned: the split is part of the on-disk contract (contribution keys).
	if !(Shard{Index: 1, Count: 4}).Contains("file:///landing/a.jsonl") {
		t.Error("file:///landing/a.jsonl moved out of shard 1/4 (FNV-1a 64 mod 4)")
	}
}
