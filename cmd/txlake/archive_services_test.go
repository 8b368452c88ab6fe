package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txlake/txlake/jobs/archive"
	"github.com/txlake/txlake/jobs/verify"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/backend"
	"github.com/txlake/txlake/storage/lake"
)

// archiveRemoteLake ingests two days of gen data into lakeURL and returns
// the row count.
func archiveRemoteLake(t *testing.T, lakeURL string) int64 {
	t.Helper()
	src := filepath.Join(t.TempDir(), "gen")
	cliGen(t, src)
	cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeURL, "--source", filepath.Join(src, "*.jsonl"), "--log-level", "error")
	return cliCSVInt(t, svcQuery(t, lakeURL, "SELECT count(*) FROM transactions"))
}

// TestArchiveStorageClassS3 moves a lake on versitygw to GLACIER_IR. The
// versitygw posix backend does not keep storage classes (every object
// reads back as STANDARD and a self-copy that only changes the class is
// refused), so there the command must fail with a clear configuration
// error and leave the manifests as they were; on a service that keeps
// classes the class must be recorded and the lake stay readable.
func TestArchiveStorageClassS3(t *testing.T) {
	endpoint := svcS3Endpoint(t)
	t.Setenv(backend.S3EndpointEnv, endpoint)
	lakeURL := "s3://" + svcS3Bucket(t, endpoint) + "/lake"
	rows := archiveRemoteLake(t, lakeURL)
	st := svcOpen(t, lakeURL)
	before := svcManifests(t, st, crashTable)

	r := cliRun(t, "archive", "--lake", lakeURL, "--table", crashTable, "--older-than", "30d", "--storage-class", "GLACIER_IR", "--json")
	after := svcManifests(t, st, crashTable)
	switch r.code {
	case exitUsage:
		t.Logf("the S3 service does not keep storage classes: %s", strings.TrimSpace(r.stderr))
		if !strings.Contains(r.stderr, "does not keep storage classes") {
			t.Errorf("the error does not say what is unsupported:\n%s", r.stderr)
		}
		if crashChanged(before, after) != 0 {
			t.Error("a refused storage class changed a manifest")
		}
	case exitOK:
		var res archive.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		t.Logf("the S3 service keeps storage classes: %d partitions moved to GLACIER_IR", res.Reclassed)
		for dt, b := range after {
			for _, f := range svcParseManifest(t, crashTable, dt, b).Files {
				if f.StorageClass != "GLACIER_IR" {
					t.Errorf("dt=%s %s: manifest records class %q", dt, f.Name, f.StorageClass)
				}
			}
		}
	default:
		t.Fatalf("archive --storage-class: exit %d\n%s", r.code, r.stderr)
	}
	// GLACIER_IR is read in place: query and verify keep working.
	if got := cliCSVInt(t, svcQuery(t, lakeURL, "SELECT count(*) FROM transactions")); got != rows {
		t.Errorf("after archive the table holds %d rows, want %d", got, rows)
	}
	cliMust(t, "verify", "--lake", lakeURL)
	// Nothing needs a restore: restore says the range is ready.
	rr := cliMust(t, "restore", "--lake", lakeURL, "--table", crashTable, "--from", "2025-01-01", "--to", "2026-12-31", "--json")
	var res archive.RestoreResult
	if err := json.Unmarshal([]byte(rr.stdout), &res); err != nil || !res.Ready {
		t.Errorf("restore: %v\n%s", err, rr.stdout)
	}
	for dt, b := range after {
		m := svcParseManifest(t, crashTable, dt, b)
		archiveFlipByte(t, st, lakeURL, m.Key(m.Files[0]))
		break
	}
}

