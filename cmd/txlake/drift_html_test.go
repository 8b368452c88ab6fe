//go:build unix

package main

// The HTML drift report rendered by a real browser: Debian's chromium in
// headless mode takes a screenshot of the report while recording a net log,
// and the test checks that the page is drawn, that every compared column has
// a chart, and that the page made no network request.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// chromiumWindow is the viewport of the screenshot: tall enough for the
// summary tables and the first column charts.
const chromiumWindowW, chromiumWindowH = 1280, 4000

func TestDriftHTMLRendersInChromium(t *testing.T) {
	bin := chromiumBinary(t)
	tmp, lakeDir := driftLake(t)
	htmlPath := filepath.Join(tmp, "drift.html")
	cliMust(t, driftArgs(lakeDir, "--format", "html", "--out", htmlPath)...)
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		ComparedColumns int `json:"compared_columns"`
		Columns         []struct {
			Name string `json:"name"`
		} `json:"columns"`
	}
	if err := json.Unmarshal([]byte(cliMust(t, driftArgs(lakeDir, "--format", "json")...).stdout), &rep); err != nil {
		t.Fatal(err)
	}

	// Every compared column has its section with exactly one chart, and
	// there are no other sections.
	if rep.ComparedColumns == 0 || len(rep.Columns) != rep.ComparedColumns {
		t.Fatalf("the JSON report compares %d columns and lists %d", rep.ComparedColumns, len(rep.Columns))
	}
	sections := htmlColumnCharts(string(page))
	for _, c := range rep.Columns {
		n, ok := sections[c.Name]
		switch {
		case !ok:
			t.Errorf("column %s: no section in the HTML", c.Name)
		case n != 1:
			t.Errorf("column %s: %d <svg> charts in its section, want 1", c.Name, n)
		}
		delete(sections, c.Name)
	}
	if len(sections) > 0 {
		t.Errorf("HTML sections for columns the JSON report does not compare: %v", sections)
	}

	// Render it.
	work := t.TempDir()
	shot, netLog := filepath.Join(work, "report.png"), filepath.Join(work, "net.json")
	runChromium(t, bin, work, shot, netLog, htmlPath)
	checkScreenshot(t, shot)
	reqs := chromiumPageRequests(t, netLog)
	if len(reqs) > 0 {
		t.Errorf("the report made %d network request(s): %s", len(reqs), strings.Join(reqs, ", "))
	}

	// The net log check is only worth something if it sees a page's
	// requests: a canary page fetching from a local server must be caught.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/css")
	}))
	defer srv.Close()
	canary := filepath.Join(work, "canary.html")
	canaryURL := srv.URL + "/canary.css"
	if err := os.WriteFile(canary, []byte(`<!DOCTYPE html><html><head><link rel="stylesheet" href="`+canaryURL+`"></head>`+
		`<body><p>canary</p><img src="`+srv.URL+`/canary.png"></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	canaryWork := filepath.Join(work, "canary")
	if err := os.Mkdir(canaryWork, 0o755); err != nil {
		t.Fatal(err)
	}
	canaryLog := filepath.Join(canaryWork, "net.json")
	runChromium(t, bin, canaryWork, filepath.Join(canaryWork, "canary.png"), canaryLog, canary)
	got := chromiumPageRequests(t, canaryLog)
	if hits.Load() == 0 || !strings.Contains(strings.Join(got, " "), canaryURL) {
		t.Fatalf("net log check is blind: the canary server saw %d request(s), the net log shows page requests %v", hits.Load(), got)
	}
}

// chromiumBinary finds Debian's chromium, or skips the test (fails it under
// TXLAKE_REQUIRE_SERVICES=1).
func chromiumBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium not found on PATH (apt-get install chromium): " + err.Error()
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// runChromium screenshots file in headless chromium with a fresh profile
// under work, recording the net log.
func runChromium(t *testing.T, bin, work, shot, netLog, file string) {
	t.Helper()
	home := filepath.Join(work, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(work, "profile"),
		"--screenshot=" + shot,
		fmt.Sprintf("--window-size=%d,%d", chromiumWindowW, chromiumWindowH),
		"--log-net-log=" + netLog,
		"file://" + file,
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	// chromium as root needs --no-sandbox; keep its profile, caches and
	// ~/.pki out of the real home.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its helper processes share the process group: a timeout ends them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		t.Fatalf("chromium %s: %v after %s\n%s", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), tail(out.String(), 4000))
	}
	t.Logf("chromium rendered %s in %s", filepath.Base(file), time.Since(start).Round(time.Millisecond))
}

// checkScreenshot decodes the PNG and checks that it is the window's size
// and shows a page with the charts' colours, not a blank or single colour.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != chromiumWindowW || b.Dy() != chromiumWindowH {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), chromiumWindowW, chromiumWindowH)
	}
	colours := map[[3]uint8]int{}
	bg := rgb(img, b.Min.X, b.Min.Y)
	notBg := 0
	// The charts' bars: reference #1f77b4 and current #ff7f0e at 50% opacity
	// over white.
	refBar, curBar := [3]uint8{143, 187, 218}, [3]uint8{255, 191, 135}
	var sawRef, sawCur bool
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgb(img, x, y)
			colours[c]++
			if c != bg {
				notBg++
			}
			sawRef = sawRef || near(c, refBar, 12)
			sawCur = sawCur || near(c, curBar, 12)
		}
	}
	share := float64(notBg) / float64(b.Dx()*b.Dy())
	t.Logf("screenshot %dx%d: %d colours, %.1f%% not background %v", b.Dx(), b.Dy(), len(colours), 100*share, bg)
	if len(colours) < 16 || share < 0.005 {
		t.Errorf("the screenshot looks blank: %d colours, %.2f%% of pixels differ from the background", len(colours), 100*share)
	}
	if !sawRef || !sawCur {
		t.Errorf("the screenshot shows no chart bars (reference colour seen %v, current %v)", sawRef, sawCur)
	}
}

func rgb(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

func near(a, b [3]uint8, tol int) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

var reColumnSection = regexp.MustCompile(`<section class="col" id="col-([^"]*)">`)

