package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/gen"
)

func runGenCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(t.Context(), append([]string{"gen"}, args...), &streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestGenFlagsToOptions(t *testing.T) {
	g := &globalOptions{streams: &streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}}
	var got *genOptions
	cmd := genCommand(g, func(_ context.Context, o *genOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--out", "d", "--days", "3", "--rows-per-day", "5", "--start", "2026-02-01",
		"--seed", "9", "--format", "csv", "--compress", "zstd", "--fault-rate", "0", "--fraud-rate", "0.05", "--json",
		"--drift", "from=2026-02-02,amount_scale=2"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := got.opts
	if p.OutDir != "d" || p.Days != 3 || p.RowsPerDay != 5 || p.Start.Format("2006-01-02") != "2026-02-01" ||
		p.Seed != 9 || p.Format != "csv" || p.Compression != "zstd" || p.FaultRate != 0 || p.FraudRate != 0.05 ||
		p.Drift == nil || p.Drift.AmountScale != 2 || !got.json {
		t.Errorf("options = %+v (json %v)", p, got.json)
	}
}

func TestGenDefaults(t *testing.T) {
	o := &genOptions{g: &globalOptions{streams: &streams{}}}
	cmd := newGenCmd(o.g)
	for name, want := range map[string]string{
		"days": "7", "rows-per-day": "10000", "start": "2026-01-01", "seed": "1",
		"format": "jsonl", "compress": "none", "fault-rate": "0.01", "fraud-rate": "0", "json": "false",
	} {
		if got := cmd.Flags().Lookup(name).DefValue; got != want {
			t.Errorf("--%s default = %s, want %s", name, got, want)
		}
	}
}

func TestGenUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no out", nil, "--out"},
		{"bad start", []string{"--out", dir, "--start", "2026-1-1"}, "--start"},
		{"bad format", []string{"--out", dir, "--format", "xml"}, "format"},
		{"bad compress", []string{"--out", dir, "--compress", "lz4"}, "compression"},
		{"bad days", []string{"--out", dir, "--days", "0"}, "days"},
		{"bad fault rate", []string{"--out", dir, "--fault-rate", "2"}, "fault rate"},
		{"bad fraud rate", []string{"--out", dir, "--fraud-rate", "1.5"}, "fraud rate"},
		{"negative fraud rate", []string{"--out", dir, "--fraud-rate", "-0.1"}, "fraud rate"},
		{"bad drift", []string{"--out", dir, "--drift", "from=2026-01-02,colour=red"}, "colour"},
		{"out is a file", []string{"--out", file, "--days", "1", "--rows-per-day", "1"}, "not a directory"},
		{"extra arg", []string{"--out", dir, "x"}, ""},
		{"bad flag value", []string{"--out", dir, "--days", "x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runGenCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.want)
			}
		})
	}
}

func TestGenJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runGenCLI(t, "--out", dir, "--days", "2", "--rows-per-day", "500", "--compress", "gzip", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s gen.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if len(s.Files) != 2 || s.Rows != 1000 || filepath.Base(s.Files[0].Path) != "transactions-2026-01-01.jsonl.gz" {
		t.Errorf("summary = %+v", s)
	}
	if _, ok := s.Faults["malformed"]; !ok {
		t.Errorf("faults lack malformed: %v", s.Faults)
	}
}

func TestGenHuman(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runGenCLI(t, "--out", dir, "--days", "1", "--rows-per-day", "1500", "--fault-rate", "0.1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"files   1 in " + dir + " (transactions-2026-01-01.jsonl)", "rows    1,500\n", "bytes ", "faults  1", "malformed "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestGenThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := genThousands(n); got != want {
			t.Errorf("genThousands(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestGenFraudRate(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runGenCLI(t, "--out", dir, "--days", "2", "--rows-per-day", "2000", "--fraud-rate", "0.1", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s gen.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if len(s.LabelFiles) != 2 || filepath.Base(s.LabelFiles[1].Path) != "labels-2026-01-02.jsonl" {
		t.Fatalf("label files = %+v", s.LabelFiles)
	}
	var total int64
	for _, l := range gen.FraudLabels() {
		total += s.Fraud[l]
	}
	if total < 200 || total > 600 || s.Fraud["novelty"] == 0 || s.Fraud["outlier"] == 0 || s.Fraud["velocity"] == 0 {
		t.Errorf("fraud = %v", s.Fraud)
	}
	b, err := os.ReadFile(s.LabelFiles[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"transaction_id":"tx_`) {
		t.Errorf("labels file starts %.80q", b)
	}

	// Off by default: no labels files, no fraud in the summary.
	dir2 := t.TempDir()
	code, stdout, stderr = runGenCLI(t, "--out", dir2, "--days", "1", "--rows-per-day", "100", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "fraud") || strings.Contains(stdout, "label_files") {
		t.Errorf("fraud in the summary without --fraud-rate: %s", stdout)
	}
	if m, _ := filepath.Glob(filepath.Join(dir2, "labels-*")); len(m) != 0 {
		t.Errorf("labels files without --fraud-rate: %v", m)
	}

	// The human summary has a fraud line.
	code, stdout, stderr = runGenCLI(t, "--out", t.TempDir(), "--days", "1", "--rows-per-day", "2000", "--fraud-rate", "0.1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "fraud ") || !strings.Contains(stdout, "novelty ") || !strings.Contains(stdout, "in 1 labels files") {
		t.Errorf("stdout lacks the fraud line:\n%s", stdout)
	}
}
