// Package query exposes a lake to DuckDB: every table becomes a view over
// exactly the files its partition manifests list, and each table's
// quarantine becomes a view named <table>_quarantine.
package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/cache"
	"github.com/txlake/txlake/storage/lake"
)

// Table is one table exposed as a view.
type Table struct {
	Name       string
	Partitions int
	Files      int
	Rows       int64
	Bytes      int64
	// Quarantine is the number of quarantine files of the table.
	Quarantine int
}

// Engine is a DuckDB database with one view per lake table.
type Engine struct {
	DB     *sql.DB
	Tables []Table
}

// Resolver makes lake objects readable by DuckDB and returns their local
// paths, in the order of refs.
type Resolver func(ctx context.Context, refs []cache.Ref) ([]string, error)

// ResolverFor reads a local lake in place, and any other lake through the
// read cache c.
func ResolverFor(st storage.Store, c *cache.Cache, log func(cache.Stats)) Resolver {
	if lp, ok := st.(storage.LocalPather); ok {
		return func(_ context.Context, refs []cache.Ref) ([]string, error) {
			out := make([]string, len(refs))
			for i, r := range refs {
				out[i] = lp.LocalPath(r.Key)
			}
			return out, nil
		}
	}
	return func(ctx context.Context, refs []cache.Ref) ([]string, error) {
		paths, stats, err := c.Fetch(ctx, st, refs)
		if err == nil && log != nil {
			log(stats)
		}
		return paths, err
	}
}

// Open creates an in-memory DuckDB database with views over the lake.
// The caller closes Engine.DB.
//
// With tables given, only those tables get views (and only their files are
// resolved, which for a remote lake means fetched); otherwise every table
// of the lake does.
func Open(ctx context.Context, st storage.Store, resolve Resolver, tables ...string) (*Engine, error) {
	db, err := NewDB(ctx)
	if err != nil {
		return nil, err
	}
	e := &Engine{DB: db}
	if len(tables) == 0 {
		all, err := lake.ListTables(ctx, st)
		if err != nil {
			db.Close()
			return nil, err
		}
		tables = all
	}
	for _, t := range tables {
		info, err := createView(ctx, db, st, resolve, t)
		if err != nil {
			db.Close()
			return nil, err
		}
		e.Tables = append(e.Tables, info)
	}
	return e, nil
}

// NewDB starts an in-memory DuckDB database on one connection (views and
// temporary tables live on it) with the session time zone UTC. The caller
// closes it.
func NewDB(ctx context.Context) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("start DuckDB: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		db.Close()
		return nil, fmt.Errorf("DuckDB: %w", err)
	}
	return db, nil
}

// Files returns the committed manifests of table for dates in [from, to]
// ("" means unbounded).
func Files(ctx context.Context, st storage.Store, table, from, to string) ([]*lake.Manifest, error) {
	dates, err := lake.ListPartitions(ctx, st, table)
	if err != nil {
		return nil, err
	}
	return Manifests(ctx, st, table, dates, from, to)
}

// Manifests reads the manifests of the given partition dates that fall in
// [from, to] ("" means unbounded), skipping dates without one.
func Manifests(ctx context.Context, st storage.Store, table string, dates []string, from, to string) ([]*lake.Manifest, error) {
	var out []*lake.Manifest
	for _, dt := range dates {
		if (from != "" && dt < from) || (to != "" && dt > to) {
			continue
		}
		m, err := lake.ReadManifest(ctx, st, table, dt)
		if err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// CreateFileView creates view name over exactly the files ms list (with the
// dt partition column), resolving them to local paths first. ms must list
// at least one file.
func CreateFileView(ctx context.Context, db *sql.DB, resolve Resolver, name string, ms []*lake.Manifest) error {
	return CreateFileViewExcluding(ctx, db, resolve, name, ms, "")
}

// CreateFileViewExcluding is CreateFileView without the rows of
// contribution exclude that merged (compacted) files hold: their segment's
// row range of each such file is filtered out. Plain files of exclude are
// the caller's to leave out of ms.
func CreateFileViewExcluding(ctx context.Context, db *sql.DB, resolve Resolver, name string, ms []*lake.Manifest, exclude string) error {
	var refs []cache.Ref
	type skip struct {
		file       int
		start, end int64
	}
	var skips []skip
	for _, m := range ms {
		for _, f := range m.Files {
			if start, end, ok := f.RowRange(exclude); ok && exclude != "" {
				skips = append(skips, skip{len(refs), start, end})
			}
			refs = append(refs, cache.Ref{Key: m.Key(f), Size: f.Bytes, SHA256: f.SHA256})
		}
	}
	paths, err := resolve(ctx, refs)
	if err != nil {
		return err
	}
	const fileCol, rowCol = "_txlake_file", "file_row_number"
	conds := make([]string, len(skips))
	for i, k := range skips { // before stringList, which sorts paths
		conds[i] = fmt.Sprintf("(%s = %s AND %s BETWEEN %d AND %d)", fileCol, Literal(paths[k.file]), rowCol, k.start, k.end-1)
	}
	q := fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, union_by_name = true)",
		Ident(name), stringList(paths))
	if len(skips) > 0 {
		q = fmt.Sprintf("CREATE VIEW %s AS SELECT * EXCLUDE (%s, %s) FROM read_parquet(%s, hive_partitioning = true, union_by_name = true, filename = %s, file_row_number = true) WHERE NOT (%s)",
			Ident(name), fileCol, rowCol, stringList(paths), Literal(fileCol), strings.Join(conds, " OR "))
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create view %s: %w", name, err)
	}
	return nil
}

