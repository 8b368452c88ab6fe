package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txlake/txlake/storage/backend"
)

// faultKind is what the proxy does with one request.
type faultKind int

const (
	faultNone faultKind = iota
	fault500
	fault503
	faultReset
	faultStall
	faultKinds
)

func (k faultKind) String() string {
	return [...]string{"forwarded", "500 InternalError", "503 SlowDown", "connection reset", "stalled"}[k]
}

// faultProxy is a real TCP proxy on loopback between txlake and the S3 test
// service. Per request, with a seeded PRNG and bounded counts, it answers
// 500 or 503 with an S3 XML error body, resets the connection without a
// response, stalls 2–3 s before forwarding, or forwards. With failAfter > 0,
// with failAll, every request after the first failAfter is answered 503 SlowDown.
type faultProxy struct {
	URL string

	rp *httputil.ReverseProxy

	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64       // share of requests that get a fault
	maxFaults int           // at most this many random faults in all
	maxStall  time.Duration // at most this much stalling in all
	failAll   bool
	failAfter int
	requests  int
	faults    int
	stalled   time.Duration
	counts    [faultKinds]int
}

// newFaultProxyMode starts a proxy to target that faults a share rate of
// requests; with failAll, every request after the first failAfter fails.
// It stops when the test ends.
func newFaultProxyMode(t *testing.T, target string, seed uint64, rate float64, failAll bool, failAfter int) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the Host header the client signed
	rp.Transport = transport
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &faultProxy{
		rp: rp, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rate: rate, maxFaults: 60, maxStall: 12 * time.Second, failAll: failAll, failAfter: failAfter,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	p.URL = "http://" + l.Addr().String()
	return p
}

// decide picks the fault for the next request.
func (p *faultProxy) decide() (faultKind, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	k, stall := faultNone, time.Duration(0)
	switch {
	case p.failAll && p.requests > p.failAfter:
		k = fault503
	case p.faults < p.maxFaults && p.rng.Float64() < p.rate:
		switch r := p.rng.Float64(); {
		case r < 0.3:
			k = fault500
		case r < 0.6:
			k = fault503
		case r < 0.85:
			k = faultReset
		default:
			stall = 2*time.Second + time.Duration(p.rng.Int64N(int64(time.Second)))
			if p.stalled+stall <= p.maxStall {
				k = faultStall
				p.stalled += stall
			} else {
				k = fault500
			}
		}
		p.faults++
	}
	p.counts[k]++
	return k, stall
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k, stall := p.decide()
	switch k {
	case fault500:
		faultS3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case fault503:
		faultS3Error(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case faultReset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("the proxy's ResponseWriter cannot hijack")
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST
		}
		conn.Close()
	case faultStall:
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
			return
		}
		p.rp.ServeHTTP(w, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

func faultS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	io.Copy(io.Discard, r.Body) // read the request first, as a real service would
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", "txlake-fault")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>txlake-fault</RequestId></Error>`,
		code, msg, r.URL.Path)
}

// stats summarises what the proxy did.
func (p *faultProxy) stats() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for k := faultNone; k < faultKinds; k++ {
		if p.counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.counts[k], k))
		}
	}
	return fmt.Sprintf("%d requests: %s; %v stalled", p.requests, strings.Join(parts, ", "), p.stalled)
}

func (p *faultProxy) requestCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// faultIngest runs the real binary's ingest with the S3 endpoint set to
// endpoint and returns its exit code, stderr and wall time.
func faultIngest(t *testing.T, endpoint, lakeURL, glob string, extraEnv ...string) (int, string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, txlakeBinary(t), "ingest", "--schema", cliSchema, "--source", glob,
		"--lake", lakeURL, "--json", "--log-format", "json")
	// A run whose store fails cannot release its commit leases, and the
	// retry waits until they expire: a TTL of seconds keeps that short,
	// and is long enough that no renewal changes a clean run's request
	// count.
	cmd.Env = append(append(os.Environ(), backend.S3EndpointEnv+"="+endpoint, "TXLAKE_LOCK_TTL=6s"), extraEnv...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began)
	if ctx.Err() != nil {
		t.Fatalf("ingest through %s did not finish in time (killed after %v)\n%s", endpoint, took, stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String(), took
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String(), took
	}
	t.Fatalf("run ingest: %v", err)
	return 0, "", 0
}

