package main

// Tests of the postgres:// ingest source against the real PostgreSQL of
// testdata/services/postgres (TXLAKE_TEST_PG_URL, PGPASSWORD and
// TXLAKE_TEST_PG_ADMIN_URL from .cache/services/postgres.env).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage/lake"
)

const pgSchema = "../../testdata/postgres/payments.yaml"

// pgDB creates a fresh database owned by the test role, with the payments
// table, and drops it when the test ends. It returns the URL of the test
// role (no password: that is in $PGPASSWORD) and an admin connection to it.
func pgDB(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	roleURL := svcRequire(t, "TXLAKE_TEST_PG_URL", "postgres")
	adminURL := svcRequire(t, "TXLAKE_TEST_PG_ADMIN_URL", "postgres")
	name := strings.ReplaceAll(svcUnique("pg"), "-", "_")
	admin, err := pgx.Connect(t.Context(), adminURL)
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name+" OWNER txlake"); err != nil {
		t.Fatal(err)
	}
	admin.Close(t.Context())
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context()) // t.Context is done when cleanups run
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("cleanup: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(roleURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	au, _ := url.Parse(adminURL)
	au.Path = "/" + name
	c, err := pgx.Connect(t.Context(), au.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.WithoutCancel(t.Context())) })
	ddl, err := os.ReadFile("../../testdata/postgres/payments.sql")
	if err != nil {
		t.Fatal(err)
	}
	pgExec(t, c, string(ddl)+"; ALTER TABLE payments OWNER TO txlake")
	return dbURL, c
}

func pgExec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgInsert inserts payments ids [from, to) with created_at spread over 5
// days from 2026-01-01 and updated_at = now().
func pgInsert(t *testing.T, c *pgx.Conn, from, to int) {
	t.Helper()
	pgExec(t, c, `INSERT INTO payments (payment_id, customer_id, amount, currency, status, details, tags, created_at)
		SELECT i, 'cust_' || (i % 97), (i % 1000) + 0.25, 'EUR', 'captured',
		       jsonb_build_object('merchant', jsonb_build_object('id', 'm' || (i % 13)), 'channel', 'web'),
		       ARRAY['a', 'b'], timestamptz '2026-01-01 00:00:00+00' + ((i % 7200) || ' minutes')::interval
		FROM generate_series($1::bigint, $2::bigint - 1) i`, from, to)
}

// pgIDs returns the sorted payment ids of the table that the schema accepts
// (amount >= 0), with their status.
func pgIDs(t *testing.T, c *pgx.Conn) []string {
	t.Helper()
	rows, err := c.Query(t.Context(), "SELECT payment_id::text || ':' || status FROM payments WHERE amount >= 0 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lakeIDs returns the sorted "payment_id:status" of every row in the lake.
func lakeIDs(t *testing.T, lakeDir string) []string {
	t.Helper()
	out := cliQuery(t, lakeDir, "SELECT payment_id::VARCHAR || ':' || status AS k FROM payments ORDER BY 1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 0 && lines[0] == "k" {
		lines = lines[1:]
	}
	sort.Strings(lines)
	return lines
}

func pgPull(t *testing.T, lakeDir, src string, extra ...string) *ingest.Result {
	t.Helper()
	r := cliMust(t, append([]string{"ingest", "--schema", pgSchema, "--lake", lakeDir, "--json", "--source", src}, extra...)...)
	res := cliDecodeResult(t, r.stdout)
	if !res.Reconciled || res.RowsRead != res.RowsWritten+res.RowsQuarantined+res.RowsDuplicate {
		t.Fatalf("pull does not reconcile: %+v", res)
	}
	return res
}

func equalIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: lake has %d rows, table %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d: lake %s, table %s", what, i, got[i], want[i])
		}
	}
}

