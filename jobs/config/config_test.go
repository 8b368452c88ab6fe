package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseExample(t *testing.T) {
	f, err := Load("testdata/jobs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Lake != "s3://lake/prod" || len(f.Jobs) != 4 {
		t.Fatalf("lake %q, %d jobs", f.Lake, len(f.Jobs))
	}
	names := []string{"payments", "payments-drift", "payments-archive", "payments-verify"}
	for i, j := range f.Jobs {
		if j.Name != names[i] {
			t.Errorf("job %d is %q, want %q (file order)", i, j.Name, names[i])
		}
	}
	in := f.Jobs[0].Ingest
	if in.MaxQuarantineRatio != 0.01 || in.QuarantineRedact != "mask" || in.Workers != 4 || in.MaxLineBytes != 1<<20 ||
		len(in.Webhooks) != 1 || in.Format != "auto" {
		t.Errorf("ingest job did not merge the defaults: %+v", in)
	}
	if in.Schema != "../../schemas/transactions.yaml" {
		t.Errorf("schema path %q is not resolved against the jobs file's directory", in.Schema)
	}
	day := time.Date(2026, 2, 3, 17, 0, 0, 0, time.UTC)
	got, err := in.Sources[0].Expand(day)
	if err != nil || got != "s3://landing/pay/2026/02/03/*.jsonl.gz" {
		t.Errorf("expand: %q, %v", got, err)
	}
	d := f.Jobs[1].Drift
	ref, err := ExpandRange(d.Reference, day)
	if err != nil || ref.From != "2026-01-06" || ref.To != "2026-02-02" {
		t.Errorf("reference: %+v, %v", ref, err)
	}
	cur, err := ExpandRange(d.Current, day)
	if err != nil || cur.From != "2026-02-03" || cur.To != "2026-02-03" {
		t.Errorf("current (today = the run date): %+v, %v", cur, err)
	}
	if !d.FailOnDrift || d.FDR != 0.05 || d.Format != "html" || d.MinSegmentRows != 500 || d.TrendDays != 28 || len(d.Webhooks) != 1 {
		t.Errorf("drift job: %+v", d)
	}
	a := f.Jobs[2].Archive
	if a.OlderThan != 90*24*time.Hour || !a.Compact || a.TargetFileSize != 128<<20 || a.StorageClass != "GLACIER_IR" || a.DeleteAfter != 730*24*time.Hour {
		t.Errorf("archive job: %+v", a)
	}
	v := f.Jobs[3].Verify
	if v.Table != "transactions" || v.Range == nil || v.Repair {
		t.Errorf("verify job: %+v", v)
	}
	if _, err := f.Job("nope"); err == nil || !strings.Contains(err.Error(), "payments-drift") {
		t.Errorf("unknown job: %v", err)
	}
}

// Every mistake is reported with its line, all at once.
func TestParseErrors(t *testing.T) {
	const head = "lake: /tmp/lake\njobs:\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // "LINE: substring"
	}{
		{"not yaml", "jobs: [\n", []string{"1: invalid YAML"}},
		{"empty", "", []string{"0: empty jobs file"}},
		{"no jobs", "lake: x\n", []string{"1: no jobs"}},
		{"unknown top key", "lak: x\njobs: {a: {kind: verify}}\n", []string{`1: jobs file: unknown key "lak" (did you mean "lake"?)`}},
		{"no kind", head + "  a:\n    table: t\n", []string{"3: job \"a\": no kind"}},
		{"unknown kind", head + "  a:\n    kind: compact\n", []string{`4: job "a": unknown kind "compact"`}},
		{"key of another kind", head + "  a:\n    kind: verify\n    schema: x.yaml\n", []string{`5: job "a" (verify): unknown key "schema"`}},
		{"missing schema and sources", head + "  a:\n    kind: ingest\n", []string{`3: job "a": schema is required`, `3: job "a": sources is required`}},
		{"bad template", head + "  a:\n    kind: ingest\n    schema: s.yaml\n    sources: ['{{ .Date.Format }']\n", []string{"6: job \"a\": sources: bad template"}},
		{"template field", head + "  a:\n    kind: ingest\n    schema: s.yaml\n    sources: ['{{ .Day }}']\n", []string{"6: job \"a\": sources: template"}},
		{"bad ratio and several errors", head + "  a:\n    kind: ingest\n    schema: s.yaml\n    sources: x\n    max_quarantine_ratio: 2\n  b:\n    kind: drift\n    table: Bad-Name\n    reference: last week\n    current: today\n",
			[]string{"7: job \"a\": max_quarantine_ratio 2", "10: job \"b\": invalid table name", "11: job \"b\": reference:"}},
		{"bad job name", head + "  ../x:\n    kind: verify\n", []string{"3: job \"../x\": invalid job name"}},
		{"bad duration", head + "  a:\n    kind: archive\n    table: t\n    older_than: 3 months\n    compact: true\n", []string{`6: job "a": older_than: invalid duration "3 months"`}},
		{"archive without action", head + "  a:\n    kind: archive\n    table: t\n    older_than: 30d\n", []string{"3: job \"a\": nothing to do"}},
		{"delete before archive", head + "  a:\n    kind: archive\n    table: t\n    older_than: 30d\n    delete_after: 7d\n", []string{"7: job \"a\": delete_after 7d is shorter than older_than 30d"}},
		{"bad size", head + "  a:\n    kind: archive\n    table: t\n    older_than: 30d\n    compact: true\n    target_file_size: 10\n", []string{"8: job \"a\": target_file_size"}},
		{"bad webhook", "defaults:\n  webhooks: ftp://x\njobs: {a: {kind: verify}}\n", []string{"2: defaults: webhooks:"}},
		{"duplicate job", head + "  a: {kind: verify}\n  a: {kind: verify}\n", []string{`4: already defined`}},
		{"bool", head + "  a:\n    kind: verify\n    repair: yes please\n", []string{"5: job \"a\": repair: want true or false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("jobs.yaml", []byte(tc.yaml))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want an ErrorList", err)
			}
			var ce interface{ ConfigError() bool }
			if !errors.As(err, &ce) || !ce.ConfigError() {
				t.Error("not a configuration error (exit 2)")
			}
			if len(list) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(list), len(tc.want), err)
			}
			for i, w := range tc.want {
				line, msg, _ := strings.Cut(w, ": ")
				got := list[i]
				if want := line; want != "0" && !strings.HasPrefix(got.Error(), "jobs.yaml:"+want+": ") || !strings.Contains(got.Msg, msg) {
					t.Errorf("error %d: %q, want line %s and %q", i, got.Error(), line, msg)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0d", "-1h", "d", "1y", "99999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// The parser never panics and every error it returns is a configuration
// error.
func FuzzParse(f *testing.F) {
	f.Add([]byte("jobs:\n  a: {kind: verify}\n"))
	f.Add([]byte("jobs:\n  a:\n    kind: ingest\n    schema: s.yaml\n    sources: '{{ .Date.Format \"2006\" }}'\n"))
	f.Add([]byte("jobs:\n  a:\n    kind: drift\n    table: t\n    reference: last 3 days\n    current: today\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("jobs.yaml", data)
		var ce interface{ ConfigError() bool }
		if err != nil && (!errors.As(err, &ce) || !ce.ConfigError()) {
			t.Fatalf("error %v is not a configuration error", err)
		}
	})
}