// faultSetup returns the direct endpoint, a fresh bucket, and two generated
// source sets (A and B, overlapping dates) with the local-lake row hashes
// of A and of A then B. The in-process CLI reads S3 through the direct
// endpoint.
func faultSetup(t *testing.T) (direct, bucket, globA, globB, wantA, wantAB string) {
	t.Helper()
	direct = svcS3Endpoint(t)
	t.Setenv(backend.S3EndpointEnv, direct)
	bucket = svcS3Bucket(t, direct)
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "a"), filepath.Join(root, "b")
	cliMust(t, "gen", "--out", dirA, "--days", "3", "--rows-per-day", "2000", "--seed", "5", "--compress", "gzip")
	cliMust(t, "gen", "--out", dirB, "--days", "3", "--rows-per-day", "2000", "--seed", "6", "--compress", "gzip")
	globA, globB = filepath.Join(dirA, "*.jsonl.gz"), filepath.Join(dirB, "*.jsonl.gz")
	ref := filepath.Join(root, "ref")
	cliIngestJSON(t, ref, "--source", globA)
	wantA = cliRowsHash(t, ref)
	cliIngestJSON(t, ref, "--source", globB)
	wantAB = cliRowsHash(t, ref)
	if wantA == wantAB {
		t.Fatal("the two source sets give the same lake")
	}
	return direct, bucket, globA, globB, wantA, wantAB
}

// TestFaultsRetriedIngest ingests into S3 through a proxy that fails about
// one request in five (500, 503, connection resets, stalls): the SDK's
// retries carry the run through, and the lake holds exactly the rows of a
// clean ingest.
func TestFaultsRetriedIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against the S3 test service through a faulty proxy")
	}
	direct, bucket, globA, globB, wantA, wantAB := faultSetup(t)
	proxy := newFaultProxyMode(t, direct, 42, 0.2, false, 0)
	lakeURL := "s3://" + bucket + "/lake"

	for _, step := range []struct {
		glob, want string
	}{{globA, wantA}, {globB, wantAB}, {globB, wantAB}} { // created, updated, replaced
		// A lease TTL far above the proxy's stalls (the retried
		// renewals must land in time).
		code, stderr, took := faultIngest(t, proxy.URL, lakeURL, step.glob, "TXLAKE_LOCK_TTL=2m")
		t.Logf("ingest %s through the proxy: exit %d in %v; proxy so far: %s", filepath.Base(filepath.Dir(step.glob)), code, took.Round(time.Millisecond), proxy.stats())
		if code != exitOK {
			t.Fatalf("ingest through the faulty proxy: exit %d, want 0\n%s", code, stderr)
		}
		st := svcOpen(t, lakeURL)
		svcCheckLake(t, st, crashTable, true)
		if got := svcRowsHash(t, lakeURL); got != step.want {
			t.Errorf("the lake holds rows %s; a clean ingest holds %s", got, step.want)
		}
		out := svcQuery(t, lakeURL, "SELECT count(*) - count(DISTINCT transaction_id) AS d FROM transactions")
		if d := cliCSVInt(t, out); d != 0 {
			t.Errorf("%d duplicate transaction_id rows", d)
		}
	}
	proxy.mu.Lock()
	faults := proxy.faults
	proxy.mu.Unlock()
	if faults == 0 {
		t.Error("the proxy injected no fault; the test proved nothing")
	}
}

