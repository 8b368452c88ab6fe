package ingest

// The PostgreSQL source: an incremental pull of a table or query through a
// server-side cursor, fed to the ordinary decode/coerce pipeline as JSON
// lines. Each row becomes the object row_to_json would give (pgrow.go builds
// it from the text columns), so numeric columns arrive as exact JSON numbers,
// timestamptz as RFC 3339 strings (the session runs in UTC), jsonb as nested
// objects (reachable through dotted `from:` paths) and arrays as JSON arrays;
// the schema's coercer does the rest, and a row it rejects is quarantined
// with the JSON text as its raw line.
// docs/postgres.md describes the user-facing behaviour.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// PullOptions configure a pull from a postgres:// source. They are ignored
// for file sources.
type PullOptions struct {
	// Cursor is the column that orders the rows and whose largest committed
	// value is the job's watermark (_state/<job>.json). Empty: every run
	// pulls the whole table or query and replaces its earlier pull.
	Cursor string
	// CursorLookback re-reads rows whose cursor is up to this much below the
	// watermark, for rows committed late (time-typed cursors only). They
	// count as duplicates unless the schema's update_policy replaces them.
	CursorLookback time.Duration
	// BatchRows is the number of rows per FETCH (default 10,000).
	BatchRows int
	// StatementTimeout bounds each statement of the pull on the server
	// (default 5 minutes; the first FETCH of an ordered pull includes the
	// server's sort).
	StatementTimeout time.Duration
	// ConnectAttempts is the number of connection attempts before a
	// temporary failure is reported (default 3).
	ConnectAttempts int
}

// PullResult describes a PostgreSQL pull in the run result.
type PullResult struct {
	Cursor          string `json:"cursor,omitempty"`
	CursorType      string `json:"cursor_type,omitempty"`
	LookbackSeconds int64  `json:"lookback_seconds,omitempty"`
	// WatermarkBefore is the watermark the pull started from ("" for the
	// first pull); WatermarkAfter the one its commit recorded.
	WatermarkBefore string `json:"watermark_before"`
	WatermarkAfter  string `json:"watermark_after"`
	BatchRows       int    `json:"batch_rows"`
	Fetches         int64  `json:"fetches"`
	StateFile       string `json:"state_file,omitempty"`
}

// PullError is a failure of a PostgreSQL source. Its message never holds
// the password. Config failures (bad query, unknown table or column, wrong
// password) map to exit 2; temporary ones (refused connection, timeout, lost
// connection) wrap storage.ErrUnavailable and map to exit 75.
type PullError struct {
	Source    string // redacted URL
	Msg       string
	Config    bool
	Temporary bool
}

func (e *PullError) Error() string { return "source " + e.Source + ": " + e.Msg }

// ConfigError reports whether the failure is the user's configuration.
func (e *PullError) ConfigError() bool { return e.Config }

// Unwrap makes temporary failures match storage.ErrUnavailable.
func (e *PullError) Unwrap() error {
	if e.Temporary {
		return storage.ErrUnavailable
	}
	return nil
}

// IsPostgresURL reports whether a --source argument names a PostgreSQL
// source.
func IsPostgresURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// PostgresTable returns the table a postgres:// URL names with ?table=, or
// "" (for ?query= or a bad URL). The CLI derives the default job name from
// it.
func PostgresTable(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Query().Get("table")
}

// pgPull is one pull: the parsed source, its connection and transaction,
// and the watermarks.
type pgPull struct {
	o        PullOptions
	job      string
	redacted string // URL without password, for messages and records
	identity string // what is pulled: the URL without password and driver parameters
	conn     string // libpq connection string (no table/query)
	relation string // the SQL the rows come from: a quoted table or "(query)"
	state    *lake.PullState
	key      string // contribution key

	c          *pgx.Conn
	cursorType string
	before     string // watermark at start
	last       []byte // cursor text of the last row read
	cols       []pgColumn
	cursorCol  int // index of the cursor's text in a fetched row, -1 without cursor
	scratch    []byte
	fetches    int64
	done       bool
}

