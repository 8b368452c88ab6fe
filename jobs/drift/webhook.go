package drift

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/txlake/txlake/storage"
)

// Webhook headers. The signature is "sha256=" and the lowercase hex
// HMAC-SHA256 of the exact request body, keyed with the secret.
const (
	WebhookSignatureHeader = "X-Txlake-Signature"
	WebhookEventHeader     = "X-Txlake-Event"
	WebhookDeliveryHeader  = "X-Txlake-Delivery"
	WebhookEvent           = "drift"
	// WebhookSecretEnv names the environment variable holding the key.
	WebhookSecretEnv = "TXLAKE_WEBHOOK_SECRET"
)

// Webhook delivery defaults: 4 attempts of at most 10 s each, with
// exponential backoff from 1 s (capped at 30 s) and jitter between them.
const (
	DefaultWebhookAttempts = 4
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookBackoff  = time.Second
	DefaultWebhookMaxDelay = 30 * time.Second
)

// WebhookOptions configures SendWebhooks. Zero values take the defaults.
type WebhookOptions struct {
	URLs []string
	// Event is the X-Txlake-Event header (default WebhookEvent, "drift").
	Event string
	// Secret keys the signature; empty sends the webhooks unsigned (with a
	// warning in the log).
	Secret []byte
	// Attempts per URL (default 4), Timeout per attempt (10 s), Backoff is
	// the delay before the second attempt (1 s), doubling up to MaxDelay
	// (30 s); each delay is drawn uniformly from [d/2, d].
	Attempts int
	Timeout  time.Duration
	Backoff  time.Duration
	MaxDelay time.Duration
	// Client sends the requests (default: a client that does not follow
	// redirects).
	Client *http.Client
	Logger *slog.Logger
	// UserAgent is sent as User-Agent (default "txlake").
	UserAgent string
}

// ValidateWebhookURL checks a --webhook value: an absolute http or https URL
// with a host and without user:password@.
func ValidateWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, which may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("--webhook: not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("--webhook %s: want an http:// or https:// URL", redactURL(u))
	case u.User != nil:
		return nil, fmt.Errorf("--webhook %s: the URL must not hold user:password@; receivers authenticate the signature (%s)", redactURL(u), WebhookSecretEnv)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("--webhook %s: the URL has no host", redactURL(u))
	}
	return u, nil
}

