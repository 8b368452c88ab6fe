package cache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/txlake/txlake/storage/cache"
	"github.com/txlake/txlake/storage/mem"
)

func put(t *testing.T, st *mem.Store, key string, data []byte) cache.Ref {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return cache.Ref{Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

func TestFetchReusesEntries(t *testing.T) {
	st := mem.New()
	a := put(t, st, "t/dt=2026-01-01/a.parquet", []byte("aaaa"))
	b := put(t, st, "t/dt=2026-01-02/b.parquet", []byte("bbbbbb"))
	c := &cache.Cache{Dir: t.TempDir()}
	paths, stats, err := c.Fetch(t.Context(), st, []cache.Ref{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 2 || stats.Hits != 0 || stats.BytesFetched != 10 {
		t.Fatalf("first fetch stats = %+v", stats)
	}
	for i, want := range []string{"aaaa", "bbbbbb"} {
		got, err := os.ReadFile(paths[i])
		if err != nil || string(got) != want {
			t.Fatalf("path %d = %q, %v", i, got, err)
		}
	}
	_, stats, err = c.Fetch(t.Context(), st, []cache.Ref{a, b})
	if err != nil || stats.Hits != 2 || stats.Fetched != 0 {
		t.Fatalf("second fetch stats = %+v, %v", stats, err)
	}
}

func TestFetchRejectsCorruptObjects(t *testing.T) {
	st := mem.New()
	r := put(t, st, "k.parquet", []byte("good"))
	r.SHA256 = strings.Repeat("0", 64)
	c := &cache.Cache{Dir: t.TempDir()}
	if _, _, err := c.Fetch(t.Context(), st, []cache.Ref{r}); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("want a checksum error, got %v", err)
	}
	r2 := put(t, st, "k2.parquet", []byte("good"))
	r2.Size = 99
	if _, _, err := c.Fetch(t.Context(), st, []cache.Ref{r2}); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("want a size error, got %v", err)
	}
}

func TestEvictionKeepsCurrentFiles(t *testing.T) {
	st := mem.New()
	c := &cache.Cache{Dir: t.TempDir(), MaxBytes: 10}
	a := put(t, st, "a.parquet", []byte("aaaaaaaa"))
	b := put(t, st, "b.parquet", []byte("bbbbbbbb"))
	pa, _, err := c.Fetch(t.Context(), st, []cache.Ref{a})
	if err != nil {
		t.Fatal(err)
	}
	pb, stats, err := c.Fetch(t.Context(), st, []cache.Ref{b})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Evicted != 1 {
		t.Fatalf("evicted %d, want 1 (a is least recently used)", stats.Evicted)
	}
	if _, err := os.Stat(pa[0]); !os.IsNotExist(err) {
		t.Fatalf("a should be evicted: %v", err)
	}
	if _, err := os.Stat(pb[0]); err != nil {
		t.Fatalf("b (just fetched) must stay: %v", err)
	}
}

func TestEntryKeepsHivePartitionDirs(t *testing.T) {
	st := mem.New()
	r := put(t, st, "transactions/dt=2026-01-01/part-x-0.parquet", []byte("data"))
	c := &cache.Cache{Dir: t.TempDir()}
	paths, _, err := c.Fetch(t.Context(), st, []cache.Ref{r})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(paths[0], "/dt=2026-01-01/part-x-0.parquet") {
		t.Fatalf("cache path %s lost the dt= directory DuckDB's hive_partitioning needs", paths[0])
	}
}