// parsePostgresURL checks a postgres:// source URL and splits off txlake's
// parameters (table, query).
func parsePostgresURL(raw string) (p *pgPull, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL; keep only the reason.
		msg := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		return nil, &PullError{Source: redactPG(raw), Msg: "bad URL: " + msg, Config: true}
	}
	p = &pgPull{redacted: redactPG(raw)}
	bad := func(msg string) error { return &PullError{Source: p.redacted, Msg: msg, Config: true} }
	if !IsPostgresURL(raw) || u.Opaque != "" || u.Host == "" && u.User != nil {
		return nil, bad("not a postgres://user@host:port/database URL")
	}
	if _, has := u.User.Password(); has {
		return nil, bad("the URL holds a password; give it in $PGPASSWORD or ~/.pgpass instead, so that it never reaches logs or run records")
	}
	q := u.Query()
	if q.Has("password") {
		return nil, bad("the URL holds a password parameter; give it in $PGPASSWORD or ~/.pgpass instead")
	}
	table, query := q.Get("table"), strings.TrimSpace(q.Get("query"))
	switch {
	case table != "" && query != "":
		return nil, bad("give ?table= or ?query=, not both")
	case table != "":
		parts := strings.Split(table, ".")
		if len(parts) > 2 {
			return nil, bad(fmt.Sprintf("table %q: want name or schema.name", table))
		}
		for _, part := range parts {
			if part == "" || strings.ContainsRune(part, 0) {
				return nil, bad(fmt.Sprintf("table %q: empty or invalid name", table))
			}
		}
		p.relation = pgx.Identifier(parts).Sanitize()
	case query != "":
		query = strings.TrimSpace(strings.TrimRight(query, "; \t\r\n"))
		if strings.ContainsRune(query, 0) {
			return nil, bad("query contains a NUL byte")
		}
		p.relation = "(" + query + ")"
	default:
		return nil, bad("name the rows to pull with ?table=NAME or ?query=<url-encoded SELECT>")
	}
	if u.Path == "" || u.Path == "/" {
		return nil, bad("the URL names no database (postgres://user@host:port/DATABASE?table=...)")
	}
	// The identity of the rows pulled ignores the driver's parameters
	// (sslmode, timeouts), which may change without changing the rows.
	id := url.URL{Scheme: "postgres", Host: u.Host, Path: u.Path}
	if u.User != nil {
		id.User = url.User(u.User.Username())
	}
	p.identity = id.String() + "?table=" + table
	if table == "" {
		p.identity = id.String() + "?query=" + query
	}
	q.Del("table")
	q.Del("query")
	if !q.Has("connect_timeout") {
		q.Set("connect_timeout", "10")
	}
	if !q.Has("application_name") {
		q.Set("application_name", "txlake")
	}
	u.RawQuery = q.Encode()
	p.conn = u.String()
	return p, nil
}

