package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/cache"
)

// cacheFlags configure the local read cache used for remote lakes.
type cacheFlags struct {
	dir      string
	maxBytes int64
}

func (c *cacheFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.dir, "cache-dir", "", "read cache for remote (s3, hdfs) lakes (default $TXLAKE_CACHE_DIR, else the user cache dir)")
	cmd.Flags().Int64Var(&c.maxBytes, "cache-max-bytes", cache.DefaultMaxBytes, "size cap of the read cache; least recently used files are evicted")
}

func (c *cacheFlags) resolver(st storage.Store, log *slog.Logger) query.Resolver {
	dir := c.dir
	if dir == "" {
		dir = cache.DefaultDir()
	}
	rc := &cache.Cache{Dir: dir, MaxBytes: c.maxBytes}
	return query.ResolverFor(st, rc, func(s cache.Stats) {
		if s.Fetched > 0 || s.Evicted > 0 {
			log.Info("read cache", "dir", dir, "hits", s.Hits, "fetched", s.Fetched, "bytes_fetched", s.BytesFetched, "evicted", s.Evicted)
		}
	})
}