func TestPostgresFullAndIncrementalPull(t *testing.T) {
	dbURL, c := pgDB(t)
	lakeDir := t.TempDir()
	pgInsert(t, c, 1, 3001)
	// One row the schema rejects, and one whose jsonb lacks the merchant.
	pgExec(t, c, `INSERT INTO payments VALUES (900001, 'cust_x', -5, 'EUR', 'captured', NULL, NULL, '2026-01-02', now()),
		(900002, 'cust_y', 7.5, 'EUR', 'refunded', '{"channel":"app"}', '{}', '2026-01-03', now())`)
	src := dbURL + "?table=payments"

	t.Run("full pull without cursor", func(t *testing.T) {
		full := t.TempDir()
		res := pgPull(t, full, src)
		if res.RowsRead != 3002 || res.RowsWritten != 3001 || res.RowsQuarantined != 1 {
			t.Fatalf("read %d written %d quarantined %d, want 3002/3001/1", res.RowsRead, res.RowsWritten, res.RowsQuarantined)
		}
		if len(res.QuarantineReasons) != 1 || res.QuarantineReasons[0].Field != "amount" {
			t.Fatalf("quarantine reasons %+v, want one for amount", res.QuarantineReasons)
		}
		equalIDs(t, "full pull", lakeIDs(t, full), pgIDs(t, c))
		// A full pull again replaces its own contribution: same rows.
		again := pgPull(t, full, src)
		if !again.Contribution.Replaced || again.RowsDuplicate != 0 {
			t.Fatalf("second full pull: replaced %v duplicate %d", again.Contribution.Replaced, again.RowsDuplicate)
		}
		equalIDs(t, "full pull again", lakeIDs(t, full), pgIDs(t, c))
		if _, err := os.Stat(filepath.Join(full, "_state")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a pull without --cursor wrote a watermark: %v", err)
		}
	})

	res := pgPull(t, lakeDir, src, "--cursor", "updated_at", "--cursor-lookback", "1m", "--pg-batch-rows", "500")
	if res.RowsWritten != 3001 || res.RowsQuarantined != 1 || res.Pull == nil || res.Pull.Fetches < 6 {
		t.Fatalf("first pull: %+v pull %+v", res, res.Pull)
	}
	if got := cliQuery(t, lakeDir, "SELECT count(*) FROM payments WHERE merchant_id IS NULL"); !strings.Contains(got, "\n1\n") {
		t.Errorf("the row without a merchant in its jsonb: %q", got)
	}
	equalIDs(t, "first pull", lakeIDs(t, lakeDir), pgIDs(t, c))
	st, err := lake.ReadState(t.Context(), svcOpen(t, lakeDir), "pg-payments")
	if err != nil || st == nil || st.Watermark == "" || st.Watermark != res.Pull.WatermarkAfter {
		t.Fatalf("state %+v, %v; pull %+v", st, err, res.Pull)
	}

	// Another connection inserts and updates while pulls run.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := pgx.Connect(t.Context(), strings.Replace(dbURL, "txlake@", "postgres@", 1))
		if err != nil {
			werr = err
			return
		}
		defer w.Close(t.Context())
		for id := 10_000; ; id += 50 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Exec(t.Context(), `BEGIN;
				INSERT INTO payments (payment_id, customer_id, amount, currency, status, details, created_at)
				SELECT i, 'cust_n', 1.00, 'USD', 'authorized', '{}', timestamptz '2026-01-04 00:00:00+00' + (i || ' seconds')::interval
				FROM generate_series(`+fmt.Sprint(id)+`, `+fmt.Sprint(id+49)+`) i;
				UPDATE payments SET status = 'refunded', updated_at = now() WHERE payment_id = `+fmt.Sprint(id/50)+`;
				COMMIT`); err != nil {
				werr = err
				return
			}
		}
	}()
	var dups int64
	for i := 0; i < 3; i++ {
		r := pgPull(t, lakeDir, src, "--cursor", "updated_at", "--cursor-lookback", "1m", "--pg-batch-rows", "500")
		dups += r.RowsDuplicate
		if r.Pull.WatermarkBefore == "" || r.Pull.WatermarkAfter < r.Pull.WatermarkBefore {
			t.Fatalf("pull %d: watermark %q -> %q", i, r.Pull.WatermarkBefore, r.Pull.WatermarkAfter)
		}
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	last := pgPull(t, lakeDir, src, "--cursor", "updated_at", "--cursor-lookback", "1m")
	dups += last.RowsDuplicate
	if dups == 0 {
		t.Error("the lookback re-read no row: want duplicates counted")
	}
	// Default update_policy: an updated row is a duplicate, the lake keeps
	// the first version. So compare ids, and statuses of untouched rows.
	var wantIDs, gotIDs []string
	for _, s := range pgIDs(t, c) {
		wantIDs = append(wantIDs, strings.Split(s, ":")[0])
	}
	for _, s := range lakeIDs(t, lakeDir) {
		gotIDs = append(gotIDs, strings.Split(s, ":")[0])
	}
	sort.Strings(wantIDs)
	sort.Strings(gotIDs)
	equalIDs(t, "after concurrent pulls", gotIDs, wantIDs)

	// Re-runs add nothing.
	again := pgPull(t, lakeDir, src, "--cursor", "updated_at")
	if again.RowsRead != 0 || again.RowsWritten != 0 {
		t.Fatalf("re-run without lookback read %d wrote %d, want 0", again.RowsRead, again.RowsWritten)
	}
	again = pgPull(t, lakeDir, src, "--cursor", "updated_at", "--cursor-lookback", "1h")
	if again.RowsWritten != 0 || again.RowsDuplicate != again.RowsRead-again.RowsQuarantined {
		t.Fatalf("re-run with lookback wrote %d (read %d, duplicate %d), want 0 written", again.RowsWritten, again.RowsRead, again.RowsDuplicate)
	}
	equalIDs(t, "after re-runs", func() []string {
		var ids []string
		for _, s := range lakeIDs(t, lakeDir) {
			ids = append(ids, strings.Split(s, ":")[0])
		}
		sort.Strings(ids)
		return ids
	}(), wantIDs)
}

