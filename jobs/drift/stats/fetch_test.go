package stats

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// countingConnector wraps the DuckDB connector and counts every row that
// crosses from DuckDB into Go, so tests can assert that Compare never fetches
// per-value rows.
type countingConnector struct {
	driver.Connector
	rows *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn, rows: c.rows}, nil
}

type countingConn struct {
	driver.Conn
	rows *atomic.Int64
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	if err != nil {
		return nil, err
	}
	return countingRows{Rows: r, rows: c.rows}, nil
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

type countingRows struct {
	driver.Rows
	rows *atomic.Int64
}

func (r countingRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == nil {
		r.rows.Add(1)
	}
	return err
}

func countingDB(t testing.TB) (*sql.DB, *atomic.Int64) {
	t.Helper()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := new(atomic.Int64)
	db := sql.OpenDB(countingConnector{Connector: c, rows: n})
	t.Cleanup(func() { db.Close() })
	return db, n
}

// TestNoPerValueFetch: with 300,000 distinct numeric values and 150,000
// distinct categories, Compare fetches only a bounded number of rows (summary
// rows, <= Bins+1 cells, <= 20 histogram bins, <= MaxCategories per category
// list, the top-20 histogram).
func TestNoPerValueFetch(t *testing.T) {
	db, fetched := countingDB(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE big_ref AS SELECT i * 0.5 AS x, 'r' || i AS c FROM range(200000) t(i)`,
		`CREATE TABLE big_cur AS SELECT i * 0.7 + 0.1 AS x, 'c' || i AS c FROM range(100000) t(i)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	fetched.Store(0)
	res, err := Compare(ctx, db, Input{Ref: "big_ref", Cur: "big_cur", Column: "x", Kind: Numeric}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Categories < 250000 {
		t.Fatalf("distinct values %d", res.Categories)
	}
	if n := fetched.Load(); n > 2+1+11+20 {
		t.Errorf("numeric Compare fetched %d rows", n)
	}
	t.Logf("numeric: %d distinct values, %d rows fetched", res.Categories, fetched.Load())

	fetched.Store(0)
	res, err = Compare(ctx, db, Input{Ref: "big_ref", Cur: "big_cur", Column: "c", Kind: Categorical}, Options{MaxCategories: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Categories != 300000 || res.NewCategoryCount != 100000 || len(res.NewCategories) != 100 {
		t.Fatalf("categories %d new %d/%d", res.Categories, res.NewCategoryCount, len(res.NewCategories))
	}
	if n := fetched.Load(); n > 2+2*100+21 {
		t.Errorf("categorical Compare fetched %d rows", n)
	}
	t.Logf("categorical: %d distinct values, %d rows fetched", res.Categories, fetched.Load())
}

// BenchmarkCompare: 1e6 reference rows against 1e5 current rows.
func BenchmarkCompare(b *testing.B) {
	db, _ := countingDB(b)
	ctx := context.Background()
	for _, q := range []string{
		`SELECT setseed(0.42)`,
		`CREATE TABLE bref AS SELECT round(100 + 15 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()), 2) AS amount,
		   'k' || CAST(floor(random() * 50) AS INT) AS cat, random() < 0.1 AS flag FROM range(1000000)`,
		`CREATE TABLE bcur AS SELECT round(101 + 16 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()), 2) AS amount,
		   'k' || CAST(floor(random() * 52) AS INT) AS cat, random() < 0.12 AS flag FROM range(100000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		col  string
		kind Kind
	}{{"amount", Numeric}, {"cat", Categorical}, {"flag", Binary}} {
		b.Run(fmt.Sprintf("%s_1e6_vs_1e5", c.kind), func(b *testing.B) {
			for b.Loop() {
				if _, err := Compare(ctx, db, Input{Ref: "bref", Cur: "bcur", Column: c.col, Kind: c.kind}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
