package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/backend"
)

// defaultLake is the lake URL when neither --lake nor $TXLAKE_LAKE is set.
const defaultLake = "./lake"

// addLakeFlag registers --lake on cmd.
func addLakeFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "lake", "", "lake URL: a path, file://, s3://bucket/prefix or hdfs://namenode:port/path (default $TXLAKE_LAKE, else ./lake)")
}

// resolveLake returns the lake URL to use.
func resolveLake(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("TXLAKE_LAKE"); env != "" {
		return env
	}
	return defaultLake
}

// openLake opens the lake's store for writing: a local lake directory is
// created when missing.
func openLake(ctx context.Context, flag string) (storage.Store, string, error) {
	u := resolveLake(flag)
	st, err := backend.Open(ctx, u)
	if err != nil {
		return nil, u, err
	}
	return st, st.URL(""), nil
}

// openExistingLake opens the lake's store for reading. A local lake that
// does not exist is a usage error, and is not created.
func openExistingLake(ctx context.Context, flag string) (storage.Store, string, error) {
	u := resolveLake(flag)
	if p, ok := localLakePath(u); ok {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, u, usage(fmt.Errorf("lake %s does not exist (nothing has been ingested there; check --lake or $TXLAKE_LAKE)", u))
		}
	}
	return openLake(ctx, flag)
}

// localLakePath returns the filesystem path of a bare-path or file:// lake.
func localLakePath(u string) (string, bool) {
	if strings.HasPrefix(u, "file://") {
		return strings.TrimPrefix(u, "file://"), true
	}
	if i := strings.Index(u, "://"); i >= 0 {
		return "", false
	}
	return u, true
}
