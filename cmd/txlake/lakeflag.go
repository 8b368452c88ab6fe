package main

import (
	"context"
	"os"

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

// openLake opens the lake's store.
func openLake(ctx context.Context, flag string) (storage.Store, string, error) {
	u := resolveLake(flag)
	st, err := backend.Open(ctx, u)
	if err != nil {
		return nil, u, err
	}
	return st, st.URL(""), nil
}
