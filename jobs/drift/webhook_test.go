package drift

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txlake/txlake/storage"
)

// webhookReport is a small report with drift.
func webhookReport() *Report {
	return &Report{
		Version: ReportVersion, Table: "transactions", Lake: "file:///lake", AsOf: "2026-01-08",
		GeneratedAt:   time.Date(2026, 1, 8, 6, 0, 0, 0, time.UTC),
		DriftDetected: true, Reasons: []string{"columns"}, DriftShare: 0.5,
		ComparedColumns: 2, DriftedColumns: 1, DriftedShare: 0.5,
		Reference: Window{From: "2026-01-01", To: "2026-01-04", Days: 4, Partitions: 4, Rows: 2000, MissingDays: []string{}},
		Current:   Window{From: "2026-01-07", To: "2026-01-07", Days: 1, Partitions: 1, Rows: 500, MissingDays: []string{}},
		Columns: []Column{
			{Name: "amount", Kind: "numeric", Method: "wasserstein", Statistic: ptr(0.9), Threshold: 0.1, Drifted: true, DistributionDrifted: true},
			{Name: "channel", Kind: "categorical", Method: "jensenshannon", Statistic: ptr(0.01), Threshold: 0.1},
		},
		SkippedColumns: []Skipped{}, SchemaChanges: []SchemaChange{},
	}
}

// hookRequest is what the test server saw of one request.
type hookRequest struct {
	header http.Header
	body   []byte
}

// hookServer answers with statuses in turn (the last one repeats) and
// records the requests.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []hookRequest
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests = append(h.requests, hookRequest{header: r.Header.Clone(), body: body})
		n := len(h.requests)
		h.mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(statuses[min(n, len(statuses))-1])
		io.WriteString(w, "answer "+http.StatusText(statuses[min(n, len(statuses))-1]))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.requests...)
}

// fastOptions are the defaults with millisecond delays and a log buffer.
func fastOptions(log *bytes.Buffer, urls ...string) WebhookOptions {
	return WebhookOptions{
		URLs: urls, Backoff: time.Millisecond, MaxDelay: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func TestWebhookSignedJSONReport(t *testing.T) {
	const secret = "s3cr3t-webhook-key"
	srv := newHookServer(t, http.StatusNoContent)
	rep := webhookReport()
	var log bytes.Buffer
	opts := fastOptions(&log, srv.URL+"/hooks/drift?token=abc")
	opts.Secret = []byte(secret)
	if err := SendWebhooks(t.Context(), rep, opts); err != nil {
		t.Fatal(err)
	}
	reqs := srv.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	// The body is the version-1 JSON report, byte for byte what --format json writes.
	var want bytes.Buffer
	if err := Write(&want, rep, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, want.Bytes()) {
		t.Errorf("body is not the JSON report:\n%s", r.body)
	}
	var top struct {
		Version       int  `json:"version"`
		DriftDetected bool `json:"drift_detected"`
	}
	if err := json.Unmarshal(r.body, &top); err != nil || top.Version != 1 || !top.DriftDetected {
		t.Errorf("body: version %d drift_detected %v (%v)", top.Version, top.DriftDetected, err)
	}
	// A receiver verifies the signature over the exact body.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.body)
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.header.Get("X-Txlake-Signature"); !hmac.Equal([]byte(got), []byte(wantSig)) {
		t.Errorf("X-Txlake-Signature %q, want %q", got, wantSig)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Txlake-Event": "drift"} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if len(r.header.Get("X-Txlake-Delivery")) != 32 {
		t.Errorf("X-Txlake-Delivery %q", r.header.Get("X-Txlake-Delivery"))
	}
	if strings.Contains(log.String(), secret) || strings.Contains(log.String(), "token=abc") {
		t.Errorf("the log shows the secret or the URL's query:\n%s", log.String())
	}
	if strings.Contains(log.String(), "not set") {
		t.Errorf("warned about a missing secret although it is set:\n%s", log.String())
	}
}

func TestWebhookUnsignedWarns(t *testing.T) {
	srv := newHookServer(t, http.StatusOK)
	var log bytes.Buffer
	if err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, srv.URL)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.got()
	if len(reqs) != 1 || reqs[0].header.Get("X-Txlake-Signature") != "" {
		t.Fatalf("%d requests; want 1 without a signature header", len(reqs))
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "TXLAKE_WEBHOOK_SECRET is not set") {
		t.Errorf("no warning about the unset secret:\n%s", log.String())
	}
}

func TestWebhookRetriesOn503ThenSucceeds(t *testing.T) {
	srv := newHookServer(t, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusOK)
	var log bytes.Buffer
	opts := fastOptions(&log, srv.URL)
	opts.Secret = []byte("k")
	if err := SendWebhooks(t.Context(), webhookReport(), opts); err != nil {
		t.Fatal(err)
	}
	reqs := srv.got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (503, 502, 200)", len(reqs))
	}
	for _, r := range reqs[1:] {
		// Retries resend the same delivery: same body, signature and id.
		if !bytes.Equal(r.body, reqs[0].body) || r.header.Get("X-Txlake-Signature") != reqs[0].header.Get("X-Txlake-Signature") ||
			r.header.Get("X-Txlake-Delivery") != reqs[0].header.Get("X-Txlake-Delivery") {
			t.Errorf("a retry differs from the first attempt")
		}
	}
	if strings.Count(log.String(), "retrying") != 2 {
		t.Errorf("want 2 retry warnings:\n%s", log.String())
	}
}

