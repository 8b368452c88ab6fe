package local_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake/leasetest"
	"github.com/txlake/txlake/storage/local"
	"github.com/txlake/txlake/storage/storetest"
)

func newStore(t *testing.T) storage.Store {
	s, err := local.New(t.TempDir())
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

// Local-only behaviour: temporary files are cleaned up, empty directories are
// pruned, reserved names are refused, and a file cannot also be a directory.
func TestLocalFiles(t *testing.T) {
	ctx := t.Context()
	s, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "t/dt=1/x", iotest.ErrReader(errors.New("boom")), -1); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if err := s.Put(ctx, "t/dt=1/x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "t/dt=1/x", strings.NewReader("y"), 1); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("PutIfAbsent = %v, want ErrExists", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.Root(), ".txlake-tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}
	if err := s.Put(ctx, "t/dt=1/x/y", strings.NewReader("x"), 1); err == nil {
		t.Error("Put below an object's key succeeded on the local filesystem")
	}
	if err := s.Put(ctx, "t/.txlake-lock", strings.NewReader("x"), 1); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put of a reserved name = %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, "t"); err != nil { // a directory: not an object
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "t/dt=1/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "t")); !os.IsNotExist(err) {
		t.Errorf("empty directories not pruned after Delete: %v", err)
	}
	if _, err := os.Stat(s.Root()); err != nil {
		t.Errorf("root removed: %v", err)
	}
	if !strings.HasPrefix(s.URL("a b"), "file:///") {
		t.Errorf("URL = %q", s.URL("a b"))
	}
}
