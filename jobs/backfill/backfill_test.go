package backfill

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txlake/txlake/storage/lake"
)

var errRetry = errors.New("concurrent change")

func TestDates(t *testing.T) {
	got, err := Dates("2024-02-27", "2024-03-01", 10)
	if err != nil || !slices.Equal(got, []string{"2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"}) {
		t.Fatalf("%v, %v", got, err)
	}
	for _, tc := range [][2]string{{"2024-03-02", "2024-03-01"}, {"2024-3-1", "2024-03-01"}, {"2024-01-01", "2024-12-31"}} {
		if _, err := Dates(tc[0], tc[1], 100); err == nil {
			t.Errorf("%v: no error", tc)
		}
	}
}

// Run runs every date once, skips the done ones, retries retryable errors
// up to Attempts, keeps going after a failure, and reports in date order.
func TestRun(t *testing.T) {
	dates, _ := Dates("2026-01-01", "2026-01-08", 100)
	var mu sync.Mutex
	calls := map[string]int{}
	var running, most atomic.Int32
	res := Run(t.Context(), Options{
		Dates: dates, Parallel: 3, Attempts: 3,
		Skip: func(_ context.Context, d string) (bool, error) { return d == "2026-01-02", nil },
		RunDate: func(_ context.Context, d string, r *DateResult) error {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			mu.Lock()
			calls[d]++
			c := calls[d]
			mu.Unlock()
			r.RowsRead = 10
			switch {
			case d == "2026-01-03" && c < 3:
				return errRetry // succeeds on the third attempt
			case d == "2026-01-05":
				return errRetry // never succeeds
			case d == "2026-01-07":
				return errors.New("bad input")
			}
			return nil
		},
		Retry:    func(err error) bool { return errors.Is(err, errRetry) },
		ExitCode: func(err error) int { return map[bool]int{true: 75, false: 1}[errors.Is(err, errRetry)] },
	})
	var got []string
	for _, r := range res {
		got = append(got, r.Date[8:]+"="+string(r.Outcome))
	}
	want := []string{"01=committed", "02=skipped", "03=committed", "04=committed", "05=failed", "06=committed", "07=failed", "08=committed"}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if res[2].Attempts != 3 || res[4].Attempts != 3 || res[6].Attempts != 1 || calls["2026-01-02"] != 0 {
		t.Errorf("attempts: %d %d %d, skipped date run %d times", res[2].Attempts, res[4].Attempts, res[6].Attempts, calls["2026-01-02"])
	}
	if most.Load() > 3 {
		t.Errorf("%d dates ran at once, want at most 3", most.Load())
	}
	var fe *FailedError
	if err := Failed(res); !errors.As(err, &fe) || fe.Code != 1 || !slices.Equal(fe.Dates, []string{"2026-01-05", "2026-01-07"}) {
		t.Errorf("Failed: %v", err)
	}
	res[6].ExitCode = 75
	if err := Failed(res); !errors.As(err, &fe) || fe.Code != 75 {
		t.Errorf("all failures temporary: %v, want code 75", err)
	}
	if s := Summary(res); s[OutcomeCommitted] != 5 || s[OutcomeFailed] != 2 || s[OutcomeSkipped] != 1 || s[OutcomeNotRun] != 0 || len(s) != 5 {
		t.Errorf("summary %v", s)
	}
}

// After cancellation no date starts; the dates under way finish.
func TestRunCancelled(t *testing.T) {
	dates, _ := Dates("2026-01-01", "2026-01-10", 100)
	run := func(parallel int) map[Outcome]int {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		res := Run(ctx, Options{
			Dates: dates, Parallel: parallel, ExitCode: func(error) int { return 1 },
			RunDate: func(ctx context.Context, d string, r *DateResult) error {
				if d == "2026-01-03" {
					cancel()
				}
				return nil
			},
		})
		s := Summary(res)
		if res[2].Outcome != OutcomeCommitted || s[OutcomeFailed] != 0 || s[OutcomeInterrupted] != 0 ||
			s[OutcomeCommitted]+s[OutcomeNotRun] != len(dates) {
			t.Fatalf("parallel %d, cancelled at the third date: %v (third date %s)", parallel, s, res[2].Outcome)
		}
		return s
	}
	// One worker: the dates after the third never start, whatever the
	// feeder hands out once the context is done.
	if s := run(1); s[OutcomeCommitted] != 3 || s[OutcomeNotRun] != 7 {
		t.Errorf("one worker: %v; want 3 committed and 7 not run", s)
	}
	// Two workers: the other worker may finish a few more dates before the
	// cancel lands (they take no time here); none fails, none is half-run.
	for range 20 {
		run(2)
	}
}

func TestCheckContributionStatuses(t *testing.T) {
	src := []lake.Source{{URL: "file:///a", Bytes: 3, Checksum: "sha256:aa"}, {URL: "file:///b", Bytes: 4, Checksum: "sha256:bb"}}
	if got := diffSources(src, []lake.Source{src[1], {URL: "file:///c"}, {URL: "file:///a", Bytes: 5, Checksum: "sha256:cc"}}); got != "inputs changed since the commit: 1 added, 1 changed file(s)" {
		t.Errorf("diff: %q", got)
	}
	if got := diffSources(src, src[:1]); got != "inputs changed since the commit: 1 removed file(s)" {
		t.Errorf("diff: %q", got)
	}
	if !lake.SameSources(src, []lake.Source{src[1], src[0]}) || lake.SameSources(src, src[:1]) {
		t.Error("SameSources")
	}
}
