package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/backfill"
)

// Jobs on remote lakes with remote sources: a backfill commits, plan sees
// the committed contributions through the stores' checksums (ETag on S3,
// SHA-256 on HDFS), a changed object makes its date inputs_changed, and the
// resumed backfill redoes that date only; the rows equal a local backfill.
func TestRemoteJobsBackfillAndPlan(t *testing.T) {
	root := t.TempDir()
	genDir := filepath.Join(root, "gen")
	cliMust(t, "gen", "--out", genDir, "--days", "2", "--rows-per-day", "600", "--seed", "8", "--compress", "gzip")
	localLake := filepath.Join(root, "lake")
	localJobs := jobsFixture(t, t.TempDir(), localLake, dayTemplate(genDir, ".jsonl.gz"))
	cliMust(t, "backfill", "pay", "--jobs", localJobs, "--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "2")
	want := svcRowsHash(t, localLake)
	other := filepath.Join(root, "other") // other bytes under the same names
	cliMust(t, "gen", "--out", other, "--days", "2", "--rows-per-day", "500", "--seed", "9", "--compress", "gzip")

	for _, b := range remoteBackends {
		t.Run(b.name, func(t *testing.T) {
			rootURL := b.root(t)
			st := svcOpen(t, rootURL)
			svcUpload(t, st, genDir, "landing/")
			lakeURL := rootURL + "/lake"
			jobs := jobsFixture(t, t.TempDir(), lakeURL, rootURL+`/landing/transactions-{{ .Date.Format "2006-01-02" }}.jsonl.gz`)
			backfillJSON := func() backfillSummary {
				t.Helper()
				r := cliMust(t, "backfill", "pay", "--jobs", jobs, "--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "2", "--json")
				var s backfillSummary
				if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			if s := backfillJSON(); s.Counts["committed"] != 2 {
				t.Fatalf("first backfill: %v", s.Counts)
			}
			if got := svcRowsHash(t, lakeURL); got != want {
				t.Errorf("%s lake holds %s, the local backfill %s", b.name, got, want)
			}
			p := jobsPlan(t, jobs, "--from", "2026-01-01", "--to", "2026-01-02")
			if p.Counts["committed"] != 2 {
				t.Fatalf("plan after the backfill: %+v", p.Tasks)
			}
			svcUpload(t, st, other, "landing/")
			// Both days changed now; the plan says so, the resumed backfill
			// redoes them, and then nothing is left.
			p = jobsPlan(t, jobs, "--from", "2026-01-01", "--to", "2026-01-02")
			var statuses []string
			for _, task := range p.Tasks {
				statuses = append(statuses, task.Status)
			}
			if !slices.Equal(statuses, []string{string(backfill.StatusInputsChanged), string(backfill.StatusInputsChanged)}) {
				t.Fatalf("plan after changing the objects: %v", statuses)
			}
			if s := backfillJSON(); s.Counts["committed"] != 2 {
				t.Fatalf("backfill after the change: %v", s.Counts)
			}
			if s := backfillJSON(); s.Counts["skipped"] != 2 {
				t.Fatalf("backfill of an up-to-date range: %v", s.Counts)
			}
			r := cliMust(t, "runs", "--lake", lakeURL, "--job", "pay")
			if n := strings.Count(r.stdout, " committed "); n != 4 {
				t.Errorf("runs lists %d committed runs, want 4:\n%s", n, r.stdout)
			}
		})
	}
}
