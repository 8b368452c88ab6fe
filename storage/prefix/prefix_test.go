package prefix_test

import (
	"errors"
	"testing"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/local"
	"github.com/txlake/txlake/storage/mem"
	"github.com/txlake/txlake/storage/prefix"
	"github.com/txlake/txlake/storage/storetest"
)

func TestConformanceOverMem(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return prefix.New(mem.New(), "p/q") })
}

func TestConformanceOverLocal(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return prefix.New(s, "lake/v1")
	})
}

// The wrapper implements an optional interface exactly when the inner store does.
func TestOptionalInterfaces(t *testing.T) {
	l, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var onlyStore struct{ storage.Store } // hides mem's PutIfAbsent
	onlyStore.Store = mem.New()
	for _, tt := range []struct {
		inner         storage.Store
		cond, isLocal bool
	}{{mem.New(), true, false}, {l, true, true}, {onlyStore, false, false}} {
		s := prefix.New(tt.inner, "p")
		_, cond := s.(storage.ConditionalPutter)
		lp, isLocal := s.(storage.LocalPather)
		if cond != tt.cond || isLocal != tt.isLocal {
			t.Errorf("prefix.New(%T): ConditionalPutter %v, LocalPather %v; want %v, %v", tt.inner, cond, isLocal, tt.cond, tt.isLocal)
		}
		if isLocal && lp.LocalPath("k") != l.LocalPath("p/k") {
			t.Errorf("LocalPath(k) = %q, want %q", lp.LocalPath("k"), l.LocalPath("p/k"))
		}
	}
	if err := prefix.New(mem.New(), "a/../b").Put(t.Context(), "k", nil, 0); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put under an invalid prefix = %v, want ErrInvalidKey", err)
	}
}
