package hdfs_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/hdfs"
	"github.com/txlake/txlake/storage/lake/leasetest"
	"github.com/txlake/txlake/storage/storetest"
)

// namenode returns the test NameNode (testdata/services/hdfs/start.sh), or
// skips the test (fails it under TXLAKE_REQUIRE_SERVICES=1) when unset.
func namenode(t *testing.T) string {
	t.Helper()
	nn := os.Getenv("TXLAKE_TEST_HDFS_NAMENODE")
	if nn == "" {
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal("TXLAKE_TEST_HDFS_NAMENODE is not set; start testdata/services/hdfs/start.sh")
		}
		t.Skip("TXLAKE_TEST_HDFS_NAMENODE is not set; start testdata/services/hdfs/start.sh")
	}
	return nn
}

// uniqueRoot returns a fresh HDFS directory for one test.
func uniqueRoot() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "/txlake-test/" + hex.EncodeToString(b[:])
}

func newStore(t *testing.T) storage.Store {
	t.Helper()
	s, err := hdfs.New(hdfs.Options{Addresses: []string{namenode(t)}, Root: uniqueRoot(), User: "txlake"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
	storetest.RunPrefixed(t, newStore)
}

func TestLeases(t *testing.T) {
	leasetest.Run(t, newStore)
}

// A store found through HADOOP_CONF_DIR alone (hdfs:///path, fs.defaultFS) and
// through the nameservice the test configuration defines (hdfs://txlake/path)
// reaches the same cluster as the plain address.
func TestHadoopConfDir(t *testing.T) {
	namenode(t)
	dir := os.Getenv("TXLAKE_TEST_HADOOP_CONF_DIR")
	if dir == "" {
		t.Fatal("TXLAKE_TEST_HADOOP_CONF_DIR is not set (start.sh writes it beside the NameNode address)")
	}
	t.Setenv("HADOOP_CONF_DIR", dir)
	root := uniqueRoot()
	for _, o := range []hdfs.Options{
		{Root: root},                          // fs.defaultFS
		{Root: root, Nameservice: "txlake"},   // dfs.ha.namenodes.txlake
		{Root: root, ConfDir: dir, User: "x"}, // explicit directory
	} {
		s, err := hdfs.New(o)
		if err != nil {
			t.Fatalf("New(%+v): %v", o, err)
		}
		key := "conf/" + o.Nameservice + "x"
		if err := s.Put(t.Context(), key, strings.NewReader("hello"), 5); err != nil {
			t.Fatal(err)
		}
		if info, err := s.Stat(t.Context(), key); err != nil || info.Size != 5 {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		if !strings.HasPrefix(s.URL(key), "hdfs://") || !strings.HasSuffix(s.URL(key), root+"/"+key) {
			t.Errorf("URL = %q", s.URL(key))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A NameNode that refuses connections is storage.ErrUnavailable (exit code
// 75), not a configuration error.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	_, err = hdfs.New(hdfs.Options{Addresses: []string{addr}, Root: "/x", User: "txlake"})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("New with a closed port = %v, want ErrUnavailable", err)
	}
	var ce *hdfs.ConfigError
	if errors.As(err, &ce) {
		t.Fatalf("New with a closed port = %v, a ConfigError", err)
	}
}

// Temporary files are cleaned up, reserved and ":" names are refused, and an
// open object keeps reading the version it opened.
func TestHDFSFiles(t *testing.T) {
	ctx := t.Context()
	s, err := hdfs.New(hdfs.Options{Addresses: []string{namenode(t)}, Root: uniqueRoot(), User: "txlake"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "t/dt=1/x", strings.NewReader("old!"), 4); err != nil {
		t.Fatal(err)
	}
	o, err := s.Open(ctx, "t/dt=1/x")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := s.Put(ctx, "t/dt=1/x", strings.NewReader("new version"), 11); err != nil {
		t.Fatal(err)
	}
	// The overwrite deleted the version o opened: a read returns its bytes or
	// fails with ErrNotFound, never the new bytes.
	buf := make([]byte, 16)
	n, err := o.ReadAt(buf, 0)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case (err == nil || err == io.EOF) && o.Size() == 4 && string(buf[:n]) == "old!":
	default:
		t.Fatalf("open object after overwrite: size %d, ReadAt = %q, %v", o.Size(), buf[:n], err)
	}
	if err := s.PutIfAbsent(ctx, "t/dt=1/x", strings.NewReader("y"), 1); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("PutIfAbsent = %v, want ErrExists", err)
	}
	for _, k := range []string{"t/.txlake-tmp", "t/a:b"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := s.Delete(ctx, "t/dt=1/x"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := s.List(ctx, "", func(i storage.ObjectInfo) error { keys = append(keys, i.Key); return nil }); err != nil || len(keys) != 0 {
		t.Fatalf("List after Delete = %q, %v", keys, err)
	}
	// Nothing left behind in the temporary directory.
	tmp, err := hdfs.New(hdfs.Options{Addresses: []string{namenode(t)}, Root: s.Root() + "/.txlake-tmp", User: "txlake"})
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	var left []string
	_ = tmp.List(ctx, "", func(i storage.ObjectInfo) error { left = append(left, i.Key); return nil })
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}