func TestPostgresPullQuery(t *testing.T) {
	dbURL, c := pgDB(t)
	pgInsert(t, c, 1, 201)
	lakeDir := t.TempDir()
	q := "SELECT * FROM payments WHERE payment_id % 2 = 0"
	res := pgPull(t, lakeDir, dbURL+"?query="+url.QueryEscape(q), "--cursor", "payment_id", "--job", "even-payments")
	if res.RowsWritten != 100 || res.Job != "even-payments" || res.Pull.WatermarkAfter != "200" {
		t.Fatalf("query pull: written %d job %s watermark %q", res.RowsWritten, res.Job, res.Pull.WatermarkAfter)
	}
	pgInsert(t, c, 201, 211)
	res = pgPull(t, lakeDir, dbURL+"?query="+url.QueryEscape(q), "--cursor", "payment_id", "--job", "even-payments")
	if res.RowsRead != 5 || res.RowsWritten != 5 || res.Pull.WatermarkBefore != "200" || res.Pull.WatermarkAfter != "210" {
		t.Fatalf("second query pull: read %d written %d watermark %q -> %q", res.RowsRead, res.RowsWritten, res.Pull.WatermarkBefore, res.Pull.WatermarkAfter)
	}
}

// TestPostgresArrays pulls a text[] column into a list<string> field: every
// accepted row's list equals the table's array element for element (NULL,
// empty, quoting, commas, Unicode), and an array with a NULL element is
// quarantined, not dropped.
func TestPostgresArrays(t *testing.T) {
	dbURL, c := pgDB(t)
	pgInsert(t, c, 1, 6)
	pgExec(t, c, `UPDATE payments SET tags = CASE payment_id
		WHEN 1 THEN NULL
		WHEN 2 THEN '{}'::text[]
		WHEN 3 THEN ARRAY['a,b', 'say "hi"', 'back\slash', '{braces}', 'été', '', 'NULL']
		WHEN 4 THEN ARRAY['x', NULL]
		ELSE ARRAY[repeat('z', 5000), 'multi' || chr(10) || 'line'] END`)
	lakeDir := t.TempDir()
	res := pgPull(t, lakeDir, dbURL+"?table=payments", "--max-quarantine-ratio", "0.5")
	if res.RowsWritten != 4 || res.RowsQuarantined != 1 {
		t.Fatalf("written %d, quarantined %d; want 4 and 1", res.RowsWritten, res.RowsQuarantined)
	}
	if len(res.QuarantineReasons) != 1 || !strings.Contains(res.QuarantineReasons[0].Example, "field labels: type: element 1 is null") {
		t.Errorf("quarantine reasons %+v", res.QuarantineReasons)
	}
	rows, err := c.Query(t.Context(), "SELECT payment_id, coalesce(to_json(tags)::text, 'null') FROM payments WHERE payment_id <> 4 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var id int64
		var js string
		if err := rows.Scan(&id, &js); err != nil {
			t.Fatal(err)
		}
		var v any // compare parsed JSON: the two servers space their JSON differently
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		want[fmt.Sprint(id)] = string(b)
	}
	rows.Close()
	out := cliMust(t, "query", "--lake", lakeDir, "--format", "json",
		"SELECT payment_id, typeof(labels) AS t, CAST(to_json(labels) AS VARCHAR) AS j FROM payments ORDER BY 1").stdout
	type lakeRow struct {
		ID   int64  `json:"payment_id"`
		Type string `json:"t"`
		JSON string `json:"j"`
	}
	var got []lakeRow
	for line := range strings.Lines(out) { // JSON lines
		var r lakeRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, r)
	}
	if len(got) != len(want) {
		t.Fatalf("lake has %d rows, table %d accepted ones", len(got), len(want))
	}
	for _, g := range got {
		var v any
		if g.JSON == "" {
			g.JSON = "null"
		}
		if err := json.Unmarshal([]byte(g.JSON), &v); err != nil {
			t.Fatalf("%d: %v", g.ID, err)
		}
		b, _ := json.Marshal(v)
		if g.Type != "VARCHAR[]" || string(b) != want[fmt.Sprint(g.ID)] {
			t.Errorf("payment %d: lake %s %s, table %s", g.ID, g.Type, b, want[fmt.Sprint(g.ID)])
		}
	}
}

