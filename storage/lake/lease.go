package lake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/txlake/txlake/storage"
)

// Lease defaults. See docs/lake-format.md ("Leases") for the protocol and
// the clock assumption.
const (
	DefaultLeaseTTL     = 2 * time.Minute
	DefaultLeaseMaxSkew = 30 * time.Second
	DefaultLockTimeout  = 10 * time.Minute
)

// LeaseVersion is the version of the lease document this code writes.
const LeaseVersion = 1

// ErrLeaseHeld is wrapped by the *LeaseHeldError returned when a lease stays
// held by another run until the lock timeout. It is a temporary failure:
// retrying later is expected to work.
var ErrLeaseHeld = errors.New("lease held by another run")

// ErrLeaseLost is returned when a holder could not renew its lease in time
// (another run may have taken it over). Nothing further is written under it.
var ErrLeaseLost = errors.New("lease lost")

// Holder identifies the process holding a lease.
type Holder struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// PIDNamespace names the holder's PID namespace and boot (Linux), so
	// only a process in the same namespace of the same machine and boot
	// interprets PID.
	PIDNamespace string `json:"pid_namespace,omitempty"`
	RunID        string `json:"run_id"`
}

// deadHere reports whether h is a process of this host and PID namespace
// that no longer exists (killed without cleaning up). Unknown: false.
func (h Holder) deadHere(self Holder) bool {
	return h.PIDNamespace != "" && h.Host == self.Host && h.PIDNamespace == self.PIDNamespace &&
		h.PID != self.PID && processGone(h.PID)
}

func (h Holder) String() string {
	return fmt.Sprintf("run %s (host %s, pid %d)", h.RunID, h.Host, h.PID)
}

// LeaseOptions configure leases. The zero value uses the defaults.
type LeaseOptions struct {
	// TTL is how long a lease stays valid without renewal. Holders renew it
	// every TTL/3. Default DefaultLeaseTTL.
	TTL time.Duration
	// MaxSkew is the largest clock difference assumed between hosts sharing
	// a lake (and their storage). A waiter takes over an unrenewed lease
	// only MaxSkew after its recorded expiry. Default
	// min(DefaultLeaseMaxSkew, TTL/4).
	MaxSkew time.Duration
	// Timeout is how long Acquire waits for a held lease before it fails
	// with a *LeaseHeldError. Zero: DefaultLockTimeout; negative: no wait.
	Timeout time.Duration
	// Poll is the wait between two looks at a held lease. Default
	// min(1s, TTL/8).
	Poll time.Duration
	// Holder names this process; Host and PID default to this process's.
	Holder Holder
	// HoldAfterAcquire makes Commit.Apply pause this long once it holds
	// all its leases. Tests only: it lets a test kill a process that
	// holds leases.
	HoldAfterAcquire time.Duration
	// Now is the wall clock (default time.Now). Validity is also measured
	// on the monotonic clock of time.Now.
	Now func() time.Time
}

