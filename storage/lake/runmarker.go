package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/txlake/txlake/storage"
)

// RunMarkerPrefix is the key prefix of the liveness markers of the runs
// writing into a table.
func RunMarkerPrefix(table string) string { return "_locks/" + table + "/runs/" }

// RunMarkerKey is the key of one run's liveness marker.
func RunMarkerKey(table, runID string) string { return RunMarkerPrefix(table) + runID + ".json" }

// RunMarker tells garbage collection that a run is alive and still writing
// files that no manifest lists yet. It is written before the run's first
// data file and renewed every TTL/3 until Stop. A marker not renewed for
// TTL plus the clock skew allowance belongs to a dead run.
type RunMarker struct {
	st    storage.Store
	key   string
	o     LeaseOptions
	doc   LeaseDoc
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	until time.Time // monotonic
	once  sync.Once
}

// StartRunMarker writes the marker of run runID of table and starts
// renewing it. The caller calls Stop when the run has committed or given up.
func StartRunMarker(ctx context.Context, st storage.Store, table, runID string, o LeaseOptions) (*RunMarker, error) {
	o = o.withDefaults()
	o.Holder.RunID = runID
	m := &RunMarker{st: st, key: RunMarkerKey(table, runID), o: o, stop: make(chan struct{}), done: make(chan struct{}),
		doc: LeaseDoc{Version: LeaseVersion, Resource: RunMarkerKey(table, runID), Holder: o.Holder, Token: randomToken(), AcquiredAt: o.Now().UTC()}}
	if err := m.renew(ctx); err != nil {
		return nil, err
	}
	go m.heartbeat(context.WithoutCancel(ctx))
	return m, nil
}

func (m *RunMarker) renew(ctx context.Context) error {
	t0 := time.Now()
	m.doc.Seq++
	m.doc.ExpiresAt = m.o.Now().UTC().Add(m.o.TTL)
	if err := writeJSON(ctx, m.st, m.key, m.doc); err != nil {
		return fmt.Errorf("run marker: %w", err)
	}
	m.mu.Lock()
	m.until = t0.Add(m.o.TTL)
	m.mu.Unlock()
	return nil
}

func (m *RunMarker) heartbeat(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.o.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			until := m.until
			m.mu.Unlock()
			rctx, cancel := context.WithDeadline(ctx, until)
			_ = m.renew(rctx) // a missed renewal shows in Valid
			cancel()
		}
	}
}

// Valid reports whether the marker was renewed less than TTL ago, so no
// garbage collection can have treated the run as dead.
func (m *RunMarker) Valid() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Now().Before(m.until)
}

// Stop ends the renewals and removes the marker. Only call it once the
// run's files are listed by manifests or no longer needed. It is safe to
// call more than once.
func (m *RunMarker) Stop(ctx context.Context) error {
	var err error
	m.once.Do(func() {
		close(m.stop)
		<-m.done
		if derr := m.st.Delete(ctx, m.key); derr != nil {
			err = fmt.Errorf("remove run marker: %w", derr)
		}
	})
	return err
}

// LiveRuns returns the ids of the runs of table whose markers are not
// expired (with the skew allowance of o) at wall time now, and the keys of
// the expired markers (runs that died without removing theirs). A marker of
// a process of this host and PID namespace that no longer exists is expired
// at once. An unreadable marker counts as live until TTL plus skew after it
// was written.
func LiveRuns(ctx context.Context, st storage.Store, table string, o LeaseOptions) (live map[string]bool, expired []string, err error) {
	o = o.withDefaults()
	now := o.Now()
	prefix := RunMarkerPrefix(table)
	var infos []storage.ObjectInfo
	if err := st.List(ctx, prefix, func(oi storage.ObjectInfo) error {
		infos = append(infos, oi)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("list run markers %s: %w", st.URL(prefix), err)
	}
	live = map[string]bool{}
	for _, oi := range infos {
		run, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, prefix), ".json")
		if !ok || strings.Contains(run, "/") {
			continue
		}
		var doc LeaseDoc
		err := readJSON(ctx, st, oi.Key, &doc)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue // stopped meanwhile
		case err != nil && (errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil):
			return nil, nil, err
		case err != nil && !now.After(oi.ModTime.Add(o.TTL+o.MaxSkew)):
			live[run] = true
		case err == nil && doc.Holder.deadHere(o.Holder):
			expired = append(expired, oi.Key) // its process is gone: dead before its expiry
		case err == nil && !now.After(doc.ExpiresAt.Add(o.MaxSkew)):
			live[run] = true
		default:
			expired = append(expired, oi.Key)
		}
	}
	return live, expired, nil
}