// redactPG removes a password from a postgres URL (userinfo or ?password=),
// keeping the user name, which helps to read an authentication error.
func redactPG(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !IsPostgresURL(raw) {
		// Not a parseable postgres URL: drop any userinfo textually.
		if i := strings.Index(raw, "://"); i >= 0 {
			rest := raw[i+3:]
			end := len(rest)
			if j := strings.IndexAny(rest, "/?#"); j >= 0 {
				end = j
			}
			if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
				return raw[:i+3] + "REDACTED" + rest[at:]
			}
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	s := u.String()
	// url.String escapes the placeholder's letters nowhere, but the query
	// text is easier to read unescaped.
	if un, err := url.PathUnescape(s); err == nil {
		return un
	}
	return s
}

// preparePull parses a postgres:// source, reads the job's state, connects,
// opens the read-only snapshot and declares the cursor. It returns nil when
// the sources are not a PostgreSQL source. The caller closes the pull.
func (o *Options) preparePull(ctx context.Context) (*pgPull, error) {
	var pg int
	for _, s := range o.Sources {
		if IsPostgresURL(s) {
			pg++
		}
	}
	if pg == 0 {
		return nil, nil
	}
	if len(o.Sources) != 1 {
		return nil, &SourceError{Source: redactPG(o.Sources[0]), Reason: "a postgres:// source must be the only --source of a run"}
	}
	p, err := parsePostgresURL(o.Sources[0])
	if err != nil {
		return nil, err
	}
	p.o, p.job = o.Pull, o.Job
	if p.o.BatchRows <= 0 {
		p.o.BatchRows = 10_000
	}
	if p.o.StatementTimeout <= 0 {
		p.o.StatementTimeout = 5 * time.Minute
	}
	if p.o.ConnectAttempts <= 0 {
		p.o.ConnectAttempts = 3
	}
	if p.o.CursorLookback < 0 {
		return nil, &PullError{Source: p.redacted, Msg: "--cursor-lookback must not be negative", Config: true}
	}
	if p.o.CursorLookback > 0 && p.o.Cursor == "" {
		return nil, &PullError{Source: p.redacted, Msg: "--cursor-lookback needs --cursor", Config: true}
	}
	if p.o.Cursor != "" {
		if p.state, err = lake.ReadState(ctx, o.Store, p.job); err != nil {
			return nil, err
		}
		if st := p.state; st != nil {
			if st.Cursor != p.o.Cursor || st.Table != o.Schema.Table || st.Source != p.identity {
				return nil, &PullError{Source: p.redacted, Config: true, Msg: fmt.Sprintf(
					"job %q already pulls %s by cursor %q into table %s (%s); use another --job for a different pull",
					p.job, st.Source, st.Cursor, st.Table, o.Store.URL(lake.StateKey(p.job)))}
			}
			p.before = st.Watermark
		}
		p.key = fmt.Sprintf("pull:%s:%s:cursor=%s:after=%s", p.job, p.identity, p.o.Cursor, p.before)
	} else {
		p.key = fmt.Sprintf("pull:%s:%s:full", p.job, p.identity)
	}
	if err := p.connect(ctx, o); err != nil {
		return nil, err
	}
	if err := p.begin(ctx); err != nil {
		p.close(ctx)
		return nil, err
	}
	return p, nil
}

func (p *pgPull) connect(ctx context.Context, o *Options) error {
	cfg, err := pgx.ParseConfig(p.conn)
	if err != nil {
		return &PullError{Source: p.redacted, Msg: "bad connection URL: " + scrub(err.Error(), p.conn, p.redacted), Config: true}
	}
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			p.c = c
			return nil
		}
		perr := p.classify(err, "connect")
		if !perr.Temporary || attempt >= p.o.ConnectAttempts || ctx.Err() != nil {
			if perr.Temporary {
				perr.Msg += fmt.Sprintf(" (after %d attempts)", attempt)
			}
			return perr
		}
		o.Logger.Warn("PostgreSQL connection failed; retrying", "source", p.redacted, "attempt", attempt, "err", perr.Msg)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay *= 2
	}
}

