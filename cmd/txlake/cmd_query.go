package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/query"
)

type queryOptions struct {
	g       *globalOptions
	lake    string
	format  string
	maxRows int
	sql     string
	tables  bool
	cache   cacheFlags
}

func newQueryCmd(g *globalOptions) *cobra.Command {
	o := &queryOptions{g: g}
	cmd := &cobra.Command{
		Use:   "query [--lake URL] SQL",
		Short: "Run DuckDB SQL over the lake; every table is a view of its name",
		Long: `Query runs one DuckDB SQL statement over the lake. Every table is a view of
its name over exactly the files its partition manifests list (with the dt
partition column), and <table>_quarantine is a view over its rejected rows.

` + exitCodesHelp,
		Example: `  txlake query "SELECT dt, count(*) AS n, sum(amount) AS total FROM transactions GROUP BY dt ORDER BY dt"
  txlake query --format csv "SELECT * FROM transactions WHERE dt = DATE '2026-01-03'" > day.csv
  txlake query "SELECT rule, field, count(*) FROM transactions_quarantine GROUP BY ALL"
  txlake query --tables`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.sql = strings.TrimSpace(strings.Join(args, " "))
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runQuery(cmd.Context(), o)
		},
	}
	addLakeFlag(cmd, &o.lake)
	o.cache.register(cmd)
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: table, csv or json (JSON lines)")
	cmd.Flags().IntVar(&o.maxRows, "max-rows", 1000, "rows shown in table format")
	cmd.Flags().BoolVar(&o.tables, "tables", false, "list the lake's tables and views instead of running SQL")
	return cmd
}

func (o *queryOptions) validate() error {
	switch o.format {
	case query.FormatTable, query.FormatCSV, query.FormatJSON:
	default:
		return fmt.Errorf("--format %q: want table, csv or json", o.format)
	}
	if o.sql == "" && !o.tables {
		return errors.New("give a SQL statement, e.g. txlake query \"SELECT count(*) FROM transactions\"")
	}
	if o.maxRows < 1 {
		return fmt.Errorf("--max-rows %d: want at least 1", o.maxRows)
	}
	return nil
}

func runQuery(ctx context.Context, o *queryOptions) error {
	st, _, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := query.Open(ctx, st, o.cache.resolver(st, o.g.logger))
	if err != nil {
		return err
	}
	defer eng.DB.Close()
	if o.tables {
		sql := "SELECT table_name AS view FROM information_schema.tables ORDER BY 1"
		if len(eng.Tables) == 0 {
			fmt.Fprintf(o.g.streams.Err, "the lake %s has no tables yet\n", st.URL(""))
		}
		_, err := query.Run(ctx, eng.DB, sql, o.g.streams.Out, o.format, o.maxRows)
		return err
	}
	_, err = query.Run(ctx, eng.DB, o.sql, o.g.streams.Out, o.format, o.maxRows)
	if err != nil && len(eng.Tables) == 0 {
		return fmt.Errorf("%w (the lake %s has no tables yet)", err, st.URL(""))
	}
	return err
}