func (o LeaseOptions) withDefaults() LeaseOptions {
	if o.TTL <= 0 {
		o.TTL = DefaultLeaseTTL
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = min(DefaultLeaseMaxSkew, o.TTL/4)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultLockTimeout
	}
	if o.Poll <= 0 {
		o.Poll = min(time.Second, o.TTL/8)
	}
	if o.Holder.Host == "" {
		o.Holder.Host, _ = os.Hostname()
	}
	if o.Holder.PID == 0 {
		o.Holder.PID = os.Getpid()
		o.Holder.PIDNamespace = pidNamespace()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// MaxWait is how long AcquireLease may wait for one held lease with o.
func (o LeaseOptions) MaxWait() time.Duration {
	return max(o.withDefaults().Timeout, 0)
}

// LeaseDoc is one lease object. The object with the highest sequence number
// under a lease's prefix is the lease's state.
type LeaseDoc struct {
	Version  int    `json:"version"`
	Resource string `json:"resource"`
	Seq      int64  `json:"seq"`
	Holder   Holder `json:"holder"`
	// Token is random per acquisition: renewals keep it, so a holder can
	// tell its own lease from another run's.
	Token      string    `json:"token"`
	AcquiredAt time.Time `json:"acquired_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Released   bool      `json:"released"`
}

// LeaseHeldError reports a lease that stayed held until the lock timeout.
type LeaseHeldError struct {
	Resource string // the lease's key prefix
	URL      string
	Holder   Holder // zero when the lease object could not be read yet
	// ExpiresAt is the held lease's expiry (zero when unreadable).
	ExpiresAt time.Time
	Waited    time.Duration
}

func (e *LeaseHeldError) Error() string {
	who := "an unknown holder (lease object not readable yet)"
	if e.Holder.RunID != "" || e.Holder.Host != "" {
		who = e.Holder.String()
	}
	exp := ""
	if !e.ExpiresAt.IsZero() {
		exp = ", lease expires " + e.ExpiresAt.UTC().Format(time.RFC3339) + " unless renewed"
	}
	return fmt.Sprintf("lock %s is held by %s%s; gave up after waiting %s (--lock-timeout); retry later",
		e.URL, who, exp, e.Waited.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Unwrap() error { return ErrLeaseHeld }

// PartitionLeasePrefix is the key prefix of the lease objects of a
// partition's commits.
func PartitionLeasePrefix(table, dt string) string { return "_locks/" + table + "/dt=" + dt + "/" }

// ContributionLeasePrefix is the key prefix of the lease objects of a
// contribution's commits (its index document).
func ContributionLeasePrefix(table, id string) string {
	return "_locks/" + table + "/contribution=" + id + "/"
}

func leaseObjectKey(prefix string, seq int64) string {
	return fmt.Sprintf("%s%020d.json", prefix, seq)
}

func parseLeaseSeq(prefix, key string) (int64, bool) {
	name, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

// Lease is a held lease on one resource. Its methods are safe for
// concurrent use.
type Lease struct {
	st     storage.Store
	cp     storage.ConditionalPutter
	prefix string
	o      LeaseOptions

	mu         sync.Mutex
	doc        LeaseDoc
	validUntil time.Time // monotonic
	lost       bool
}

// AcquireLease takes the lease whose objects live under prefix, waiting up
// to o.Timeout while another holder has it. It fails with a *LeaseHeldError
// on timeout, and with an error when the store has no conditional create.
func AcquireLease(ctx context.Context, st storage.Store, prefix string, o LeaseOptions) (*Lease, error) {
	cp, ok := st.(storage.ConditionalPutter)
	if !ok {
		return nil, fmt.Errorf("lock %s: this store has no conditional create, so commits cannot be locked", st.URL(prefix))
	}
	o = o.withDefaults()
	start := time.Now()
	for {
		cur, err := readLatestLease(ctx, st, prefix)
		if err != nil {
			return nil, err
		}
		now := o.Now()
		if cur != nil && !cur.free(now, o) {
			waited := time.Since(start)
			if o.Timeout < 0 || waited >= o.Timeout {
				e := &LeaseHeldError{Resource: prefix, URL: st.URL(prefix), Waited: waited}
				if cur.doc != nil {
					e.Holder, e.ExpiresAt = cur.doc.Holder, cur.doc.ExpiresAt
				}
				return nil, e
			}
			if err := sleepCtx(ctx, min(o.Poll, o.Timeout-waited)); err != nil {
				return nil, fmt.Errorf("lock %s: %w", st.URL(prefix), err)
			}
			continue
		}
		var seq int64 = 1
		if cur != nil {
			seq = cur.seq + 1
		}
		l := &Lease{st: st, cp: cp, prefix: prefix, o: o}
		doc := LeaseDoc{Version: LeaseVersion, Resource: prefix, Seq: seq, Holder: o.Holder, Token: randomToken(),
			AcquiredAt: now.UTC()}
		err = l.create(ctx, doc)
		if errors.Is(err, storage.ErrExists) {
			// Another waiter won this sequence number: look again (after a
			// short pause, in case a listing lags behind a create).
			if err := sleepCtx(ctx, min(o.Poll, 20*time.Millisecond)); err != nil {
				return nil, fmt.Errorf("lock %s: %w", st.URL(prefix), err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

// create writes doc as a new lease object with a conditional create and, on
// success, makes it this lease's state and removes older objects.
func (l *Lease) create(ctx context.Context, doc LeaseDoc) error {
	t0 := time.Now() // validity counts from before the write
	doc.ExpiresAt = l.o.Now().UTC().Add(l.o.TTL)
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	key := leaseObjectKey(l.prefix, doc.Seq)
	if err := l.cp.PutIfAbsent(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		if !errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("lock %s: %w", l.st.URL(l.prefix), err)
		}
		// A retried request can meet its own first attempt, whose response
		// was lost: the object is ours if it carries our token and seq.
		var cur LeaseDoc
		if rerr := readJSON(ctx, l.st, key, &cur); rerr != nil || cur.Token != doc.Token || cur.Seq != doc.Seq || cur.Released != doc.Released {
			return err
		}
	}
	l.mu.Lock()
	l.doc, l.validUntil = doc, t0.Add(l.o.TTL)
	l.mu.Unlock()
	// The object this one supersedes is history; the newest one is never
	// deleted, so sequence numbers only grow. Best effort: a leftover older
	// object is harmless (only the newest counts).
	if doc.Seq > 1 {
		_ = l.st.Delete(ctx, leaseObjectKey(l.prefix, doc.Seq-1))
	}
	return nil
}

// Doc returns the lease's current document.
func (l *Lease) Doc() LeaseDoc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.doc
}

// Valid reports whether the lease is still safely held: it was renewed
// less than TTL ago by this process's monotonic clock and never lost.
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lost && time.Now().Before(l.validUntil)
}

// Renew extends the lease by TTL by creating its next lease object (same
// holder and token). It returns an error wrapping ErrLeaseLost when the
// lease expired or another run took it over.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	doc, lost, valid := l.doc, l.lost, time.Now().Before(l.validUntil)
	l.mu.Unlock()
	if lost || !valid {
		return l.markLost()
	}
	doc.Seq++
	err := l.create(ctx, doc)
	if errors.Is(err, storage.ErrExists) {
		return l.markLost()
	}
	return err
}

func (l *Lease) markLost() error {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	return fmt.Errorf("lock %s: %w (not renewed within its TTL)", l.st.URL(l.prefix), ErrLeaseLost)
}

// Release ends the lease by creating its next object marked released, so a
// waiter takes it at once. Releasing a lost lease does nothing.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	doc, lost := l.doc, l.lost
	l.lost = true // no use after release
	l.mu.Unlock()
	if lost {
		return nil
	}
	doc.Seq++
	doc.Released = true
	err := l.create(ctx, doc)
	if errors.Is(err, storage.ErrExists) {
		return nil // taken over after expiry: nothing left to release
	}
	return err
}

// latestLease is the newest lease object under a prefix.
type latestLease struct {
	seq     int64
	modTime time.Time
	doc     *LeaseDoc // nil: empty or unparsable (an HDFS claim being filled)
}

// free reports whether a new holder may take the lease at wall time now.
func (c *latestLease) free(now time.Time, o LeaseOptions) bool {
	if c.doc == nil {
		// Unreadable: held until TTL plus skew after it was created.
		return now.After(c.modTime.Add(o.TTL + o.MaxSkew))
	}
	return c.doc.Released || now.After(c.doc.ExpiresAt.Add(o.MaxSkew))
}

func readLatestLease(ctx context.Context, st storage.Store, prefix string) (*latestLease, error) {
	for attempt := 0; ; attempt++ {
		var cur *latestLease
		err := st.List(ctx, prefix, func(o storage.ObjectInfo) error {
			if n, ok := parseLeaseSeq(prefix, o.Key); ok && (cur == nil || n > cur.seq) {
				cur = &latestLease{seq: n, modTime: o.ModTime}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lock %s: list: %w", st.URL(prefix), err)
		}
		if cur == nil {
			return nil, nil
		}
		var doc LeaseDoc
		err = readJSON(ctx, st, leaseObjectKey(prefix, cur.seq), &doc)
		switch {
		case err == nil && doc.Seq == cur.seq:
			cur.doc = &doc
			return cur, nil
		case errors.Is(err, storage.ErrNotFound) && attempt < 10:
			continue // replaced by a newer object meanwhile: look again
		case err != nil && (errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil):
			return nil, fmt.Errorf("lock %s: %w", st.URL(prefix), err)
		}
		return cur, nil // empty or unparsable: treated as held, see free
	}
}

// LeaseSet is several leases taken in a fixed order and renewed together
// in the background until Release.
type LeaseSet struct {
	ctx    context.Context // for renewals: the caller's, without its cancellation
	mu     sync.Mutex
	leases []*Lease
	stop   chan struct{}
	done   chan struct{}
	err    error
}

// AcquireLeases takes the leases of prefixes in the order given (callers
// sort them: every process taking the same leases in the same order cannot
// deadlock) and starts renewing them every TTL/3. On failure it releases
// those it took. o.Timeout bounds the wait for all of them together.
func AcquireLeases(ctx context.Context, st storage.Store, prefixes []string, o LeaseOptions) (*LeaseSet, error) {
	s := &LeaseSet{ctx: context.WithoutCancel(ctx)}
	if err := s.Add(ctx, st, prefixes, o); err != nil {
		_ = s.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.heartbeat(o.withDefaults().TTL / 3)
	return s, nil
}

// Add takes more leases into the set, in the order given. o.Timeout bounds
// the wait for all of them together.
func (s *LeaseSet) Add(ctx context.Context, st storage.Store, prefixes []string, o LeaseOptions) error {
	end := time.Now().Add(o.MaxWait())
	for _, p := range prefixes {
		o.Timeout = -1 // no wait left
		if left := time.Until(end); left > 0 {
			o.Timeout = left
		}
		l, err := AcquireLease(ctx, st, p, o)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.leases = append(s.leases, l)
		s.mu.Unlock()
	}
	return nil
}

func (s *LeaseSet) heartbeat(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		leases := append([]*Lease(nil), s.leases...)
		s.mu.Unlock()
		for _, l := range leases {
			ctx, cancel := context.WithDeadline(s.ctx, l.deadline())
			err := l.Renew(ctx)
			cancel()
			if err != nil && !l.Valid() {
				s.mu.Lock()
				if s.err == nil {
					s.err = err
				}
				s.mu.Unlock()
			}
		}
	}
}

func (l *Lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// Check returns nil while every lease of the set is valid, else an error
// wrapping ErrLeaseLost. Call it right before each write the leases guard.
func (s *LeaseSet) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.leases {
		if !l.Valid() {
			if s.err != nil && !errors.Is(s.err, ErrLeaseLost) {
				return fmt.Errorf("lock %s: %w (not renewed within its TTL: %v)", l.st.URL(l.prefix), ErrLeaseLost, s.err)
			}
			if s.err != nil {
				return s.err
			}
			return fmt.Errorf("lock %s: %w (not renewed within its TTL)", l.st.URL(l.prefix), ErrLeaseLost)
		}
	}
	return nil
}

// Release stops the renewals and releases every lease, in reverse order.
// It returns the first error; the others are still released.
func (s *LeaseSet) Release(ctx context.Context) error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	s.mu.Lock()
	leases := s.leases
	s.leases = nil
	s.mu.Unlock()
	var first error
	for i := len(leases) - 1; i >= 0; i-- {
		if err := leases[i].Release(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
