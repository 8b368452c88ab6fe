package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/storage/backend"
)

// remoteBackend is one remote store the end-to-end test runs on.
type remoteBackend struct {
	name string
	// root returns a fresh, empty root URL on the service (a bucket, an
	// HDFS directory), or skips/fails the test without the service.
	root func(t *testing.T) string
	// checksum is the prefix of a remote source's checksum.
	checksum string
}

var remoteBackends = []remoteBackend{
	{name: "S3", checksum: "etag:", root: func(t *testing.T) string {
		endpoint := svcS3Endpoint(t)
		t.Setenv(backend.S3EndpointEnv, endpoint)
		return "s3://" + svcS3Bucket(t, endpoint)
	}},
	{name: "HDFS", checksum: "sha256:", root: func(t *testing.T) string {
		return svcHDFSRoot(t, svcHDFSNameNode(t))
	}},
}

// remoteIngest runs `ingest --json` and decodes the summary, timing it.
func remoteIngest(t *testing.T, lakeURL, source string, extra ...string) (*ingest.Result, time.Duration) {
	t.Helper()
	began := time.Now()
	res, _ := cliIngestJSON(t, lakeURL, append([]string{"--source", source}, extra...)...)
	took := time.Since(began)
	if !res.Reconciled {
		t.Errorf("ingest %s into %s is not reconciled: read %d, written %d, quarantined %d, duplicate %d",
			source, lakeURL, res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate)
	}
	return res, took
}

