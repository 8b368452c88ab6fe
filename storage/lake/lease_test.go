package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/mem"
)

// Garbage collection keeps the unlisted files of a run whose marker is
// live, and collects them once the run is gone.
func TestCollectGarbageKeepsLiveRuns(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	dir := PartitionDir(table, dt)
	live, dead := "20260105T120000Z-aaaaaa", "20260105T110000Z-bbbbbb"
	for _, name := range []string{DataFileName(live, 0), DataFileName(dead, 0)} {
		putFile(t, st, dir+name, "x")
	}
	o := LeaseOptions{TTL: time.Minute}
	marker, err := StartRunMarker(t.Context(), st, table, live, o)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Table: table, Date: dt}
	deleted, err := CollectGarbageWith(t.Context(), st, m, "", o)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{dir + DataFileName(dead, 0)}; !slices.Equal(deleted, want) {
		t.Fatalf("deleted %v, want only the dead run's file %v", deleted, want)
	}
	if err := marker.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if deleted, err = CollectGarbageWith(t.Context(), st, m, "", o); err != nil || len(deleted) != 1 {
		t.Fatalf("after the run stopped: deleted %v, %v; want its file", deleted, err)
	}
}

// A run killed without removing its marker: once the marker expired the
// next collection removes the marker and the files.
func TestCollectGarbageExpiredMarker(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	run := "20260105T120000Z-cccccc"
	putFile(t, st, PartitionDir(table, dt)+DataFileName(run, 0), "x")
	if _, err := StartRunMarker(t.Context(), st, table, run, LeaseOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	o := LeaseOptions{TTL: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }}
	deleted, err := CollectGarbageWith(t.Context(), st, &Manifest{Table: table, Date: dt}, "", o)
	if err != nil || len(deleted) != 1 {
		t.Fatalf("deleted %v, %v; want the dead run's file", deleted, err)
	}
	if k := keys(t, st, RunMarkerPrefix(table)); len(k) != 0 {
		t.Errorf("expired marker kept: %v", k)
	}
}