func createView(ctx context.Context, db *sql.DB, st storage.Store, resolve Resolver, table string) (Table, error) {
	info := Table{Name: table}
	manifests, err := Files(ctx, st, table, "", "")
	if err != nil {
		return info, err
	}
	for _, m := range manifests {
		info.Partitions++
		for _, f := range m.Files {
			info.Files++
			info.Rows += f.Rows
			info.Bytes += f.Bytes
		}
	}
	if info.Files > 0 {
		if err := CreateFileView(ctx, db, resolve, table, manifests); err != nil {
			return info, err
		}
	} else {
		cols, err := emptyColumns(ctx, st, table)
		if err != nil {
			return info, err
		}
		q := fmt.Sprintf("CREATE VIEW %s AS SELECT %s WHERE false", Ident(table), cols)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return info, fmt.Errorf("create view %s: %w", table, err)
		}
	}
	// Quarantine files are replaced atomically per contribution; all present
	// ones are current.
	var qrefs []cache.Ref
	qprefix := "_quarantine/" + table + "/"
	err = st.List(ctx, qprefix, func(o storage.ObjectInfo) error {
		name := strings.TrimPrefix(o.Key, qprefix)
		if strings.HasSuffix(name, ".parquet") && !strings.Contains(name, "/") {
			qrefs = append(qrefs, cache.Ref{Key: o.Key, Size: o.Size, ETag: o.ETag})
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("list quarantine of %s: %w", table, err)
	}
	qpaths, err := resolve(ctx, qrefs)
	if err != nil {
		return info, err
	}
	info.Quarantine = len(qpaths)
	if len(qpaths) > 0 {
		q := fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet(%s, union_by_name = true)", Ident(table+"_quarantine"), stringList(qpaths))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return info, fmt.Errorf("create view %s_quarantine: %w", table, err)
		}
	}
	return info, nil
}

// emptyColumns builds a typed, empty select list from the table's schema so
// an empty table still has its columns.
func emptyColumns(ctx context.Context, st storage.Store, table string) (string, error) {
	sf, err := lake.ReadSchemaFile(ctx, st, table)
	if err != nil || sf == nil {
		return "NULL::DATE AS dt", err
	}
	var doc struct {
		Fields []struct {
			Name string `json:"name"`
			Type string `json:"type"`
			PII  string `json:"pii"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(sf.Schema, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", st.URL(lake.SchemaKey(table)), err)
	}
	var cols []string
	for _, f := range doc.Fields {
		if f.PII == "drop" {
			continue
		}
		cols = append(cols, fmt.Sprintf("NULL::%s AS %s", duckType(f.Type), Ident(f.Name)))
	}
	cols = append(cols, "NULL::DATE AS dt")
	return strings.Join(cols, ", "), nil
}

var decimalRe = regexp.MustCompile(`^decimal\((\d+),(\d+)\)$`)

func duckType(t string) string {
	switch t {
	case "string":
		return "VARCHAR"
	case "int64":
		return "BIGINT"
	case "float64":
		return "DOUBLE"
	case "bool":
		return "BOOLEAN"
	case "timestamp":
		return "TIMESTAMPTZ"
	case "date":
		return "DATE"
	case "list<string>":
		return "VARCHAR[]"
	}
	if m := decimalRe.FindStringSubmatch(t); m != nil {
		return "DECIMAL(" + m[1] + "," + m[2] + ")"
	}
	return "VARCHAR"
}

// Ident quotes a DuckDB identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Literal quotes a DuckDB string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// StringList renders items, sorted, as a DuckDB list of string literals.
func StringList(items []string) string { return stringList(items) }

func stringList(items []string) string {
	sort.Strings(items)
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = Literal(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