func TestPostgresPullErrors(t *testing.T) {
	dbURL, c := pgDB(t)
	pgInsert(t, c, 1, 11)
	lakeDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	password := os.Getenv("PGPASSWORD")

	cases := []struct {
		name   string
		source string
		env    map[string]string
		extra  []string
		code   int
		want   string
	}{
		{"bad query", dbURL + "?query=" + url.QueryEscape("SELEC * FROM payments"), nil, nil, exitUsage, "syntax error"},
		{"unknown table", dbURL + "?table=no_such_table", nil, nil, exitUsage, "does not exist"},
		{"unknown cursor", dbURL + "?table=payments", nil, []string{"--cursor", "nope"}, exitUsage, `--cursor "nope" is not a column`},
		{"refused connection", fmt.Sprintf("postgres://txlake@127.0.0.1:%d/txlake?table=payments", closedPort), nil, nil, exitTempFailure, "unreachable"},
		{"wrong password", dbURL + "?table=payments", map[string]string{"PGPASSWORD": "not-the-password-42"}, nil, exitUsage, "password authentication failed"},
		{"password in URL", strings.Replace(dbURL, "txlake@", "txlake:"+password+"@", 1) + "?table=payments", nil, nil, exitUsage, "$PGPASSWORD"},
		{"neither table nor query", dbURL, nil, nil, exitUsage, "?table="},
		{"lookback on an integer cursor", dbURL + "?table=payments", nil, []string{"--cursor", "payment_id", "--cursor-lookback", "1h"}, exitUsage, "needs a date or timestamp cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"ingest", "--schema", pgSchema, "--lake", lakeDir, "--source", tc.source}, tc.extra...)
			r := cliRun(t, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, r.stderr)
			}
			for _, secret := range []string{password, "not-the-password-42"} {
				if strings.Contains(r.stderr+r.stdout, secret) {
					t.Errorf("the output shows the password %q:\n%s", secret, r.stderr)
				}
			}
		})
	}
	// No run record or state anywhere holds the password.
	_ = filepath.WalkDir(lakeDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), password) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})
}

