// Package leasetest checks the lake's leases (lake.AcquireLease) and run
// markers on a storage backend. Like storetest it lives in a non-test file,
// so every backend's test runs it in one line:
//
//	func TestLeases(t *testing.T) { leasetest.Run(t, newStore) }
package leasetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// Run runs every lease subtest against stores made by newStore (each gets a
// fresh, empty store, closed by the suite).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"AcquireRelease", testAcquireRelease},
		{"TimeoutNamesHolder", testTimeoutNamesHolder},
		{"WaiterGetsReleasedLease", testWaiterGetsReleasedLease},
		{"TakeoverTwoContenders", testTakeoverTwoContenders},
		{"MutualExclusion", testMutualExclusion},
		{"RenewKeepsLease", testRenewKeepsLease},
		{"UnreadableLeaseObject", testUnreadableLeaseObject},
		{"RunMarkers", testRunMarkers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

const prefix = "_locks/t/dt=2026-01-01/"

func opts(run string) lake.LeaseOptions {
	return lake.LeaseOptions{TTL: 10 * time.Second, Timeout: -1, Holder: lake.Holder{RunID: run}}
}

// later returns a clock running d ahead of the real one.
func later(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

func mustAcquire(t *testing.T, s storage.Store, o lake.LeaseOptions) *lake.Lease {
	t.Helper()
	l, err := lake.AcquireLease(t.Context(), s, prefix, o)
	if err != nil {
		t.Fatalf("acquire as %s: %v", o.Holder.RunID, err)
	}
	return l
}

func leaseObjects(t *testing.T, s storage.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
		keys = append(keys, strings.TrimPrefix(o.Key, prefix))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func testAcquireRelease(t *testing.T, s storage.Store) {
	a := mustAcquire(t, s, opts("run-a"))
	if d := a.Doc(); d.Seq != 1 || d.Holder.RunID != "run-a" || d.Holder.PID == 0 || !a.Valid() {
		t.Fatalf("first lease: %+v valid=%v", d, a.Valid())
	}
	if _, err := lake.AcquireLease(t.Context(), s, prefix, opts("run-b")); !errors.Is(err, lake.ErrLeaseHeld) {
		t.Fatalf("second acquire while held = %v, want ErrLeaseHeld", err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a.Valid() {
		t.Fatal("released lease still valid")
	}
	b := mustAcquire(t, s, opts("run-b"))
	if d := b.Doc(); d.Seq != 3 { // 1 run-a, 2 run-a released, 3 run-b
		t.Fatalf("lease after release has seq %d, want 3", d.Seq)
	}
	if err := b.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Only the newest object is kept, so sequence numbers never go back.
	if got := leaseObjects(t, s); len(got) != 1 || got[0] != "00000000000000000004.json" {
		t.Fatalf("lease objects after release = %v, want only seq 4", got)
	}
}

func testTimeoutNamesHolder(t *testing.T, s storage.Store) {
	a := mustAcquire(t, s, opts("run-holder"))
	defer a.Release(context.WithoutCancel(t.Context()))
	o := opts("run-waiter")
	o.Timeout, o.Poll = 300*time.Millisecond, 50*time.Millisecond
	start := time.Now()
	_, err := lake.AcquireLease(t.Context(), s, prefix, o)
	var held *lake.LeaseHeldError
	if !errors.As(err, &held) {
		t.Fatalf("acquire = %v, want *LeaseHeldError", err)
	}
	if time.Since(start) < o.Timeout {
		t.Errorf("gave up after %s, before the %s timeout", time.Since(start), o.Timeout)
	}
	msg := err.Error()
	for _, want := range []string{"run-holder", "expires", "--lock-timeout", "retry later"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if held.Holder.RunID != "run-holder" || !held.ExpiresAt.Equal(a.Doc().ExpiresAt) {
		t.Errorf("error names holder %+v expiring %s, want run-holder expiring %s", held.Holder, held.ExpiresAt, a.Doc().ExpiresAt)
	}
}

func testWaiterGetsReleasedLease(t *testing.T, s storage.Store) {
	a := mustAcquire(t, s, opts("run-a"))
	o := opts("run-b")
	o.Timeout, o.Poll = 30*time.Second, 20*time.Millisecond
	got := make(chan error, 1)
	go func() {
		l, err := lake.AcquireLease(t.Context(), s, prefix, o)
		if err == nil {
			err = l.Release(t.Context())
		}
		got <- err
	}()
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

// Two waiters that both see the same expired lease at once: exactly one
// takes it over, because takeover is the conditional create of the next
// sequence number.
func testTakeoverTwoContenders(t *testing.T, s storage.Store) {
	dead := mustAcquire(t, s, opts("run-dead")) // never renewed nor released
	const n = 4
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts("run-contender")
			o.Now = later(time.Hour) // the dead lease expired long ago for them
			<-start
			if _, err := lake.AcquireLease(t.Context(), s, prefix, o); err == nil {
				wins.Add(1)
			} else {
				errs[i] = err
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d contenders took over the expired lease, want exactly 1 (errors: %v)", wins.Load(), errs)
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, lake.ErrLeaseHeld) {
			t.Errorf("loser: %v, want ErrLeaseHeld", err)
		}
	}
	// The dead holder cannot come back: its renewal finds the next object.
	if err := dead.Renew(t.Context()); !errors.Is(err, lake.ErrLeaseLost) {
		t.Errorf("renew of the taken-over lease = %v, want ErrLeaseLost", err)
	}
	if dead.Valid() {
		t.Error("taken-over lease still valid")
	}
}

// Contenders that wait for each other hold the lease one at a time.
func testMutualExclusion(t *testing.T, s storage.Store) {
	const n = 3
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts("run-x")
			o.Timeout, o.Poll = time.Minute, 10*time.Millisecond
			l, err := lake.AcquireLease(t.Context(), s, prefix, o)
			if err != nil {
				errs <- err
				return
			}
			if v := inside.Add(1); v > maxInside.Load() {
				maxInside.Store(v)
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-1)
			errs <- l.Release(t.Context())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", maxInside.Load())
	}
}

func testRenewKeepsLease(t *testing.T, s storage.Store) {
	o := opts("run-a")
	o.TTL = 1500 * time.Millisecond
	set, err := lake.AcquireLeases(t.Context(), s, []string{prefix}, o)
	if err != nil {
		t.Fatal(err)
	}
	// Hold it for longer than its TTL: the heartbeat renews it.
	time.Sleep(2 * time.Second)
	if err := set.Check(); err != nil {
		t.Fatalf("lease not kept by the heartbeat: %v", err)
	}
	o2 := opts("run-b")
	o2.TTL = o.TTL
	if _, err := lake.AcquireLease(t.Context(), s, prefix, o2); !errors.Is(err, lake.ErrLeaseHeld) {
		t.Fatalf("acquire of a renewed lease = %v, want ErrLeaseHeld", err)
	}
	// Old objects are removed after each renewal (a renewal in flight may
	// leave two for a moment).
	if got := leaseObjects(t, s); len(got) == 0 || len(got) > 2 || got[0] == "00000000000000000001.json" {
		t.Errorf("lease objects after renewals = %v, want one or two, newer than seq 1", got)
	}
	if err := set.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := set.Check(); err != nil {
		t.Errorf("Check of an empty set after Release: %v", err)
	}
}

// An empty lease object (an HDFS exclusive create whose content is not
// renamed in yet, or whose writer died) counts as held until TTL plus skew
// after it was created, then it is taken over.
func testUnreadableLeaseObject(t *testing.T, s storage.Store) {
	if err := s.Put(t.Context(), prefix+"00000000000000000001.json", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	_, err := lake.AcquireLease(t.Context(), s, prefix, opts("run-a"))
	var held *lake.LeaseHeldError
	if !errors.As(err, &held) || held.Holder.RunID != "" {
		t.Fatalf("acquire over an empty lease object = %v, want *LeaseHeldError with no holder", err)
	}
	if !strings.Contains(err.Error(), "not readable") {
		t.Errorf("error %q does not say the lease is unreadable", err)
	}
	o := opts("run-a")
	o.Now = later(time.Hour)
	l := mustAcquire(t, s, o)
	if l.Doc().Seq != 2 {
		t.Fatalf("takeover of the empty lease object has seq %d, want 2", l.Doc().Seq)
	}
}

func testRunMarkers(t *testing.T, s storage.Store) {
	o := lake.LeaseOptions{TTL: 10 * time.Second}
	m, err := lake.StartRunMarker(t.Context(), s, "t", "run-live", o)
	if err != nil {
		t.Fatal(err)
	}
	live, expired, err := lake.LiveRuns(t.Context(), s, "t", o)
	if err != nil {
		t.Fatal(err)
	}
	if !live["run-live"] || len(live) != 1 || len(expired) != 0 || !m.Valid() {
		t.Fatalf("live = %v, expired = %v, want run-live alone", live, expired)
	}
	o.Now = later(time.Hour)
	live, expired, err = lake.LiveRuns(t.Context(), s, "t", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 0 || len(expired) != 1 || expired[0] != lake.RunMarkerKey("t", "run-live") {
		t.Fatalf("an hour later: live = %v, expired = %v, want run-live expired", live, expired)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), lake.RunMarkerKey("t", "run-live")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("marker after Stop: %v, want ErrNotFound", err)
	}
}