// TestFaultsUnavailable ingests into S3 through a proxy that answers 503
// to everything after its first N requests, for several N across a run: the
// ingest exits 75, every partition is in its old or its new committed state,
// and a retry through a healthy endpoint completes the work exactly once.
func TestFaultsUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against the S3 test service through a failing proxy")
	}
	direct, bucket, globA, globB, wantA, wantAB := faultSetup(t)
	// Two attempts per request instead of six keep each failing run short.
	// (The SDK's AWS_MAX_ATTEMPTS would not do: the store has its own retryer.)
	attempts := backend.S3MaxAttemptsEnv + "=2"
	for _, bad := range []string{"0", "-1", "two"} {
		t.Setenv(backend.S3MaxAttemptsEnv, bad)
		r := cliRun(t, "ingest", "--schema", cliSchema, "--source", globA, "--lake", "s3://"+bucket+"/bad", "--json")
		if r.code != exitUsage || !strings.Contains(r.stderr, backend.S3MaxAttemptsEnv) {
			t.Errorf("%s=%s: exit %d, want %d naming the variable\n%s", backend.S3MaxAttemptsEnv, bad, r.code, exitUsage, r.stderr)
		}
	}
	os.Unsetenv(backend.S3MaxAttemptsEnv) // t.Setenv restores it at the end

	// Count the requests of a clean run (A, then B through a proxy without
	// faults) to choose the failure points.
	refLake := "s3://" + bucket + "/ref"
	if code, stderr, _ := faultIngest(t, direct, refLake, globA); code != exitOK {
		t.Fatalf("clean ingest: exit %d\n%s", code, stderr)
	}
	counter := newFaultProxyMode(t, direct, 1, 0, false, 0)
	code, stderr, cleanTook := faultIngest(t, counter.URL, refLake, globB)
	if code != exitOK {
		t.Fatalf("clean ingest through the proxy: exit %d\n%s", code, stderr)
	}
	total := counter.requestCount()
	if got := svcRowsHash(t, refLake); got != wantAB {
		t.Fatalf("the clean S3 lake holds rows %s, the local lake %s", got, wantAB)
	}
	t.Logf("a clean run of B sends %d requests in %v", total, cleanTook.Round(time.Millisecond))

	// The last two requests of a run are best effort (removing the
	// superseded object of the last lease released, the run record): the
	// last failure point is before them, at the last lease's release.
	for i, n := range []int{0, total / 3, 2 * total / 3, total - 8, total - 5, total - 3} {
		t.Run(fmt.Sprintf("fail after %d of %d requests", n, total), func(t *testing.T) {
			lakeURL := fmt.Sprintf("s3://%s/lake%d", bucket, i)
			if code, stderr, _ := faultIngest(t, direct, lakeURL, globA); code != exitOK {
				t.Fatalf("clean ingest of A: exit %d\n%s", code, stderr)
			}
			st := svcOpen(t, lakeURL)
			before := svcManifests(t, st, crashTable)

			proxy := newFaultProxyMode(t, direct, uint64(i), 0, true, n)
			code, stderr, took := faultIngest(t, proxy.URL, lakeURL, globB, attempts)
			t.Logf("exit %d in %v; proxy: %s", code, took.Round(time.Millisecond), proxy.stats())
			if code != exitTempFailure {
				t.Fatalf("ingest against a failing store: exit %d, want %d\n%s", code, exitTempFailure, stderr)
			}
			if took > time.Minute {
				t.Errorf("the failing ingest took %v to give up", took)
			}
			if !strings.Contains(strings.ToLower(stderr), "unavailable") {
				t.Logf("stderr does not say unavailable:\n%s", stderr)
			}

			// Through the direct endpoint: each partition is in its old state
			// (same manifest) or a new one committed by one run, and every
			// manifest's files exist with their sizes.
			now := svcCheckLake(t, st, crashTable, false)
			after := svcManifests(t, st, crashTable)
			changed := 0
			runs := map[string]bool{}
			for dt, old := range before {
				if _, ok := after[dt]; !ok {
					t.Errorf("dt=%s: the committed manifest disappeared", dt)
					continue
				}
				if bytes.Equal(old, after[dt]) {
					continue
				}
				changed++
				om := svcParseManifest(t, crashTable, dt, old)
				if nm := now[dt]; nm.Generation != om.Generation+1 || nm.RunID == om.RunID {
					t.Errorf("dt=%s: generation %d by run %s follows generation %d by run %s", dt, nm.Generation, nm.RunID, om.Generation, om.RunID)
				} else {
					runs[nm.RunID] = true
				}
			}
			for dt, m := range now {
				if _, ok := before[dt]; !ok {
					changed++
					runs[m.RunID] = true
					if m.Generation != 1 {
						t.Errorf("dt=%s: a new partition starts at generation %d", dt, m.Generation)
					}
				}
			}
			if len(runs) > 1 {
				t.Errorf("one failed run changed the lake, but manifests name runs %v", runs)
			}
			t.Logf("%d of %d partitions in a new state after the failed run", changed, len(now))
			if changed == 0 {
				if got := svcRowsHash(t, lakeURL); got != wantA {
					t.Errorf("no manifest changed, but the lake holds rows %s instead of A's %s", got, wantA)
				}
			}
			out := svcQuery(t, lakeURL, "SELECT count(*) - count(DISTINCT transaction_id) AS d FROM transactions")
			if d := cliCSVInt(t, out); d != 0 {
				t.Errorf("%d duplicate transaction_id rows after the failed run", d)
			}

			// The retry, through the healthy endpoint, completes the work.
			if code, stderr, _ := faultIngest(t, direct, lakeURL, globB); code != exitOK {
				t.Fatalf("retry through the healthy endpoint: exit %d\n%s", code, stderr)
			}
			svcCheckLake(t, st, crashTable, true)
			if got := svcRowsHash(t, lakeURL); got != wantAB {
				t.Errorf("after the retry the lake holds rows %s; a clean ingest holds %s", got, wantAB)
			}
		})
	}
}
