// Package backfill plans and runs a job over a range of dates: which
// (date, shard) tasks are already committed from their current inputs, and
// a resumable, parallel, interruptible run of the others.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// Status is the state of one task in a plan.
type Status string

// Task statuses.
const (
	// StatusCommitted: the task's contribution is committed from exactly
	// the inputs it would read now; running it again would change nothing.
	StatusCommitted Status = "committed"
	// StatusPending: never committed, or its last run failed part-way.
	StatusPending Status = "pending"
	// StatusInputsChanged: committed, but the inputs differ now (files
	// added, removed, or with another size or checksum).
	StatusInputsChanged Status = "inputs_changed"
)

// Dates returns the dates from..to inclusive (YYYY-MM-DD), at most maxDays.
func Dates(from, to string, maxDays int) ([]string, error) {
	f, err := lake.ParseDate(from)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	t, err := lake.ParseDate(to)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("--to %s is before --from %s", to, from)
	}
	n := int(t.Sub(f).Hours()/24) + 1
	if n > maxDays {
		return nil, fmt.Errorf("--from %s --to %s spans %d days; at most %d at a time", from, to, n, maxDays)
	}
	out := make([]string, 0, n)
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(lake.DateLayout))
	}
	return out, nil
}

// Check is the committed state of one contribution compared with its
// current inputs.
type Check struct {
	Status Status
	// RunID and Committed describe the committed contribution, if any.
	RunID     string
	Committed time.Time
	// Reason says why the status is not committed, for humans.
	Reason string
}

// CheckContribution compares the committed contribution of key in table
// with the current inputs. current is nil when the inputs could not be
// resolved (inputsErr says why): a committed contribution then stays
// committed, since nothing shows that its inputs changed, and the reason
// says so. No inputs at all (an empty shard) count as committed: a run
// would commit nothing.
func CheckContribution(ctx context.Context, st storage.Store, table, key string, current []lake.Source, inputsErr error) (Check, error) {
	c, _, ok, err := lake.CommittedContribution(ctx, st, table, key)
	if err != nil {
		return Check{}, err
	}
	if !ok && inputsErr == nil && len(current) == 0 {
		// Nothing to ingest (an empty shard): a run would commit nothing.
		return Check{Status: StatusCommitted, Reason: "no inputs"}, nil
	}
	if !ok {
		ch := Check{Status: StatusPending, Reason: "not committed"}
		if inputsErr != nil {
			ch.Reason = "not committed; inputs: " + inputsErr.Error()
		}
		return ch, nil
	}
	ch := Check{Status: StatusCommitted, RunID: c.RunID, Committed: c.Committed}
	switch {
	case inputsErr != nil:
		ch.Reason = "committed; the inputs cannot be listed now: " + inputsErr.Error()
	case !lake.SameSources(c.Sources, current):
		ch.Status = StatusInputsChanged
		ch.Reason = diffSources(c.Sources, current)
	}
	return ch, nil
}

// diffSources says how the inputs changed, in a few words.
func diffSources(old, cur []lake.Source) string {
	was := map[string]lake.Source{}
	for _, s := range old {
		was[s.URL] = s
	}
	var added, changed int
	for _, s := range cur {
		o, ok := was[s.URL]
		switch {
		case !ok:
			added++
		case o != s:
			changed++
		}
		delete(was, s.URL)
	}
	var parts []string
	if added > 0 {
		parts = append(parts, fmt.Sprintf("%d added", added))
	}
	if len(was) > 0 {
		parts = append(parts, fmt.Sprintf("%d removed", len(was)))
	}
	if changed > 0 {
		parts = append(parts, fmt.Sprintf("%d changed", changed))
	}
	return "inputs changed since the commit: " + strings.Join(parts, ", ") + " file(s)"
}

// Outcome is what happened to one date of a backfill.
type Outcome string

// Date outcomes.
const (
	OutcomeCommitted Outcome = "committed" // run and committed
	OutcomeSkipped   Outcome = "skipped"   // already committed from the same inputs
	OutcomeFailed    Outcome = "failed"    // run and failed; nothing of it is half-committed
	OutcomeNotRun    Outcome = "not_run"   // interrupted before it started
	// OutcomeInterrupted: stopped by Ctrl-C or SIGTERM before its commit
	// (nothing of it is committed; a re-run does it).
	OutcomeInterrupted Outcome = "interrupted"
)

// DateResult is one date's line of a backfill summary.
type DateResult struct {
	Date            string  `json:"date"`
	Outcome         Outcome `json:"outcome"`
	RunID           string  `json:"run_id,omitempty"`
	RowsRead        int64   `json:"rows_read"`
	RowsWritten     int64   `json:"rows_written"`
	RowsQuarantined int64   `json:"rows_quarantined"`
	RowsDuplicate   int64   `json:"rows_duplicate"`
	BytesRead       int64   `json:"bytes_read"`
	DurationMS      int64   `json:"duration_ms"`
	// Attempts counts the runs of the date (retries after a concurrent
	// change of a partition included); 0 when skipped or not run.
	Attempts int `json:"attempts"`
	// ExitCode is the exit code `txlake run` would have given this date.
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
}