// TestPostgresPullCrash SIGKILLs the real binary while it pulls (data files
// written, nothing committed), during the commit (some manifests written),
// and after the manifests (watermark not yet written), then re-runs: the
// lake must then hold exactly the table's rows, once each.
func TestPostgresPullCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbURL, c := pgDB(t)
	bin := txlakeBinary(t)
	pgInsert(t, c, 1, 40_001)
	src := dbURL + "?table=payments"
	ids := func() []string {
		var out []string
		for _, s := range pgIDs(t, c) {
			out = append(out, strings.Split(s, ":")[0])
		}
		sort.Strings(out)
		return out
	}
	lakeIDOnly := func(lakeDir string) []string {
		var out []string
		for _, s := range lakeIDs(t, lakeDir) {
			out = append(out, strings.Split(s, ":")[0])
		}
		sort.Strings(out)
		return out
	}
	run := func(lakeDir string, schema string) *exec.Cmd {
		cmd := exec.CommandContext(t.Context(), bin, "ingest", "--schema", schema, "--lake", lakeDir, "--source", src,
			"--cursor", "updated_at", "--cursor-lookback", "1m", "--pg-batch-rows", "200", "--log-format", "json")
		// A short lease TTL: the re-run after a kill waits for the dead
		// run's leases to expire.
		cmd.Env = append(os.Environ(), "TXLAKE_LOCK_TTL=2s")
		return cmd
	}
	manifests := func(lakeDir string) map[string][]byte {
		out := map[string][]byte{}
		dirs, _ := filepath.Glob(filepath.Join(lakeDir, "payments", "dt=*"))
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(d, lake.ManifestName)); err == nil {
				out[d] = b
			}
		}
		return out
	}
	dataFiles := func(lakeDir string) int {
		m, _ := filepath.Glob(filepath.Join(lakeDir, "payments", "dt=*", "part-*.parquet"))
		return len(m)
	}
	kills := []struct {
		name   string
		schema string // default pgSchema
		when   func(lakeDir string, before map[string][]byte, filesBefore int) bool
	}{
		{"data written, nothing committed", "", func(l string, before map[string][]byte, fb int) bool {
			return dataFiles(l) > fb && crashChanged(before, manifests(l)) == 0
		}},
		{"first manifest written", "", func(l string, before map[string][]byte, _ int) bool {
			return crashChanged(before, manifests(l)) >= 1
		}},
		{"all manifests written", "", func(l string, before map[string][]byte, _ int) bool {
			return crashChanged(before, manifests(l)) >= 5
		}},
		{"update_policy replace, first manifest written", "../../testdata/postgres/payments_replace.yaml", func(l string, before map[string][]byte, _ int) bool {
			return crashChanged(before, manifests(l)) >= 1
		}},
	}
	for i, k := range kills {
		t.Run(k.name, func(t *testing.T) {
			lakeDir := t.TempDir()
			schema := k.schema
			if schema == "" {
				schema = pgSchema
			}
			if i > 0 {
				// A committed pull first, so the kill hits an incremental one.
				if err := run(lakeDir, schema).Run(); err != nil {
					t.Fatal(err)
				}
				pgExec(t, c, "UPDATE payments SET updated_at = now(), status = 'refunded' WHERE payment_id % 3 = $1", i%3)
				pgInsert(t, c, 100_000+i*10_000, 100_000+i*10_000+5_000)
			}
			stateBefore, _ := os.ReadFile(filepath.Join(lakeDir, "_state", "pg-payments.json"))
			before, fb := manifests(lakeDir), dataFiles(lakeDir)
			cmd := run(lakeDir, schema)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			killed := false
		poll:
			for {
				select {
				case err := <-exited:
					if err != nil {
						t.Fatalf("pull failed: %v", err)
					}
					break poll
				default:
				}
				if k.when(lakeDir, before, fb) {
					if err := cmd.Process.Kill(); err == nil {
						killed = <-exited != nil
					}
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
			stateAfterKill, _ := os.ReadFile(filepath.Join(lakeDir, "_state", "pg-payments.json"))
			if killed && string(stateAfterKill) != string(stateBefore) && crashChanged(before, manifests(lakeDir)) < len(manifests(lakeDir)) {
				t.Errorf("the watermark moved although not every manifest was written")
			}
			t.Logf("killed: %v; %d manifests changed; watermark changed: %v", killed, crashChanged(before, manifests(lakeDir)), string(stateAfterKill) != string(stateBefore))
			if err := run(lakeDir, schema).Run(); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			equalIDs(t, "after kill and re-run", lakeIDOnly(lakeDir), ids())
			if k.schema != "" {
				// Replaced rows carry the table's current status, once each.
				equalIDs(t, "statuses after kill and re-run", lakeIDs(t, lakeDir), pgIDs(t, c))
			}
			// And the re-run after that adds nothing.
			if err := run(lakeDir, schema).Run(); err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "after another run", lakeIDOnly(lakeDir), ids())
		})
	}
}

