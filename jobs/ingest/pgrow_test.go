package ingest

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPostgresRowsAsJSON checks the txlake-side rendering of fetched rows
// against PostgreSQL's own row_to_json, type by type, on the real server
// (TXLAKE_TEST_PG_URL; skipped without it unless TXLAKE_REQUIRE_SERVICES=1).
func TestPostgresRowsAsJSON(t *testing.T) {
	base := os.Getenv("TXLAKE_TEST_PG_URL")
	if base == "" {
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal("TXLAKE_TEST_PG_URL is not set (testdata/services/start-postgres.sh)")
		}
		t.Skip("TXLAKE_TEST_PG_URL is not set (testdata/services/start-postgres.sh)")
	}
	q := `SELECT * FROM (VALUES
	  (1::bigint, E'a"b\\c\nd\u0001\u00e9\u4e16'::text, 'x'::varchar, '2026-01-05 10:00:00.123+05:30'::timestamptz,
	   '2026-01-05 10:00:00'::timestamp, '2026-01-05'::date, true, '{"a":` + "\n" + ` 1}'::json, '{"b": [1, 2.50]}'::jsonb,
	   ARRAY['p', 'q"']::text[], 12.5::money, '1 day 2 hours'::interval, 'Infinity'::float8, 1.5e300::float8,
	   '12345678901234.56'::numeric, 'NaN'::numeric, 7::smallint, 'ab '::char(3), '{"(1,2)"}'::point[], '11111111-2222-3333-4444-555555555555'::uuid),
	  (2, NULL, NULL, 'infinity', '0044-03-15 00:00:00 BC', NULL, false, NULL, 'null', '{}', NULL, NULL, '-Infinity', -0.0, -1, NULL, NULL, NULL, NULL, NULL)
	) v(id, s, vc, tstz, ts, d, b, j, jb, arr, m, iv, f, f2, n, nn, sm, ch, pts, u)`
	src := base + "?query=" + url.QueryEscape(q)
	p, err := parsePostgresURL(src)
	if err != nil {
		t.Fatal(err)
	}
	p.o = PullOptions{BatchRows: 1, StatementTimeout: 10e9, ConnectAttempts: 1}
	if err := p.connect(t.Context(), &Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	defer p.close(t.Context())
	if err := p.begin(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := p.reader(t.Context())
	var got []any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		got = append(got, decodeJSON(t, sc.Text()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	r.Close()

	c, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	if _, err := c.Exec(t.Context(), "SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'"); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(t.Context(), "SELECT row_to_json(t)::text FROM ("+q+") t", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) != len(got) {
		t.Fatalf("%d rows rendered, row_to_json gives %d", len(got), len(texts))
	}
	for i, text := range texts {
		want := decodeJSON(t, strings.ReplaceAll(text, "\n", " "))
		if !reflect.DeepEqual(got[i], want) {
			gm, wm := got[i].(map[string]any), want.(map[string]any)
			for k := range wm {
				if !reflect.DeepEqual(gm[k], wm[k]) {
					t.Errorf("row %d column %s: txlake %#v, row_to_json %#v", i, k, gm[k], wm[k])
				}
			}
		}
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}