// redactURL is how a webhook URL appears in logs and errors: scheme and host
// only, since paths and queries of webhook URLs often are the credential.
func redactURL(u *url.URL) string {
	if u.Host == "" {
		return u.Scheme + ":…"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// WebhookError is the final failure of one webhook after its attempts.
type WebhookError struct {
	URL      string // redacted: scheme://host/…, prefixed by #N with several
	Attempts int
	// Status is the last HTTP status, 0 when the last attempt got no
	// response (network error, timeout).
	Status int
	Err    error
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("webhook %s failed after %d attempt(s): %v", e.URL, e.Attempts, e.Err)
}

func (e *WebhookError) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed: network errors,
// timeouts, 429 and 5xx are temporary; other statuses (4xx, 3xx) are not.
func (e *WebhookError) Temporary() bool {
	if errors.Is(e.Err, context.Canceled) {
		return false
	}
	return retryableStatus(e.Status) || e.Status == 0
}

// WebhookFailure is what SendWebhooks returns when some webhook failed. It
// matches storage.ErrUnavailable (exit 75, retry later) when every failure
// is temporary; a single permanent failure (a 4xx) makes it permanent.
type WebhookFailure struct {
	Total    int
	Failures []*WebhookError
}

func (f *WebhookFailure) Error() string {
	msgs := make([]string, len(f.Failures))
	for i, e := range f.Failures {
		msgs[i] = e.Error()
	}
	return fmt.Sprintf("%d of %d webhook(s) failed: %s", len(f.Failures), f.Total, strings.Join(msgs, "; "))
}

// Temporary reports whether every failure is temporary.
func (f *WebhookFailure) Temporary() bool {
	for _, e := range f.Failures {
		if !e.Temporary() {
			return false
		}
	}
	return len(f.Failures) > 0
}

// Is makes a temporary failure match storage.ErrUnavailable ("worth
// retrying later"), and lets errors.Is see context cancellation.
func (f *WebhookFailure) Is(target error) bool {
	if target == storage.ErrUnavailable {
		return f.Temporary()
	}
	for _, e := range f.Failures {
		if errors.Is(e.Err, target) {
			return true
		}
	}
	return false
}

// SendWebhooks POSTs the report as version-1 JSON (the bytes --format json
// writes) to every URL concurrently, signed when opts.Secret is set, and
// returns a *WebhookFailure when any URL finally failed.
func SendWebhooks(ctx context.Context, rep *Report, opts WebhookOptions) error {
	if len(opts.URLs) == 0 {
		return nil
	}
	body, err := rep.MarshalIndentJSON()
	if err != nil {
		return fmt.Errorf("webhook: encode the report: %w", err)
	}
	return sendWebhookBody(ctx, body, opts)
}

// SendWebhookJSON POSTs body, a JSON document, like SendWebhooks: signed,
// retried, to every URL; opts.Event names it (e.g. "run_failed").
func SendWebhookJSON(ctx context.Context, body []byte, opts WebhookOptions) error {
	if len(opts.URLs) == 0 {
		return nil
	}
	return sendWebhookBody(ctx, body, opts)
}

func sendWebhookBody(ctx context.Context, body []byte, opts WebhookOptions) error {
	opts = opts.withDefaults()
	if len(opts.Secret) == 0 {
		opts.Logger.Warn("webhook: " + WebhookSecretEnv + " is not set; sending unsigned webhooks (no " + WebhookSignatureHeader + " header)")
	}
	urls := make([]*url.URL, len(opts.URLs))
	for i, raw := range opts.URLs {
		u, err := ValidateWebhookURL(raw)
		if err != nil {
			return err
		}
		urls[i] = u
	}
	sig := ""
	if len(opts.Secret) > 0 {
		sig = WebhookSignature(opts.Secret, body)
	}
	errs := make([]*WebhookError, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		name := redactURL(u)
		if len(urls) > 1 {
			name = fmt.Sprintf("#%d %s", i+1, name) // --webhook's position: paths are redacted
		}
		wg.Go(func() { errs[i] = deliver(ctx, u, name, body, sig, opts) })
	}
	wg.Wait()
	f := &WebhookFailure{Total: len(urls)}
	for _, e := range errs {
		if e != nil {
			f.Failures = append(f.Failures, e)
		}
	}
	if len(f.Failures) == 0 {
		return nil
	}
	return f
}

// WebhookSignature is the X-Txlake-Signature value for body.
func WebhookSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Attempts <= 0 {
		o.Attempts = DefaultWebhookAttempts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultWebhookBackoff
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultWebhookMaxDelay
	}
	if o.Client == nil {
		o.Client = &http.Client{
			// A redirected POST would turn into a GET: report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "txlake"
	}
	if o.Event == "" {
		o.Event = WebhookEvent
	}
	return o
}

// deliver sends body to u with retries; nil on a 2xx response.
func deliver(ctx context.Context, u *url.URL, name string, body []byte, sig string, o WebhookOptions) *WebhookError {
	delivery := newDeliveryID()
	delay := o.Backoff
	var last *WebhookError
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		status, retryAfter, err := post(ctx, u, body, sig, delivery, o)
		if err == nil {
			o.Logger.Info("webhook delivered", "webhook", name, "status", status, "attempt", attempt, "delivery", delivery)
			return nil
		}
		last = &WebhookError{URL: name, Attempts: attempt, Status: status, Err: err}
		if ctx.Err() != nil {
			last.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			return last
		}
		if !last.Temporary() || attempt == o.Attempts {
			break
		}
		wait := jitter(delay)
		if retryAfter > wait {
			wait = min(retryAfter, o.MaxDelay)
		}
		o.Logger.Warn("webhook attempt failed; retrying", "webhook", name, "attempt", attempt, "of", o.Attempts,
			"status", status, "error", err.Error(), "retry_in", wait.Round(time.Millisecond).String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			last.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			return last
		case <-t.C:
		}
		delay = min(2*delay, o.MaxDelay)
	}
	return last
}

// post makes one attempt. It returns the status (0 without a response),
// the Retry-After delay of a 429 or 503, and an error unless the status is
// 2xx.
func post(ctx context.Context, u *url.URL, body []byte, sig, delivery string, o WebhookOptions) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, 0, stripURL(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", o.UserAgent)
	req.Header.Set(WebhookEventHeader, o.Event)
	req.Header.Set(WebhookDeliveryHeader, delivery)
	if sig != "" {
		req.Header.Set(WebhookSignatureHeader, sig)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return 0, 0, fmt.Errorf("no response within %s", o.Timeout)
		}
		return 0, 0, stripURL(err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	msg := "HTTP " + resp.Status
	if s := oneLine(snippet, 200); s != "" {
		msg += ": " + s
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed; use the final URL)"
	}
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return resp.StatusCode, retryAfter, errors.New(msg)
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500 && code <= 599
}

// stripURL drops the URL from a *url.Error: webhook URLs may hold a token.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// jitter draws a delay uniformly from [d/2, d].
func jitter(d time.Duration) time.Duration {
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	n, err := rand.Int(rand.Reader, big.NewInt(half+1))
	if err != nil {
		return d
	}
	return time.Duration(half + n.Int64())
}

func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// oneLine returns up to n printable bytes of b on one line.
func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
