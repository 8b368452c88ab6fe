// Command txlake is a batch data-lake ETL and archival tool: it ingests
// transaction logs into a Hive-partitioned Parquet lake and reports on it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	setMemoryLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], newStdStreams())
	stop()
	os.Exit(code)
}