// TestPostgresPullReplace pulls with update_policy: replace: updated rows
// replace their stored version (copy-on-write of the files that held them),
// so the lake equals the table, statuses included.
func TestPostgresPullReplace(t *testing.T) {
	dbURL, c := pgDB(t)
	pgInsert(t, c, 1, 2001)
	lakeDir := t.TempDir()
	src := dbURL + "?table=payments"
	pull := func() *ingest.Result {
		return pgPull(t, lakeDir, src, "--schema", "../../testdata/postgres/payments_replace.yaml", "--cursor", "updated_at", "--cursor-lookback", "1m")
	}
	first := pull()
	if first.RowsWritten != 2000 || first.RowsReplaced != 0 {
		t.Fatalf("first pull wrote %d, replaced %d", first.RowsWritten, first.RowsReplaced)
	}
	pgExec(t, c, "UPDATE payments SET status = 'refunded', updated_at = now() + interval '1 second' WHERE payment_id % 10 = 0")
	pgInsert(t, c, 5000, 5100)
	second := pull()
	if second.RowsReplaced != 200 || second.RowsWritten != 300 {
		t.Fatalf("second pull wrote %d, replaced %d; want 300 and 200", second.RowsWritten, second.RowsReplaced)
	}
	equalIDs(t, "after the replacing pull", lakeIDs(t, lakeDir), pgIDs(t, c))
	// The lookback re-reads the replaced rows: now duplicates, not replaced again.
	third := pull()
	if third.RowsReplaced != 0 || third.RowsWritten != 0 {
		t.Fatalf("third pull wrote %d, replaced %d; want 0", third.RowsWritten, third.RowsReplaced)
	}
	equalIDs(t, "after a re-run", lakeIDs(t, lakeDir), pgIDs(t, c))
	// A plain glob of the partitions (no manifest) sees each key once.
	got := cliQuery(t, lakeDir, fmt.Sprintf("SELECT count(*) - count(DISTINCT payment_id) AS d FROM read_parquet('%s/payments/dt=*/*.parquet')", lakeDir))
	if !strings.Contains(got, "\n0\n") {
		t.Errorf("a glob of the partitions sees duplicate keys: %q", got)
	}
}

// TestPostgresPullGolden pins the --json and human summaries of a pull
// (testdata/golden/pull.json, pull.txt).
func TestPostgresPullGolden(t *testing.T) {
	dbURL, c := pgDB(t)
	pgExec(t, c, `INSERT INTO payments (payment_id, customer_id, amount, currency, status, details, tags, created_at, updated_at)
		SELECT i, 'cust_' || (i % 7), (i % 50) + 0.5, 'EUR', 'captured', jsonb_build_object('merchant', jsonb_build_object('id', 'm' || (i % 3))),
		       ARRAY['a'], timestamptz '2026-01-01 00:00:00+00' + (i || ' hours')::interval, timestamptz '2026-01-01 00:00:00+00' + (i || ' hours')::interval
		FROM generate_series(1, 60) i`)
	pgExec(t, c, `INSERT INTO payments VALUES (61, 'cust_x', -1, 'eur', 'captured', NULL, NULL, '2026-01-02', '2026-01-04')`)
	for _, human := range []bool{false, true} {
		tmp := t.TempDir()
		args := []string{"ingest", "--schema", pgSchema, "--lake", filepath.Join(tmp, "lake"), "--source", dbURL + "?table=payments",
			"--cursor", "updated_at", "--cursor-lookback", "1h"}
		golden := "pull.txt"
		if !human {
			args, golden = append(args, "--json"), "pull.json"
		}
		r := cliMust(t, args...)
		res := &ingest.Result{}
		if human {
			res.RunID = regexp.MustCompile(`run (\S+) \(`).FindStringSubmatch(r.stdout + "run ? (")[1]
			res.Contribution.ID = regexp.MustCompile(`_quarantine/payments/([0-9a-f]+)\.parquet`).FindStringSubmatch(r.stdout + "_quarantine/payments/0.parquet")[1]
		} else {
			res = cliDecodeResult(t, r.stdout)
		}
		got := cliNormalize(r.stdout, tmp, res.RunID, res.Contribution.ID)
		u, _ := url.Parse(dbURL)
		got = strings.ReplaceAll(got, u.Host+u.Path, "$PG_HOST/$PG_DB")
		if !reTook.MatchString(got) && human {
			got += "\ntook $DURATION\n"
		}
		got = reTook.ReplaceAllString(got, "took $$DURATION")
		cliGolden(t, golden, got)
	}
}