// begin opens the snapshot: a read-only REPEATABLE READ transaction in UTC,
// with the statement timeout, and declares the cursor over the rows.
func (p *pgPull) begin(ctx context.Context) error {
	stmts := []string{
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		"SET LOCAL TimeZone = 'UTC'",
		"SET LOCAL DateStyle = 'ISO, YMD'",
		"SET LOCAL IntervalStyle = 'iso_8601'",
		fmt.Sprintf("SET LOCAL statement_timeout = %d", p.o.StatementTimeout.Milliseconds()),
	}
	for _, s := range stmts {
		if _, err := p.c.Exec(ctx, s); err != nil {
			return p.classify(err, "begin the snapshot")
		}
	}
	// The probe checks the query and reads its columns and their types.
	rr := p.c.PgConn().ExecParams(ctx, "SELECT * FROM "+p.relation+" t LIMIT 0", nil, nil, nil, nil)
	var names []string
	var oids []uint32
	for _, fd := range rr.FieldDescriptions() {
		names = append(names, fd.Name)
		oids = append(oids, fd.DataTypeOID)
	}
	for rr.NextRow() {
	}
	if _, err := rr.Close(); err != nil {
		return p.classify(err, "query")
	}
	cols, err := p.columns(ctx, names, oids)
	if err != nil {
		return err
	}
	p.cols = cols
	list := make([]string, len(cols))
	for i, c := range cols {
		list[i] = "t." + pgx.Identifier{c.name}.Sanitize()
		if c.kind == colServerJSON {
			list[i] = "to_json(" + list[i] + ")::text"
		}
	}
	sel := "SELECT " + strings.Join(list, ", ") + " FROM " + p.relation + " t"
	p.cursorCol = -1
	if p.o.Cursor != "" {
		col := pgx.Identifier{p.o.Cursor}.Sanitize()
		var oid uint32
		for i, n := range names {
			if n == p.o.Cursor {
				p.cursorCol, oid = i, oids[i]
				break
			}
		}
		if p.cursorCol < 0 {
			return &PullError{Source: p.redacted, Config: true, Msg: fmt.Sprintf("--cursor %q is not a column of the rows (columns: %s)", p.o.Cursor, strings.Join(names, ", "))}
		}
		if p.cols[p.cursorCol].kind == colServerJSON {
			// The watermark must be PostgreSQL's own text form of the value.
			list = append(list, "(t."+col+")::text")
			sel = "SELECT " + strings.Join(list, ", ") + " FROM " + p.relation + " t"
			p.cursorCol = len(list) - 1
		}
		if err := p.c.QueryRow(ctx, "SELECT format_type($1::oid, NULL)", oid).Scan(&p.cursorType); err != nil {
			return p.classify(err, "cursor type")
		}
		timeTyped := strings.HasPrefix(p.cursorType, "timestamp") || p.cursorType == "date"
		if p.o.CursorLookback > 0 && !timeTyped {
			return &PullError{Source: p.redacted, Config: true, Msg: fmt.Sprintf("--cursor-lookback needs a date or timestamp cursor; %q is %s", p.o.Cursor, p.cursorType)}
		}
		if p.state != nil && p.state.CursorType != p.cursorType {
			return &PullError{Source: p.redacted, Config: true, Msg: fmt.Sprintf("cursor %q is now %s, but the job's watermark was taken as %s", p.o.Cursor, p.cursorType, p.state.CursorType)}
		}
		sel += " WHERE t." + col + " IS NOT NULL"
		if p.before != "" {
			lo, err := quoteLiteral(p.before)
			if err != nil {
				return &PullError{Source: p.redacted, Msg: "the stored watermark: " + err.Error()}
			}
			lo += "::" + p.cursorType
			if p.o.CursorLookback > 0 {
				lo = fmt.Sprintf("(%s - interval '%d microseconds')", lo, p.o.CursorLookback.Microseconds())
			}
			sel += " AND t." + col + " > " + lo
		}
		sel += " ORDER BY t." + col
	}
	if _, err := p.c.Exec(ctx, "DECLARE txlake_pull NO SCROLL CURSOR FOR "+sel); err != nil {
		return p.classify(err, "query")
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings).
func quoteLiteral(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", errors.New("contains a NUL byte")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// classify turns a pgx error into a PullError without secrets.
func (p *pgPull) classify(err error, what string) *PullError {
	e := &PullError{Source: p.redacted}
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		e.Msg = fmt.Sprintf("%s: %s (SQLSTATE %s)", what, pe.Message, pe.Code)
		switch {
		case strings.HasPrefix(pe.Code, "28"):
			e.Config = true
			e.Msg = fmt.Sprintf("%s: authentication failed: %s (SQLSTATE %s); check the user in the URL and the password in $PGPASSWORD or ~/.pgpass", what, pe.Message, pe.Code)
		case pe.Code == "3D000", strings.HasPrefix(pe.Code, "42"), strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "0A"):
			e.Config = true
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"),
			strings.HasPrefix(pe.Code, "40"):
			e.Temporary = true // connection, resources, shutdown, timeout, serialization
			if pe.Code == "57014" {
				e.Msg += "; the statement ran longer than --pg-statement-timeout"
			}
		}
		if pe.Detail != "" && e.Config && !strings.HasPrefix(pe.Code, "28") {
			e.Msg += ": " + pe.Detail
		}
	case errors.Is(err, context.Canceled):
		e.Msg = what + ": interrupted"
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), pgconn.Timeout(err):
		e.Temporary = true
		e.Msg = fmt.Sprintf("%s: PostgreSQL unreachable: %s", what, scrub(err.Error(), p.conn, p.redacted))
	default:
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			// A dial failure (refused, no route, DNS): worth retrying later.
			e.Temporary = true
			e.Msg = fmt.Sprintf("%s: PostgreSQL unreachable: %s", what, scrub(err.Error(), p.conn, p.redacted))
		} else {
			e.Msg = fmt.Sprintf("%s: %s", what, scrub(err.Error(), p.conn, p.redacted))
		}
	}
	return e
}

// scrub replaces the connection string in a driver message by its redacted
// form (pgx messages name host, user and database, never the password, but
// a parse error may echo the string).
func scrub(msg, conn, redacted string) string {
	msg = strings.ReplaceAll(msg, conn, redacted)
	// pgx lists one line per address tried; keep the message on one line.
	msg = strings.ReplaceAll(msg, ":\n\t", ": ")
	return strings.ReplaceAll(msg, "\n\t", "; ")
}

