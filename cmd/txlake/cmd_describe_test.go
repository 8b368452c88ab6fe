package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIDescribe(t *testing.T) {
	dir := t.TempDir()
	logs, lakeDir := filepath.Join(dir, "logs"), filepath.Join(dir, "lake")
	cliGen(t, logs, "--drift", "from=2026-01-01,null_rate=email:0.5")
	res, _ := cliIngestJSON(t, lakeDir, "--source", filepath.Join(logs, "*.jsonl"))

	r := cliMust(t, "describe", "--table", "transactions", "--lake", lakeDir, "--json")
	var d described
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("describe --json: %v\n%s", err, r.stdout)
	}
	if d.Rows != res.RowsWritten || d.Table != "transactions" || d.EventTime != "created_at" {
		t.Fatalf("describe header = %+v, want %d rows", d, res.RowsWritten)
	}
	cols := map[string]describedColumn{}
	for _, c := range d.Columns {
		cols[c.Name] = c
	}
	email := cols["email"]
	if email.PII != "mask" || strings.Join(email.Tags, ",") != "pii:email" || email.NullRate == nil {
		t.Fatalf("email column = %+v", email)
	}
	if *email.NullRate < 0.4 || *email.NullRate > 0.6 {
		t.Fatalf("email null rate = %v, gen --drift asked for about 0.5", *email.NullRate)
	}
	if id := cols["transaction_id"]; id.NullRate == nil || *id.NullRate != 0 || id.Tags[0] != "id:transaction" {
		t.Fatalf("transaction_id column = %+v", id)
	}

	if tags := cols["tags"]; tags.Type != "list<string>" {
		t.Fatalf("tags column = %+v", tags)
	}
	if len(d.Rules) != len(res.RuleHits) {
		t.Fatalf("describe lists %d rules, the run counted %d", len(d.Rules), len(res.RuleHits))
	}
	for i, r := range d.Rules {
		if h := res.RuleHits[i]; r.Name != h.Rule || r.Rows == nil || *r.Rows != h.Rows || r.Definition == "" {
			t.Errorf("describe rule %+v, the run counted %+v", r, h)
		}
	}

	text := cliMust(t, "describe", "--table", "transactions", "--lake", lakeDir).stdout
	for _, want := range []string{"money:amount", "pii:email", "mask", "decimal(18,2)", "row rules", "at least 10 rows per [customer_id] within 1h"} {
		if !strings.Contains(text, want) {
			t.Errorf("describe output lacks %q:\n%s", want, text)
		}
	}
	if r := cliRun(t, "describe", "--table", "nope", "--lake", lakeDir); r.code != exitUsage {
		t.Fatalf("describe of a missing table: exit %d, want %d (%s)", r.code, exitUsage, r.stderr)
	}
}
