package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePostgresURL(t *testing.T) {
	cases := []struct {
		name, url string
		relation  string
		wantErr   string
	}{
		{"table", "postgres://etl@db:5432/pay?table=payments", `"payments"`, ""},
		{"schema table", "postgresql://etl@db/pay?table=billing.payments", `"billing"."payments"`, ""},
		{"quoted table", `postgres://etl@db/pay?table=we"ird`, `"we""ird"`, ""},
		{"query", "postgres://etl@db/pay?query=SELECT%20*%20FROM%20p%3B", "(SELECT * FROM p)", ""},
		{"both", "postgres://etl@db/pay?table=a&query=SELECT%201", "", "not both"},
		{"neither", "postgres://etl@db/pay", "", "?table="},
		{"no database", "postgres://etl@db?table=a", "", "no database"},
		{"password", "postgres://etl:s3cret@db/pay?table=a", "", "$PGPASSWORD"},
		{"password parameter", "postgres://etl@db/pay?table=a&password=s3cret", "", "$PGPASSWORD"},
		{"three-part table", "postgres://etl@db/pay?table=a.b.c", "", "schema.name"},
		{"empty table part", "postgres://etl@db/pay?table=a.", "", "empty or invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePostgresURL(tc.url)
			if tc.wantErr != "" {
				var pe *PullError
				if !errors.As(err, &pe) || !pe.ConfigError() || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a config error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "table" {
				q, _ := parsePostgresURL(tc.url + "&sslmode=require&connect_timeout=3")
				if q.identity != "postgres://etl@db:5432/pay?table=payments" || q.identity != p.identity {
					t.Errorf("identity %q (with driver parameters %q)", p.identity, q.identity)
				}
			}
			if p.relation != tc.relation {
				t.Errorf("relation %s, want %s", p.relation, tc.relation)
			}
			if strings.Contains(p.conn, "table=") || strings.Contains(p.conn, "query=") || !strings.Contains(p.conn, "application_name=txlake") {
				t.Errorf("connection string %s", p.conn)
			}
		})
	}
}

func TestRedactPG(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://etl@db:5432/pay?table=p":               "postgres://etl@db:5432/pay?table=p",
		"postgres://etl:pw@db:5432/pay?table=p":            "postgres://etl:REDACTED@db:5432/pay?table=p",
		"postgres://etl@db/pay?password=pw&table=p":        "postgres://etl@db/pay?password=REDACTED&table=p",
		"postgres://etl:p%40ss@db/pay?table=p":             "postgres://etl:REDACTED@db/pay?table=p",
		"postgres://etl:pw@db/pay?query=SELECT%20%2A":      "postgres://etl:REDACTED@db/pay?query=SELECT *",
		"postgres://etl:pw@[bad/pay":                       "postgres://REDACTED@[bad/pay",
		"postgres://etl@db/pay?query=SELECT+1+WHERE+a%3Db": "postgres://etl@db/pay?query=SELECT+1+WHERE+a=b",
	} {
		if got := redactPG(in); got != want {
			t.Errorf("redactPG(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParsePostgresURL: parsing never panics, and neither the error nor the
// redacted URL ever holds the password of the userinfo.
func FuzzParsePostgresURL(f *testing.F) {
	for _, s := range []string{"postgres://etl:pw@db:5432/pay?table=payments", "postgres://u@h/d?query=SELECT%201",
		"postgresql://a:b@[::1]:5/d?table=x.y&sslmode=disable", "postgres://%zz@h/d", "postgres://u:p@h/d?password=q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const pw = "Zq9secretZq9"
		in := s
		if i := strings.Index(in, "://"); i >= 0 && !strings.Contains(in[i+3:], "@") {
			in = in[:i+3] + "u:" + pw + "@" + in[i+3:]
		}
		p, err := parsePostgresURL(in)
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Fatalf("error shows the password: %v", err)
		}
		if p != nil && strings.Contains(p.redacted, pw) {
			t.Fatalf("redacted URL shows the password: %s", p.redacted)
		}
	})
}
