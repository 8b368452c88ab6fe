package main

// Helpers for the tests that run the CLI against the S3 (versitygw) and HDFS
// (MiniDFSCluster) test services: finding the services, creating a fresh
// bucket or HDFS root per test, uploading, listing and checking a remote lake.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/txlake/txlake/storage/s3/s3test"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/backend"
	"github.com/txlake/txlake/storage/lake"
)

// svcRequire returns the value of env, or skips the test when it is unset,
// or fails it under TXLAKE_REQUIRE_SERVICES=1.
func svcRequire(t *testing.T, env, start string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		msg := fmt.Sprintf("test service not running: %s is not set (bash testdata/services/%s/start.sh && source .cache/services/%s.env)", env, start, start)
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

// svcS3Endpoint returns the versitygw endpoint, with the skip/fatal rule.
func svcS3Endpoint(t *testing.T) string {
	t.Helper()
	return svcRequire(t, "TXLAKE_TEST_S3_ENDPOINT", "s3")
}

// svcHDFSNameNode returns the NameNode address, with the skip/fatal rule.
func svcHDFSNameNode(t *testing.T) string {
	t.Helper()
	return svcRequire(t, "TXLAKE_TEST_HDFS_NAMENODE", "hdfs")
}

var svcSeq atomic.Int64

func svcUnique(kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("txlake-%s-%d-%d-%s", kind, os.Getpid(), svcSeq.Add(1), hex.EncodeToString(b[:]))
}

// svcS3Bucket creates a fresh bucket through endpoint and removes it with its
// objects when the test ends.
func svcS3Bucket(t *testing.T, endpoint string) string {
	t.Helper()
	bucket, _ := s3test.Bucket(t, endpoint, "cli")
	return bucket
}

// svcHDFSRoot returns a fresh hdfs:// root URL, removed when the test ends.
func svcHDFSRoot(t *testing.T, nn string) string {
	t.Helper()
	dir := "/txlake-test/" + svcUnique("cli")
	t.Cleanup(func() {
		user := os.Getenv("HADOOP_USER_NAME")
		if user == "" {
			user = "txlake"
		}
		c, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: []string{nn}, User: user})
		if err != nil {
			t.Logf("cleanup: hdfs client: %v", err)
			return
		}
		if err := c.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("cleanup: remove %s: %v", dir, err)
		}
		if err := c.Close(); err != nil {
			t.Logf("cleanup: close hdfs client: %v", err)
		}
	})
	return "hdfs://" + nn + dir
}

// svcOpen opens a store by URL (as the CLI would) and closes it at the end.
func svcOpen(t *testing.T, url string) storage.Store {
	t.Helper()
	st, err := backend.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close %s: %v", url, err)
		}
	})
	return st
}

// svcUpload puts every regular file of dir into st under prefix (ending in
// "/") and returns their total size.
func svcUpload(t *testing.T, st storage.Store, dir, prefix string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(t.Context(), prefix+e.Name(), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("upload %s: %v", e.Name(), err)
		}
		total += int64(len(data))
	}
	return total
}

// svcKeys lists the objects of st under prefix: key → size.
func svcKeys(t *testing.T, st storage.Store, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	if err := st.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
		out[o.Key] = o.Size
		return nil
	}); err != nil {
		t.Fatalf("list %s: %v", st.URL(prefix), err)
	}
	return out
}

// svcManifests reads every partition manifest of table in a lake store:
// dt → raw bytes.
func svcManifests(t *testing.T, st storage.Store, table string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	prefix := table + "/dt="
	for key := range svcKeys(t, st, prefix) {
		dt, name, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		if !ok || name != lake.ManifestName {
			continue
		}
		obj, err := st.Open(t.Context(), key)
		if err != nil {
			t.Fatalf("open %s: %v", st.URL(key), err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("read %s: %v", st.URL(key), err)
		}
		out[dt] = b
	}
	return out
}

// svcParseManifest decodes and validates one manifest.
func svcParseManifest(t *testing.T, table, dt string, b []byte) *lake.Manifest {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m lake.Manifest
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("dt=%s: manifest does not parse: %v\n%s", dt, err, b)
	}
	if err := m.Validate(table, dt); err != nil {
		t.Fatalf("dt=%s: %v", dt, err)
	}
	return &m
}

// svcCheckLake checks a remote lake: every manifest-listed object exists with
// its listed size, the listed rows and bytes add up, and (with noGarbage) no
// .parquet object under dt=*/ is unlisted. It returns the manifests.
func svcCheckLake(t *testing.T, st storage.Store, table string, noGarbage bool) map[string]*lake.Manifest {
	t.Helper()
	raw := svcManifests(t, st, table)
	objects := svcKeys(t, st, table+"/dt=")
	listed := map[string]bool{}
	out := map[string]*lake.Manifest{}
	for dt, b := range raw {
		m := svcParseManifest(t, table, dt, b)
		out[dt] = m
		var rows, size int64
		for _, f := range m.Files {
			key := m.Key(f)
			listed[key] = true
			rows += f.Rows
			size += f.Bytes
			got, ok := objects[key]
			switch {
			case !ok:
				t.Errorf("dt=%s lists %s, which does not exist", dt, st.URL(key))
			case got != f.Bytes:
				t.Errorf("dt=%s lists %s with %d bytes; the object has %d", dt, st.URL(key), f.Bytes, got)
			}
		}
		if rows != m.Rows || size != m.Bytes {
			t.Errorf("dt=%s: files hold %d rows in %d bytes, the manifest says %d rows in %d bytes", dt, rows, size, m.Rows, m.Bytes)
		}
	}
	if noGarbage {
		for key := range objects {
			if strings.HasSuffix(key, ".parquet") && !listed[key] {
				t.Errorf("unlisted data object left behind: %s", st.URL(key))
			}
		}
	}
	return out
}

// svcRowsHash is cliRowsHash for any lake URL (remote lakes are read
// through a fresh read cache): the SHA-256 of every row of transactions,
// sorted by key, without the partition and tags columns.
func svcRowsHash(t *testing.T, lakeURL string) string {
	t.Helper()
	out := svcQuery(t, lakeURL, "SELECT * EXCLUDE (dt, tags) FROM transactions ORDER BY transaction_id")
	if strings.Count(out, "\n") < 2 {
		t.Fatalf("the lake %s holds no rows:\n%s", lakeURL, out)
	}
	sum := sha256.Sum256([]byte(out))
	return hex.EncodeToString(sum[:])
}

// svcQuery is cliQuery for any lake URL, with a fresh read cache.
func svcQuery(t *testing.T, lakeURL, sql string) string {
	t.Helper()
	return cliMust(t, "query", "--lake", lakeURL, "--cache-dir", t.TempDir(), "--format", "csv", sql).stdout
}

// svcMBps formats a throughput.
func svcMBps(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB/s", float64(bytes)/1e6/d.Seconds())
}