func TestWebhookRetriesOn429(t *testing.T) {
	srv := newHookServer(t, http.StatusTooManyRequests, http.StatusAccepted)
	var log bytes.Buffer
	if err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.got()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestWebhookNoRetryOn400(t *testing.T) {
	srv := newHookServer(t, http.StatusBadRequest, http.StatusOK)
	var log bytes.Buffer
	err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, srv.URL+"/secret-path"))
	if n := len(srv.got()); n != 1 {
		t.Fatalf("%d requests, want 1 (no retry on 400)", n)
	}
	var f *WebhookFailure
	if !errors.As(err, &f) || f.Temporary() || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("error %v: want a permanent *WebhookFailure", err)
	}
	if f.Failures[0].Status != 400 || f.Failures[0].Attempts != 1 {
		t.Errorf("failure %+v", f.Failures[0])
	}
	if !strings.Contains(err.Error(), "400 Bad Request: answer Bad Request") || strings.Contains(err.Error(), "secret-path") {
		t.Errorf("error %q: want the status and the answer, without the URL's path", err)
	}
}

func TestWebhookGivesUpAfterFourAttempts(t *testing.T) {
	srv := newHookServer(t, http.StatusInternalServerError)
	var log bytes.Buffer
	err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, srv.URL))
	if n := len(srv.got()); n != DefaultWebhookAttempts {
		t.Fatalf("%d requests, want %d", n, DefaultWebhookAttempts)
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("error %v: want a temporary failure (storage.ErrUnavailable, exit 75)", err)
	}
	if !strings.Contains(err.Error(), "after 4 attempt(s)") {
		t.Errorf("error %q", err)
	}
}

func TestWebhookNetworkErrorAndTimeoutAreRetried(t *testing.T) {
	// A closed server: connection refused on every attempt.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var log bytes.Buffer
	err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, closed.URL))
	var f *WebhookFailure
	if !errors.As(err, &f) || !f.Temporary() || f.Failures[0].Attempts != 4 || f.Failures[0].Status != 0 {
		t.Fatalf("error %v: want a temporary failure after 4 attempts", err)
	}

	// A server slower than the per-attempt timeout, then fast.
	var mu sync.Mutex
	calls := 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		io.Copy(io.Discard, r.Body) // then a closed connection cancels r.Context()
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	opts := fastOptions(&log, slow.URL)
	opts.Timeout = 100 * time.Millisecond
	if err := SendWebhooks(t.Context(), webhookReport(), opts); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d calls, want 2 (a timeout, then success)", calls)
	}
}

func TestWebhookMixedFailuresArePermanent(t *testing.T) {
	bad := newHookServer(t, http.StatusUnauthorized)
	down := newHookServer(t, http.StatusServiceUnavailable)
	ok := newHookServer(t, http.StatusOK)
	var log bytes.Buffer
	err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, bad.URL, down.URL, ok.URL))
	var f *WebhookFailure
	if !errors.As(err, &f) || len(f.Failures) != 2 || f.Total != 3 || f.Temporary() || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("error %v: want 2 of 3 failed, permanent", err)
	}
	if len(ok.got()) != 1 || len(bad.got()) != 1 || len(down.got()) != 4 {
		t.Errorf("requests: ok %d, 401 %d, 503 %d; want 1, 1, 4", len(ok.got()), len(bad.got()), len(down.got()))
	}
}

func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	target := newHookServer(t, http.StatusOK)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()
	var log bytes.Buffer
	err := SendWebhooks(t.Context(), webhookReport(), fastOptions(&log, redirect.URL))
	if err == nil || errors.Is(err, storage.ErrUnavailable) || len(target.got()) != 0 {
		t.Fatalf("error %v, %d requests at the target; want a permanent failure and none", err, len(target.got()))
	}
}

func TestWebhookCancelStopsRetries(t *testing.T) {
	srv := newHookServer(t, http.StatusServiceUnavailable)
	ctx, cancel := context.WithCancel(t.Context())
	var log bytes.Buffer
	opts := fastOptions(&log, srv.URL)
	opts.Backoff, opts.MaxDelay = time.Hour, time.Hour
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := SendWebhooks(ctx, webhookReport(), opts)
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Fatalf("error %v after %s: want context.Canceled promptly", err, time.Since(start))
	}
}

func TestWebhookValidateURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"https://hooks.example.test/drift?token=x", ""},
		{"http://127.0.0.1:8080/", ""},
		{"ftp://example.test/x", "want an http:// or https:// URL"},
		{"example.test/hook", "want an http:// or https:// URL"},
		{"", "want an http:// or https:// URL"},
		{"https://u5er:pa55w0rd@example.test/x", "must not hold user:password@"},
		{"https://t0ken@example.test/x", "must not hold user:password@"},
		{"https:///path", "has no host"},
		{"http://exa mple.test/", "not a URL"},
	} {
		_, err := ValidateWebhookURL(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: error %v, want %q", tt.url, err, tt.want)
		case err != nil && (strings.Contains(err.Error(), "pa55w0rd") || strings.Contains(err.Error(), "t0ken")):
			t.Errorf("%q: the error %q shows the credential", tt.url, err)
		}
	}
}