// TestRemoteEndToEnd runs gen → upload → ingest → re-ingest → query on a
// remote lake with remote sources, on S3 (versitygw) and on HDFS
// (MiniDFSCluster), and compares the rows with a local lake's.
func TestRemoteEndToEnd(t *testing.T) {
	root := t.TempDir()
	genDir := filepath.Join(root, "gen")
	cliMust(t, "gen", "--out", genDir, "--days", "3", "--rows-per-day", "2000", "--seed", "5", "--compress", "gzip")
	localGlob := filepath.Join(genDir, "*.jsonl.gz")

	// The reference: the same files into a local lake.
	localLake := filepath.Join(root, "lake")
	localRes, localTook := remoteIngest(t, localLake, localGlob)
	if localRes.RowsWritten == 0 {
		t.Fatal("the local ingest wrote no rows")
	}
	want := svcRowsHash(t, localLake)
	stored := remoteStoredBytes(localRes)
	t.Logf("local lake:  %d sources, %d bytes stored, %d decoded, %d rows written in %v (%s stored, %s decoded)",
		len(localRes.Sources), stored, localRes.BytesRead, localRes.RowsWritten, localTook.Round(time.Millisecond),
		svcMBps(stored, localTook), svcMBps(localRes.BytesRead, localTook))

	for _, b := range remoteBackends {
		t.Run(b.name, func(t *testing.T) {
			rootURL := b.root(t)
			lakeURL := rootURL + "/lake"
			st := svcOpen(t, rootURL)
			svcUpload(t, st, genDir, "landing/2026/")
			source := rootURL + "/landing/2026/*.jsonl.gz"

			// A dry run on a fresh remote lake writes nothing at all.
			dry := cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeURL, "--source", source, "--dry-run", "--json")
			if res := cliDecodeResult(t, dry.stdout); res.Outcome != "dry_run" || !res.Reconciled {
				t.Errorf("dry run: outcome %q, reconciled %v; want dry_run, reconciled", res.Outcome, res.Reconciled)
			}
			if keys := svcKeys(t, st, "lake/"); len(keys) != 0 {
				t.Errorf("a dry run left %d objects under %s: %v", len(keys), lakeURL, keys)
			}

			// Remote sources into the remote lake.
			res, took := remoteIngest(t, lakeURL, source)
			if res.Outcome != "committed" {
				t.Errorf("remote ingest: outcome %q, want committed", res.Outcome)
			}
			if res.RowsWritten == 0 || res.RowsWritten != localRes.RowsWritten || res.RowsRead != localRes.RowsRead {
				t.Errorf("remote ingest: read %d, wrote %d rows; the local ingest read %d, wrote %d",
					res.RowsRead, res.RowsWritten, localRes.RowsRead, localRes.RowsWritten)
			}
			if len(res.Sources) != len(localRes.Sources) {
				t.Errorf("remote ingest read %d sources, want %d", len(res.Sources), len(localRes.Sources))
			}
			for _, s := range res.Sources {
				if !strings.HasPrefix(s.Checksum, b.checksum) || len(s.Checksum) <= len(b.checksum) {
					t.Errorf("source %s has checksum %q, want %s...", s.URL, s.Checksum, b.checksum)
				}
				if !strings.HasPrefix(s.URL, rootURL+"/landing/2026/") {
					t.Errorf("source URL %s is not under %s/landing/2026/", s.URL, rootURL)
				}
			}
			if got := svcRowsHash(t, lakeURL); got != want {
				t.Errorf("remote sources into the remote lake hold rows %s; the local lake holds %s", got, want)
			}
			stored := remoteStoredBytes(res)
			t.Logf("%s lake, %s sources: %d bytes stored, %d decoded in %v (%s stored, %s decoded; local lake: %v, %s decoded)",
				b.name, b.name, stored, res.BytesRead, took.Round(time.Millisecond), svcMBps(stored, took), svcMBps(res.BytesRead, took),
				localTook.Round(time.Millisecond), svcMBps(localRes.BytesRead, localTook))

			// Re-running the same ingest replaces its contribution.
			again, _ := remoteIngest(t, lakeURL, source)
			if !again.Contribution.Replaced {
				t.Error("the re-run did not replace its earlier contribution")
			}
			if again.Contribution.ID != res.Contribution.ID {
				t.Errorf("the re-run has contribution %s, the first run %s", again.Contribution.ID, res.Contribution.ID)
			}
			if got := svcRowsHash(t, lakeURL); got != want {
				t.Errorf("after the re-run the remote lake holds rows %s, want %s", got, want)
			}
			lakeSt := svcOpen(t, lakeURL)
			svcCheckLake(t, lakeSt, crashTable, true)

			out := svcQuery(t, lakeURL, "SELECT count(*) - count(DISTINCT transaction_id) AS d FROM transactions")
			if d := cliCSVInt(t, out); d != 0 {
				t.Errorf("%d duplicate transaction_id rows in the remote lake", d)
			}
			out = svcQuery(t, lakeURL, "SELECT count(*) AS n FROM transactions")
			if n := cliCSVInt(t, out); n != localRes.RowsWritten {
				t.Errorf("the remote lake holds %d rows, want %d", n, localRes.RowsWritten)
			}

			// Local sources into another remote lake: the same rows as the
			// local lake.
			lake2 := rootURL + "/lake-local-sources"
			res2, took2 := remoteIngest(t, lake2, localGlob)
			if got := svcRowsHash(t, lake2); got != want {
				t.Errorf("local sources into the %s lake hold rows %s; the local lake holds %s", b.name, got, want)
			}
			svcCheckLake(t, svcOpen(t, lake2), crashTable, true)
			t.Logf("%s lake, local sources: %d decoded bytes in %v (%s decoded; local lake: %s)",
				b.name, res2.BytesRead, took2.Round(time.Millisecond), svcMBps(res2.BytesRead, took2), svcMBps(localRes.BytesRead, localTook))

			// A remote glob that matches nothing is a usage error.
			missing := cliRun(t, "ingest", "--schema", cliSchema, "--lake", lakeURL, "--json",
				"--source", rootURL+"/landing/2027/*.jsonl.gz")
			if missing.code != exitUsage {
				t.Errorf("a remote glob matching nothing: exit %d, want %d\nstderr:\n%s", missing.code, exitUsage, missing.stderr)
			}
		})
	}
}

// remoteStoredBytes is the total stored size of a run's sources.
func remoteStoredBytes(r *ingest.Result) int64 {
	var n int64
	for _, s := range r.Sources {
		n += s.Bytes
	}
	return n
}