// A partition lease held by another run makes Apply wait and then fail
// with a LeaseHeldError naming the holder; nothing is committed.
func TestApplyWaitsForPartitionLease(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	other, err := AcquireLease(t.Context(), st, PartitionLeasePrefix(table, dt), LeaseOptions{Holder: Holder{RunID: "r-other"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &Commit{Table: table, RunID: "r1", ContributionKey: "k1", Now: testNow,
		Partitions: map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r1", "k1", 1), RowsWritten: 1}},
		Lock:       LeaseOptions{Timeout: 200 * time.Millisecond, Poll: 20 * time.Millisecond}}
	_, err = c.Apply(t.Context(), st)
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Holder.RunID != "r-other" || !strings.Contains(err.Error(), "r-other") {
		t.Fatalf("Apply under a held lease = %v, want a LeaseHeldError naming r-other", err)
	}
	if m, _ := ReadManifest(t.Context(), st, table, dt); m != nil {
		t.Fatalf("committed despite the lease: %+v", m)
	}
	// The contribution's own lease was released on the way out.
	cl, err := AcquireLease(t.Context(), st, ContributionLeasePrefix(table, ContributionID("k1")), LeaseOptions{Timeout: -1})
	if err != nil {
		t.Fatalf("contribution lease left held: %v", err)
	}
	if err := cl.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Lock.Timeout = -1
	if _, err := c.Apply(t.Context(), st); err != nil {
		t.Fatalf("Apply after release: %v", err)
	}
}

// A partition that moved since the run loaded it is committed on top of
// the other contribution when Rebase allows it, and refused when not.
func TestApplyRebase(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	c1 := &Commit{Table: table, RunID: "r1", ContributionKey: "k1", Now: testNow,
		Partitions: map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r1", "k1", 3), RowsWritten: 3}}}
	if _, err := c1.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	var called []string
	c2 := &Commit{Table: table, RunID: "r2", ContributionKey: "k2", Now: testNow,
		Partitions:     map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r2", "k2", 4), RowsWritten: 4}},
		SeenGeneration: map[string]int64{dt: 0},
		Rebase: func(_ context.Context, d string, cur *Manifest) error {
			called = append(called, d)
			if cur == nil || cur.Generation != 1 {
				t.Errorf("Rebase got %+v, want generation 1", cur)
			}
			return nil
		}}
	if _, err := c2.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(t.Context(), st, table, dt)
	if err != nil || m.Generation != 2 || m.Rows != 7 || len(m.Contributions) != 2 || !slices.Equal(called, []string{dt}) {
		t.Fatalf("after rebase: %+v %v (Rebase called for %v); want both contributions, 7 rows", m, err, called)
	}
	c3 := &Commit{Table: table, RunID: "r3", ContributionKey: "k3", Now: testNow,
		Partitions:     map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r3", "k3", 1), RowsWritten: 1}},
		SeenGeneration: map[string]int64{dt: 1},
		Rebase: func(context.Context, string, *Manifest) error {
			return fmt.Errorf("%w: overlap", ErrConcurrentChange)
		}}
	if _, err := c3.Apply(t.Context(), st); !errors.Is(err, ErrConcurrentChange) {
		t.Fatalf("refused rebase: %v, want ErrConcurrentChange", err)
	}
	if m2, _ := ReadManifest(t.Context(), st, table, dt); m2.Generation != 2 {
		t.Fatalf("refused rebase changed the manifest: %+v", m2)
	}
}

// The marker of a process of this host that no longer exists is dead at
// once, before its expiry.
func TestLiveRunsDeadProcess(t *testing.T) {
	if pidNamespace() == "" {
		t.Skip("no /proc/self/ns/pid here")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	st := mem.New()
	o := LeaseOptions{TTL: time.Hour}
	dead := o
	dead.Holder.PID = cmd.Process.Pid // exited and reaped
	dead.Holder.PIDNamespace = pidNamespace()
	if _, err := StartRunMarker(t.Context(), st, "t", "run-dead", dead); err != nil {
		t.Fatal(err)
	}
	live, expired, err := LiveRuns(t.Context(), st, "t", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 0 || len(expired) != 1 {
		t.Fatalf("live %v, expired %v; want the dead process's run expired", live, expired)
	}
}

// lostResponseStore stores every conditional create but reports that the
// key exists, as a retried request that met its own lost first attempt.
type lostResponseStore struct{ *mem.Store }

func (s lostResponseStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.Store.PutIfAbsent(ctx, key, r, size); err != nil {
		return err
	}
	return fmt.Errorf("put-if-absent %s: %w", key, storage.ErrExists)
}

// A lease whose create landed though its response was lost is still ours:
// acquiring, renewing and releasing all recognise their own objects.
func TestLeaseOwnLostResponse(t *testing.T) {
	st := lostResponseStore{mem.New()}
	const prefix = "_locks/t/dt=2026-01-01/"
	l, err := AcquireLease(t.Context(), st, prefix, LeaseOptions{Timeout: -1})
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if err := l.Renew(t.Context()); err != nil || l.Doc().Seq != 2 || !l.Valid() {
		t.Fatalf("renew: %v (seq %d)", err, l.Doc().Seq)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLease(t.Context(), st.Store, prefix, LeaseOptions{Timeout: -1}); err != nil {
		t.Fatalf("the lease is not released: %v", err)
	}
}

// An interrupted run stops waiting for a held lease (WaitContext) and
// commits nothing, although the commit itself ignores interruption.
func TestApplyWaitInterrupted(t *testing.T) {
	const table, dt = "transactions", "2026-01-01"
	st := mem.New()
	if _, err := AcquireLease(t.Context(), st, PartitionLeasePrefix(table, dt), LeaseOptions{}); err != nil {
		t.Fatal(err)
	}
	interrupt, cancel := context.WithCancel(t.Context())
	c := &Commit{Table: table, RunID: "r1", ContributionKey: "k1", Now: testNow, WaitContext: interrupt,
		Partitions: map[string]*PartitionWrite{dt: {Files: stage(t, st, table, dt, "r1", "k1", 1), RowsWritten: 1}},
		Lock:       LeaseOptions{Timeout: time.Hour, Poll: 10 * time.Millisecond}}
	done := make(chan error, 1)
	go func() {
		_, err := c.Apply(context.WithoutCancel(t.Context()), st)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted wait: %v, want context.Canceled", err)
	}
	if m, _ := ReadManifest(t.Context(), st, table, dt); m != nil {
		t.Fatalf("committed after the interruption: %+v", m)
	}
}
