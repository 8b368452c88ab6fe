package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/storage/backend"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	streams   *streams
	prof      profiling
	logFormat string // auto | text | json
	logLevel  string
	logger    *slog.Logger
	// s3Endpoint overrides the S3 endpoint (S3-compatible stores).
	s3Endpoint string
}

func newRootCmd(s *streams) (*cobra.Command, *globalOptions) {
	g := &globalOptions{streams: s}
	root := &cobra.Command{
		Use:   "txlake",
		Short: "Batch ETL of transaction logs into a Hive-partitioned Parquet lake",
		Long: `txlake ingests transaction logs (JSON lines, CSV) into a Hive-partitioned,
zstd-compressed Parquet lake with atomic, idempotent commits, and queries it
with DuckDB.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			l, err := newLogger(g.streams.Err, g.streams.ErrTTY, g.logFormat, g.logLevel)
			if err != nil {
				return usage(err)
			}
			g.logger = l
			if g.s3Endpoint != "" {
				u, err := url.Parse(g.s3Endpoint)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
					return usage(fmt.Errorf("--s3-endpoint %q: want http(s)://host[:port] without credentials", backend.Redact(g.s3Endpoint)))
				}
				if err := os.Setenv(backend.S3EndpointEnv, g.s3Endpoint); err != nil {
					return err
				}
			}
			return g.prof.start()
		},
	}
	g.prof.register(root)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format on stderr: auto (text on a terminal, else json), text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.s3Endpoint, "s3-endpoint", "", "S3 endpoint for s3:// URLs, e.g. http://127.0.0.1:7070 for an S3-compatible store (default $TXLAKE_S3_ENDPOINT, else $AWS_ENDPOINT_URL, else AWS); path-style addressing is used with an endpoint")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usage(err) })

	root.AddCommand(
		newVersionCmd(g),
		newIngestCmd(g),
		newQueryCmd(g),
		newGenCmd(g),
		newDescribeCmd(g),
		newDriftCmd(g),
		newVerifyCmd(g),
		newArchiveCmd(g),
		newRestoreCmd(g),
		newJobsCmd(g),
		newRunCmd(g),
		newBackfillCmd(g),
		newPlanCmd(g),
		newRunsCmd(g),
	)
	return root, g
}

// execute runs the CLI with args and returns the process exit code.
func execute(ctx context.Context, args []string, s *streams) int {
	root, g := newRootCmd(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	g.prof.stop()
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code == exitOK {
		code = exitFailure
	}
	// cobra's own argument errors (unknown command, wrong arg count) are usage errors.
	var ue *usageError
	if !errors.As(err, &ue) && cmd != nil && isCobraUsageError(err) {
		code = exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(s.Err, "txlake: interrupted; nothing was half-committed")
	} else {
		fmt.Fprintf(s.Err, "txlake: %v\n", err)
	}
	return code
}