// TestPostgresPullSIGTERM stops a pull with SIGTERM while it fetches: exit 1,
// nothing committed, no watermark, and the session on the server is gone.
func TestPostgresPullSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbURL, c := pgDB(t)
	bin := txlakeBinary(t)
	pgInsert(t, c, 1, 100_001)
	lakeDir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bin, "ingest", "--schema", pgSchema, "--lake", lakeDir, "--source", dbURL+"?table=payments",
		"--cursor", "updated_at", "--pg-batch-rows", "200", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errText strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		errText.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "ingest starting") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		errText.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err == nil {
		t.Skip("the pull finished before SIGTERM arrived")
	}
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("exit %v, want 1\n%s", err, errText.String())
	}
	if !strings.Contains(errText.String(), "interrupted") {
		t.Errorf("stderr does not say interrupted:\n%s", errText.String())
	}
	for _, pattern := range []string{"_state/*", "payments/dt=*/*"} {
		if m, _ := filepath.Glob(filepath.Join(lakeDir, pattern)); len(m) > 0 {
			t.Errorf("left behind after SIGTERM: %v", m)
		}
	}
	// A run interrupted once its pipeline started records its failure (one
	// interrupted while it still prepares writes no record, as for files).
	runs, _ := filepath.Glob(filepath.Join(lakeDir, "_runs", "pg-payments", "*.json"))
	for _, r := range runs {
		if b, _ := os.ReadFile(r); !strings.Contains(string(b), `"outcome": "failed"`) {
			t.Errorf("run record: %s", b)
		}
	}
	// The pull closed its session: the server forgets it promptly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := c.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'txlake' AND datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d txlake sessions still open 10 s after the pull exited", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A jobs.yaml ingest job pulls from PostgreSQL with its cursor options:
// the first run takes the table, a later run only the new rows.
func TestPostgresJobsYAMLPull(t *testing.T) {
	dbURL, c := pgDB(t)
	pgInsert(t, c, 1, 2001)
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	schema, err := filepath.Abs(pgSchema)
	if err != nil {
		t.Fatal(err)
	}
	jobs := filepath.Join(dir, "jobs.yaml")
	doc := fmt.Sprintf(`lake: %s
jobs:
  payments:
    kind: ingest
    schema: %s
    sources: ['%s?table=payments']
    cursor: updated_at
    cursor_lookback: 1m
    pg_batch_rows: 300
    pg_statement_timeout: 2m
`, lakeDir, schema, dbURL)
	if err := os.WriteFile(jobs, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cliMust(t, "jobs", "validate", "--jobs", jobs)
	r := cliMust(t, "run", "payments", "--jobs", jobs, "--date", "2026-01-02", "--json")
	first := cliDecodeResult(t, r.stdout)
	if first.RowsWritten != 2000 || first.Pull == nil || first.Pull.BatchRows != 300 {
		t.Fatalf("first run: written %d, pull %+v", first.RowsWritten, first.Pull)
	}
	equalIDs(t, "first run", lakeIDs(t, lakeDir), pgIDs(t, c))

	pgInsert(t, c, 2001, 2501)
	r = cliMust(t, "run", "payments", "--jobs", jobs, "--date", "2026-01-03", "--json")
	second := cliDecodeResult(t, r.stdout)
	if second.RowsWritten != 500 {
		t.Fatalf("second run wrote %d rows (read %d, duplicate %d), want the 500 new ones", second.RowsWritten, second.RowsRead, second.RowsDuplicate)
	}
	equalIDs(t, "second run", lakeIDs(t, lakeDir), pgIDs(t, c))
	if _, err := os.Stat(filepath.Join(lakeDir, "_state", "payments.json")); err != nil {
		t.Errorf("the job's watermark: %v", err)
	}
}