// source returns the pull as a source of the pipeline: JSON lines.
func (p *pgPull) source() *source {
	wm := p.before
	if wm == "" {
		wm = "start"
	}
	sum := "pull:full"
	if p.o.Cursor != "" {
		sum = "pull:after=" + wm
	}
	return &source{url: p.redacted, fmt: FormatJSONL, label: p.redacted, sum: sum, pg: p}
}

// reader streams the declared cursor as JSON lines. A goroutine FETCHes
// ahead (at most two batches waiting), so that the server works on the next
// batch while the pipeline decodes this one. Close stops it and waits for
// it, so the connection is free again afterwards.
func (p *pgPull) reader(ctx context.Context) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	r := &pgReader{ch: make(chan []byte, 2), stopped: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.stopped)
		defer close(r.ch)
		for !p.done {
			var buf bytes.Buffer
			if err := p.fetch(ctx, &buf); err != nil {
				r.err = err
				return
			}
			if buf.Len() == 0 {
				continue
			}
			select {
			case r.ch <- buf.Bytes():
			case <-ctx.Done():
				r.err = ctx.Err()
				return
			}
		}
	}()
	return r
}

type pgReader struct {
	ch      chan []byte
	cur     []byte
	err     error // set by the fetching goroutine before it closes ch
	stopped chan struct{}
	cancel  context.CancelFunc
}

func (r *pgReader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		next, ok := <-r.ch
		if !ok {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		r.cur = next
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *pgReader) Close() error {
	r.cancel()
	for range r.ch {
	}
	<-r.stopped
	return nil
}

// fetch appends the next batch of rows to buf as JSON lines. After the last
// batch it closes the cursor and ends the snapshot.
func (p *pgPull) fetch(ctx context.Context, buf *bytes.Buffer) error {
	rr := p.c.PgConn().ExecParams(ctx, "FETCH "+strconv.Itoa(p.o.BatchRows)+" FROM txlake_pull", nil, nil, nil, nil)
	n := 0
	for rr.NextRow() {
		v := rr.Values()
		buf.Write(p.appendRow(p.scratch[:0], v))
		if p.cursorCol >= 0 && v[p.cursorCol] != nil {
			p.last = append(p.last[:0], v[p.cursorCol]...)
		}
		n++
	}
	if _, err := rr.Close(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: reported like any interrupted ingest
		}
		return p.classify(err, "fetch")
	}
	p.fetches++
	if n < p.o.BatchRows {
		p.done = true
		if _, err := p.c.Exec(ctx, "COMMIT"); err != nil {
			return p.classify(err, "end the snapshot")
		}
	}
	return nil
}

// watermark returns the watermark after the pull: the largest cursor value
// read, or the one the pull started from when it read no row.
func (p *pgPull) watermark() string {
	if len(p.last) > 0 {
		return string(p.last)
	}
	return p.before
}

// result describes the pull for the run result.
func (p *pgPull) result(st storage.Store) *PullResult {
	r := &PullResult{Cursor: p.o.Cursor, CursorType: p.cursorType, LookbackSeconds: int64(p.o.CursorLookback / time.Second),
		WatermarkBefore: p.before, WatermarkAfter: p.watermark(), BatchRows: p.o.BatchRows, Fetches: p.fetches}
	if p.o.Cursor != "" {
		r.StateFile = st.URL(lake.StateKey(p.job))
	}
	return r
}

// commitState records the new watermark. It runs inside the commit, after
// every partition manifest is written (Commit.AfterManifests).
func (p *pgPull) commitState(ctx context.Context, st storage.Store, table, runID string, now time.Time) error {
	if p.o.Cursor == "" {
		return nil
	}
	s := &lake.PullState{Job: p.job, Table: table, Source: p.identity, Cursor: p.o.Cursor, CursorType: p.cursorType,
		Watermark: p.watermark(), Contribution: p.key, RunID: runID, Committed: now}
	if p.state != nil && s.Watermark == p.state.Watermark {
		// Nothing new: keep the record of the pull that set the watermark.
		s.Contribution, s.RunID, s.Committed = p.state.Contribution, p.state.RunID, p.state.Committed
	}
	if err := lake.WriteState(ctx, st, s); err != nil {
		return fmt.Errorf("record the watermark: %w", err)
	}
	return nil
}

// close ends the connection (rolling back an unfinished snapshot), also when
// ctx is already cancelled.
func (p *pgPull) close(ctx context.Context) {
	if p.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p.c.Close(ctx)
	p.c = nil
}
