package mem_test

import (
	"testing"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake/leasetest"
	"github.com/txlake/txlake/storage/mem"
	"github.com/txlake/txlake/storage/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mem.New() })
	storetest.RunPrefixed(t, func(t *testing.T) storage.Store { return mem.New() })
}

func TestLeases(t *testing.T) {
	leasetest.Run(t, func(t *testing.T) storage.Store { return mem.New() })
}