// htmlColumnCharts counts the <svg> elements of each column's section.
func htmlColumnCharts(page string) map[string]int {
	out := map[string]int{}
	locs := reColumnSection.FindAllStringSubmatchIndex(page, -1)
	for i, loc := range locs {
		end := len(page)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := page[loc[1]:end]
		if j := strings.Index(body, "</section>"); j >= 0 {
			body = body[:j]
		}
		out[page[loc[2]:loc[3]]] = strings.Count(body, "<svg")
	}
	return out
}

// chromiumPageRequests returns the URLs of the network requests made on
// behalf of a page, from a chromium net log (--log-net-log). Requests to
// file:, data:, about:, blob: and chrome internals are not network
// requests. The browser's own background requests (network time, updates,
// accounts, despite --disable-background-networking) are told apart from the
// page's: they have no initiator ("not an origin") and no file:// network
// isolation key, while a file:// page's requests have the opaque initiator
// "null" and the key "file://". Those are logged, not failed.
func chromiumPageRequests(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no net log: %v", err)
	}
	var log struct {
		Constants struct {
			EventTypes  map[string]int `json:"logEventTypes"`
			SourceTypes map[string]int `json:"logSourceType"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Source struct {
				ID   int `json:"id"`
				Type int `json:"type"`
			} `json:"source"`
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("net log %s: %v", path, err)
	}
	urlRequest, ok := log.Constants.SourceTypes["URL_REQUEST"]
	if !ok || len(log.Events) == 0 {
		t.Fatalf("net log %s: no URL_REQUEST source type or no events (%d)", path, len(log.Events))
	}
	// A request's events carry its parameters piecemeal: gather them.
	type request struct{ url, initiator, nik, site string }
	byID := map[int]*request{}
	var order []int
	for _, e := range log.Events {
		if e.Source.Type != urlRequest {
			continue
		}
		r := byID[e.Source.ID]
		if r == nil {
			r = &request{}
			byID[e.Source.ID] = r
			order = append(order, e.Source.ID)
		}
		for key, dst := range map[string]*string{"url": &r.url, "initiator": &r.initiator, "network_isolation_key": &r.nik, "site_for_cookies": &r.site} {
			if v, ok := e.Params[key].(string); ok && *dst == "" {
				*dst = v
			}
		}
	}
	var page, background []string
	for _, id := range order {
		r := byID[id]
		if r.url == "" {
			continue
		}
		scheme, _, _ := strings.Cut(strings.ToLower(r.url), ":")
		switch scheme {
		case "file", "data", "about", "blob", "chrome", "chrome-extension", "chrome-untrusted", "devtools":
			continue
		}
		if r.initiator == "not an origin" && !strings.Contains(r.nik, "file:") && !strings.Contains(r.site, "file:") {
			if u, err := url.Parse(r.url); err == nil {
				background = append(background, u.Scheme+"://"+u.Host)
			}
			continue
		}
		page = append(page, r.url)
	}
	if len(background) > 0 {
		t.Logf("chromium's own background requests (not the page's): %s", strings.Join(background, " "))
	}
	return page
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