// Options configure Run.
type Options struct {
	Dates    []string
	Parallel int // dates run at once (>= 1)
	// Skip reports whether a date is already done (committed from the same
	// inputs); nil runs every date (--force). An error fails the date.
	Skip func(ctx context.Context, date string) (bool, error)
	// RunDate runs one date. It fills the counts of r and returns the
	// date's error. It must honour ctx like ingest does: stop before
	// committing, or finish a commit already under way.
	RunDate func(ctx context.Context, date string, r *DateResult) error
	// ExitCode maps a date's error to its exit code.
	ExitCode func(error) int
	// Retry reports whether a date's error is worth an immediate re-run
	// (another date committed into a partition this one also wrote); nil:
	// never. Attempts bounds the runs of one date (default 1).
	Retry    func(error) bool
	Attempts int
	// Done is called once per date as it finishes (for progress); may be nil.
	Done func(DateResult)
}

// Run runs the dates, Parallel at a time, in date order. A date's failure
// does not stop the others. When ctx is cancelled no new date starts;
// dates under way stop as RunDate's contract says, and the dates that did
// not start are reported as not run. The results are in date order.
func Run(ctx context.Context, o Options) []DateResult {
	results := make([]DateResult, len(o.Dates))
	for i, d := range o.Dates {
		results[i] = DateResult{Date: d, Outcome: OutcomeNotRun}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(o.Parallel, 1) {
		wg.Go(func() {
			for i := range next {
				r := &results[i]
				runOne(ctx, o, r)
				if o.Done != nil {
					o.Done(*r)
				}
			}
		})
	}
feed:
	for i := range o.Dates {
		select {
		case <-ctx.Done():
			break feed
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
	return results
}

func runOne(ctx context.Context, o Options, r *DateResult) {
	if ctx.Err() != nil {
		return // interrupted while waiting for a worker
	}
	start := time.Now()
	defer func() { r.DurationMS = time.Since(start).Milliseconds() }()
	if o.Skip != nil {
		skip, err := o.Skip(ctx, r.Date)
		if err != nil {
			r.fail(ctx, err, o.ExitCode)
			return
		}
		if skip {
			r.Outcome = OutcomeSkipped
			return
		}
	}
	for {
		r.Attempts++
		err := o.RunDate(ctx, r.Date, r)
		if err == nil {
			r.Outcome = OutcomeCommitted
			return
		}
		if o.Retry == nil || !o.Retry(err) || r.Attempts >= o.Attempts || ctx.Err() != nil {
			r.fail(ctx, err, o.ExitCode)
			return
		}
	}
}

// fail records a date's error: interrupted when the backfill was cancelled
// and the error is the cancellation, else failed.
func (r *DateResult) fail(ctx context.Context, err error, exitCode func(error) int) {
	r.Outcome, r.Error, r.ExitCode = OutcomeFailed, err.Error(), exitCode(err)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		r.Outcome = OutcomeInterrupted
	}
}

// Summary counts the outcomes of results.
func Summary(results []DateResult) map[Outcome]int {
	m := map[Outcome]int{OutcomeCommitted: 0, OutcomeSkipped: 0, OutcomeFailed: 0, OutcomeInterrupted: 0, OutcomeNotRun: 0}
	for _, r := range results {
		m[r.Outcome]++
	}
	return m
}

// FailedError lists the dates that failed. Code is the exit code of the
// backfill: the dates' common code when they all agree (so a scheduler
// retries a backfill whose every failure was temporary), else 1.
type FailedError struct {
	Dates []string
	Code  int
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d date(s) failed: %s; re-run the backfill to retry them (committed dates are skipped)",
		len(e.Dates), strings.Join(e.Dates, ", "))
}

// Failed returns a *FailedError for the failed dates of results, nil when
// none failed.
func Failed(results []DateResult) error {
	var fe FailedError
	codes := map[int]bool{}
	for _, r := range results {
		if r.Outcome == OutcomeFailed {
			fe.Dates = append(fe.Dates, r.Date)
			codes[r.ExitCode] = true
		}
	}
	if len(fe.Dates) == 0 {
		return nil
	}
	sort.Strings(fe.Dates)
	fe.Code = 1
	if len(codes) == 1 {
		for c := range codes {
			fe.Code = c
		}
	}
	return &fe
}

// ErrInterrupted is returned (wrapped) when a backfill was interrupted
// before every date ran.
var ErrInterrupted = errors.New("backfill interrupted")
