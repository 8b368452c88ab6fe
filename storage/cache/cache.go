// Package cache is the local read cache through which DuckDB reads lake
// files that live in a remote store (S3, HDFS): DuckDB here has no httpfs
// and no HDFS support, so query, drift and verify fetch the files they need
// into a local directory first.
//
// Entries are content-addressed: a data file is keyed by the SHA-256 its
// manifest lists, any other object by its URL, size and ETag. An entry is
// therefore never stale, is reused across runs, and is verified (size, and
// SHA-256 when known) when it is fetched. The directory is capped in bytes
// and evicts the least recently used entries.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/txlake/txlake/storage"
)

// DefaultMaxBytes caps the cache when no size is given: 10 GiB.
const DefaultMaxBytes = 10 << 30

// Cache is a directory of fetched objects.
type Cache struct {
	Dir      string
	MaxBytes int64 // <= 0: DefaultMaxBytes
	// Parallel is the number of concurrent fetches (default 8).
	Parallel int

	mu sync.Mutex
}

// DefaultDir is $TXLAKE_CACHE_DIR, else the user cache directory's
// "txlake" folder, else a folder in the temporary directory.
func DefaultDir() string {
	if d := os.Getenv("TXLAKE_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "txlake")
	}
	return filepath.Join(os.TempDir(), "txlake-cache")
}

// Ref names one object to fetch.
type Ref struct {
	Key    string
	Size   int64
	SHA256 string // lowercase hex, when the manifest lists it
	ETag   string // when the store reports one
}

// Stats counts what a Fetch did.
type Stats struct {
	Hits, Fetched int
	BytesFetched  int64
	Evicted       int
}

// Fetch makes every ref available locally and returns their paths, in the
// order of refs. Objects are fetched in parallel; a cached entry is reused.
// A fetched object whose size or SHA-256 differs from the ref is an error
// and is not cached.
func (c *Cache) Fetch(ctx context.Context, st storage.Store, refs []Ref) ([]string, Stats, error) {
	var stats Stats
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, stats, fmt.Errorf("read cache %s: %w", c.Dir, err)
	}
	paths := make([]string, len(refs))
	keep := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	par := c.Parallel
	if par <= 0 {
		par = 8
	}
	g.SetLimit(par)
	var mu sync.Mutex
	for i, r := range refs {
		p := c.entryPath(st, r)
		paths[i] = p
		keep[p] = true
		if info, err := os.Stat(p); err == nil && info.Size() == r.Size {
			now := time.Now()
			_ = os.Chtimes(p, now, now) // LRU: mark as used
			stats.Hits++
			continue
		}
		g.Go(func() error {
			n, err := c.fetch(gctx, st, r, p)
			if err != nil {
				return err
			}
			mu.Lock()
			stats.Fetched++
			stats.BytesFetched += n
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, stats, err
	}
	ev, err := c.evict(keep)
	stats.Evicted = ev
	return paths, stats, err
}

func (c *Cache) entryPath(st storage.Store, r Ref) string {
	var id string
	if r.SHA256 != "" {
		id = "sha256-" + r.SHA256
	} else {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s", st.URL(r.Key), r.Size, r.ETag)))
		id = "url-" + hex.EncodeToString(sum[:])
	}
	// Keep the key's Hive partition directories (dt=YYYY-MM-DD) and its
	// base name, so DuckDB's hive_partitioning sees the same columns as on
	// the lake itself.
	parts := []string{c.Dir, id[:9], id}
	segs := strings.Split(r.Key, "/")
	for _, seg := range segs[:len(segs)-1] {
		if strings.Contains(seg, "=") && seg != "." && seg != ".." {
			parts = append(parts, seg)
		}
	}
	parts = append(parts, segs[len(segs)-1])
	return filepath.Join(parts...)
}

func (c *Cache) fetch(ctx context.Context, st storage.Store, r Ref, dst string) (int64, error) {
	obj, err := st.Open(ctx, r.Key)
	if err != nil {
		return 0, fmt.Errorf("fetch %s into the read cache: %w", st.URL(r.Key), err)
	}
	defer obj.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("read cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".fetch-*")
	if err != nil {
		return 0, fmt.Errorf("read cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), obj)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("fetch %s into the read cache: %w", st.URL(r.Key), err)
	}
	if n != r.Size {
		return 0, fmt.Errorf("fetch %s: got %d bytes, the lake lists %d", st.URL(r.Key), n, r.Size)
	}
	if r.SHA256 != "" && hex.EncodeToString(h.Sum(nil)) != r.SHA256 {
		return 0, fmt.Errorf("fetch %s: SHA-256 differs from the manifest (corrupt object?)", st.URL(r.Key))
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("read cache: %w", err)
	}
	return n, nil
}

// evict removes least recently used entries until the cache fits MaxBytes,
// never removing entries in keep (the current request's files).
func (c *Cache) evict(keep map[string]bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	err := filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".fetch-") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		entries = append(entries, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read cache %s: %w", c.Dir, err)
	}
	if total <= limit {
		return 0, nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	n := 0
	for _, e := range entries {
		if total <= limit {
			break
		}
		if keep[e.path] {
			continue
		}
		if err := os.Remove(e.path); err == nil {
			total -= e.size
			n++
		}
	}
	return n, nil
}
