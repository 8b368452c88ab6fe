package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
)

type describeOptions struct {
	g     *globalOptions
	lake  string
	table string
	json  bool
	cache cacheFlags
}

func newDescribeCmd(g *globalOptions) *cobra.Command {
	o := &describeOptions{g: g}
	cmd := &cobra.Command{
		Use:   "describe --table T [--lake URL] [--json]",
		Short: "List a table's columns with their types, tags, PII policy and null rate",
		Long: `Describe reads the table's current schema (_schema.json) and computes each
stored column's null rate over the committed partitions.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return usage(err)
			}
			return runDescribe(cmd.Context(), o)
		},
	}
	addLakeFlag(cmd, &o.lake)
	o.cache.register(cmd)
	cmd.Flags().StringVar(&o.table, "table", "", "table name (required)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON document on stdout")
	return cmd
}

func (o *describeOptions) validate() error {
	if o.table == "" {
		return errors.New("--table is required")
	}
	return lake.ValidateTable(o.table)
}

// describedColumn is one column of `describe --json` (docs/json-contracts.md).
type describedColumn struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Tags     []string `json:"tags"`
	PII      string   `json:"pii"`
	Stored   bool     `json:"stored"`
	Nulls    *int64   `json:"nulls"`
	NullRate *float64 `json:"null_rate"`
}

// describedRule is one row rule of `describe --json`.
type describedRule struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Definition string   `json:"definition"`
	Rows       *int64   `json:"rows_tagged"`
	Rate       *float64 `json:"tag_rate"`
}

type described struct {
	Table       string            `json:"table"`
	Fingerprint string            `json:"schema_fingerprint"`
	EventTime   string            `json:"event_time"`
	Key         []string          `json:"key"`
	Rows        int64             `json:"rows"`
	Partitions  int               `json:"partitions"`
	Versions    int               `json:"schema_versions"`
	Columns     []describedColumn `json:"columns"`
	Rules       []describedRule   `json:"rules"`
}

func runDescribe(ctx context.Context, o *describeOptions) error {
	st, _, err := openExistingLake(ctx, o.lake)
	if err != nil {
		return err
	}
	defer st.Close()
	sf, err := lake.ReadSchemaFile(ctx, st, o.table)
	if err != nil {
		return err
	}
	if sf == nil {
		return usage(fmt.Errorf("table %q not found in %s (no %s)", o.table, st.URL(""), lake.SchemaKey(o.table)))
	}
	var doc schemas.Doc
	if err := json.Unmarshal(sf.Schema, &doc); err != nil {
		return fmt.Errorf("%s: %w", st.URL(lake.SchemaKey(o.table)), err)
	}
	d := described{Table: o.table, Fingerprint: sf.Fingerprint, EventTime: doc.EventTime, Key: doc.Key, Versions: len(sf.History)}
	var stored []string
	for _, f := range doc.Fields {
		pii := f.PII
		if pii == "" {
			pii = "keep"
		}
		c := describedColumn{Name: f.Name, Type: f.Type, Required: f.Required, Tags: f.Tags, PII: pii, Stored: pii != "drop"}
		if c.Tags == nil {
			c.Tags = []string{}
		}
		if c.Stored {
			stored = append(stored, f.Name)
		}
		d.Columns = append(d.Columns, c)
	}
	d.Rules = []describedRule{}
	for _, r := range doc.Rules {
		d.Rules = append(d.Rules, describedRule{Name: r.Name, Kind: r.Kind, Definition: r.Summary()})
	}
	if len(doc.Rules) > 0 {
		d.Columns = append(d.Columns, describedColumn{Name: schemas.TagsColumn, Type: "list<string>", Required: true,
			Tags: []string{}, PII: "keep", Stored: true})
	}
	eng, err := query.Open(ctx, st, o.cache.resolver(st, o.g.logger), o.table)
	if err != nil {
		return err
	}
	defer eng.DB.Close()
	for _, t := range eng.Tables {
		if t.Name == o.table {
			d.Rows, d.Partitions = t.Rows, t.Partitions
		}
	}
	if d.Rows > 0 && len(stored) > 0 {
		sel := make([]string, len(stored))
		for i, n := range stored {
			sel[i] = fmt.Sprintf("count(*) - count(%s)", query.Ident(n))
		}
		row := eng.DB.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), query.Ident(o.table)))
		nulls := make([]int64, len(stored))
		ptrs := make([]any, len(stored))
		for i := range nulls {
			ptrs[i] = &nulls[i]
		}
		if err := row.Scan(ptrs...); err != nil {
			return fmt.Errorf("null rates of %s: %w", o.table, err)
		}
		byName := map[string]int64{}
		for i, n := range stored {
			byName[n] = nulls[i]
		}
		for i := range d.Columns {
			if n, ok := byName[d.Columns[i].Name]; ok {
				rate := float64(n) / float64(d.Rows)
				d.Columns[i].Nulls, d.Columns[i].NullRate = &n, &rate
			}
		}
	}
	if err := countRuleTags(ctx, eng.DB, o.table, &d); err != nil {
		return err
	}
	if o.json {
		return printJSON(o.g.streams.Out, d)
	}
	return printDescribe(o.g.streams.Out, d)
}

// countRuleTags counts the rows each rule tagged. Files written before the
// table had rules have no tags column; their rows count as untagged.
func countRuleTags(ctx context.Context, db *sql.DB, table string, d *described) error {
	if len(d.Rules) == 0 || d.Rows == 0 {
		return nil
	}
	var has bool
	if err := db.QueryRowContext(ctx, "SELECT count(*) > 0 FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
		table, schemas.TagsColumn).Scan(&has); err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	sel := make([]string, len(d.Rules))
	for i, r := range d.Rules {
		sel[i] = "0"
		if has {
			sel[i] = fmt.Sprintf("count(*) FILTER (list_contains(%s, %s))", query.Ident(schemas.TagsColumn), query.Literal(r.Name))
		}
	}
	counts := make([]int64, len(d.Rules))
	ptrs := make([]any, len(counts))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), query.Ident(table))).Scan(ptrs...); err != nil {
		return fmt.Errorf("rule tags of %s: %w", table, err)
	}
	for i := range d.Rules {
		rate := float64(counts[i]) / float64(d.Rows)
		d.Rules[i].Rows, d.Rules[i].Rate = &counts[i], &rate
	}
	return nil
}

func printDescribe(w io.Writer, d described) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s: %s rows in %d partitions, event time %s, key [%s], schema %s (%d versions)\n\n",
		d.Table, humanize.Comma(d.Rows), d.Partitions, d.EventTime, strings.Join(d.Key, ", "), schemas.ShortFingerprint(d.Fingerprint), d.Versions)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "column\ttype\trequired\ttags\tpii\tnull rate")
	for _, c := range d.Columns {
		rate := "-"
		if !c.Stored {
			rate = "not stored"
		} else if c.NullRate != nil {
			rate = fmt.Sprintf("%.2f%%", 100**c.NullRate)
		}
		tags := strings.Join(c.Tags, ",")
		if tags == "" {
			tags = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", c.Name, c.Type, c.Required, tags, c.PII, rate)
	}
	tw.Flush()
	if len(d.Rules) > 0 {
		fmt.Fprintf(&b, "\nrow rules (hits in the %s column; query with list_contains(%s, 'NAME')):\n", schemas.TagsColumn, schemas.TagsColumn)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "rule\tkind\trows tagged\tdefinition")
		for _, r := range d.Rules {
			n := "-"
			if r.Rows != nil {
				n = fmt.Sprintf("%s (%.2f%%)", humanize.Comma(*r.Rows), 100**r.Rate)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Kind, n, r.Definition)
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}