// TestArchiveColdHDFS: on HDFS, --storage-class COLD moves old partitions
// under <lake>/_archive/ in one rename each (readers no longer see them),
// verify still checks them there, restore moves them back, and retention
// deletes archived partitions too.
func TestArchiveColdHDFS(t *testing.T) {
	lakeURL := svcHDFSRoot(t, svcHDFSNameNode(t))
	rows := archiveRemoteLake(t, lakeURL)
	hash := svcRowsHash(t, lakeURL)
	st := svcOpen(t, lakeURL)
	before := svcManifests(t, st, crashTable)

	r := cliMust(t, "archive", "--lake", lakeURL, "--table", crashTable, "--older-than", "30d", "--storage-class", "COLD", "--json")
	var res archive.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Reclassed != len(before) {
		t.Errorf("moved %d partitions, want %d", res.Reclassed, len(before))
	}
	if left := svcManifests(t, st, crashTable); len(left) != 0 {
		t.Errorf("partitions still in the table after COLD: %d", len(left))
	}
	keys := svcKeys(t, st, lake.ArchiveRoot)
	for dt := range before {
		if _, ok := keys[lake.ArchiveRoot+lake.ManifestKey(crashTable, dt)]; !ok {
			t.Errorf("dt=%s: no manifest under the archive root; keys: %v", dt, keys)
		}
	}
	vr, _ := archiveVerify(t, exitOK, "--lake", lakeURL)
	if len(vr.Partitions) != len(before) || vr.Partitions[0].Location == "" {
		t.Errorf("verify of archived partitions: %+v", vr.Partitions)
	}
	// A byte flipped in an archived file: verify names it; restoring the
	// original bytes makes it pass again.
	var flipped string
	var original []byte
	for dt, b := range before {
		m := svcParseManifest(t, crashTable, dt, b)
		flipped = lake.ArchiveRoot + m.Key(m.Files[0])
		obj, err := st.Open(t.Context(), flipped)
		if err != nil {
			t.Fatal(err)
		}
		original, err = io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	archiveFlipByte(t, st, lakeURL, flipped)
	if err := st.Put(t.Context(), flipped, bytes.NewReader(original), int64(len(original))); err != nil {
		t.Fatal(err)
	}
	archiveVerify(t, exitOK, "--lake", lakeURL)
	if r := cliRun(t, "archive", "--lake", lakeURL, "--table", crashTable, "--older-than", "30d", "--storage-class", "GLACIER"); r.code != exitUsage || !strings.Contains(r.stderr, "COLD") {
		t.Errorf("an S3 class on HDFS: exit %d, want 2 naming COLD\n%s", r.code, r.stderr)
	}

	cliMust(t, "restore", "--lake", lakeURL, "--table", crashTable, "--from", "2025-01-01", "--to", "2026-12-31")
	if got := svcRowsHash(t, lakeURL); got != hash {
		t.Errorf("after restore the rows differ: %s, want %s", got, hash)
	}
	if got := cliCSVInt(t, svcQuery(t, lakeURL, "SELECT count(*) FROM transactions")); got != rows {
		t.Errorf("after restore %d rows, want %d", got, rows)
	}
	if keys := svcKeys(t, st, lake.ArchiveRoot); len(keys) != 0 {
		t.Errorf("keys left under the archive root after restore: %v", keys)
	}

	// Retention reaches archived partitions too.
	cliMust(t, "archive", "--lake", lakeURL, "--table", crashTable, "--older-than", "30d", "--storage-class", "COLD")
	cliMust(t, "archive", "--lake", lakeURL, "--table", crashTable, "--older-than", "30d", "--delete-after", "60d", "--yes")
	if keys := svcKeys(t, st, lake.ArchiveRoot); len(keys) != 0 {
		t.Errorf("archived partitions past retention were not deleted: %v", keys)
	}
}

// archiveFlipByte flips one byte in the middle of key on st (same size) and
// checks that verify exits 1 with a sha256 problem naming the file.
func archiveFlipByte(t *testing.T, st storage.Store, lakeURL, key string) {
	t.Helper()
	obj, err := st.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	res, r := archiveVerify(t, exitFailure, "--lake", lakeURL)
	name := path.Base(key)
	for _, p := range res.Partitions {
		for _, pr := range p.Problems {
			if pr.Kind == verify.KindSHA256 && pr.File == name {
				return
			}
		}
	}
	t.Errorf("verify does not name %s with a sha256 problem:\n%s", name, r.stdout)
}
