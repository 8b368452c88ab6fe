package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

type driftExtrasJSON struct {
	SegmentBy *struct {
		Column       string `json:"column"`
		MinRows      int64  `json:"min_rows"`
		Values       int    `json:"values"`
		BelowSupport int    `json:"below_support"`
		Compared     int    `json:"compared"`
	} `json:"segment_by"`
	Segments []struct {
		Value           string  `json:"value"`
		ReferenceRows   int64   `json:"reference_rows"`
		CurrentRows     int64   `json:"current_rows"`
		ComparedColumns int     `json:"compared_columns"`
		DriftedColumns  int     `json:"drifted_columns"`
		DriftedShare    float64 `json:"drifted_share"`
		MaxScore        float64 `json:"max_score"`
		Columns         []struct {
			Name    string `json:"name"`
			Drifted bool   `json:"drifted"`
		} `json:"columns"`
	} `json:"segments"`
	Trend *struct {
		Days    int  `json:"days"`
		Flagged bool `json:"flagged"`
		Metrics []struct {
			Column  string   `json:"column"`
			Metric  string   `json:"metric"`
			Fitted  *float64 `json:"fitted"`
			Lower   *float64 `json:"lower"`
			Upper   *float64 `json:"upper"`
			Actual  *float64 `json:"actual"`
			Flagged bool     `json:"flagged"`
		} `json:"metrics"`
	} `json:"trend"`
}

func decodeExtras(t *testing.T, s string) driftExtrasJSON {
	t.Helper()
	var d driftExtrasJSON
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("not a drift report: %v\n%s", err, s)
	}
	return d
}

func TestDriftSegmentBy(t *testing.T) {
	_, lakeDir := driftLake(t)
	// Without the flags the report has neither section (the goldens cover
	// the rest).
	plain := cliMust(t, driftArgs(lakeDir, "--format", "json")...).stdout
	if strings.Contains(plain, `"segments"`) || strings.Contains(plain, `"segment_by"`) || strings.Contains(plain, `"trend"`) {
		t.Fatalf("segments or trend without the flags")
	}
	// ~500 rows a day: the reference has ~2000, the current ~500 rows.
	r := cliMust(t, driftArgs(lakeDir, "--format", "json", "--segment-by", "country", "--min-segment-rows", "40")...)
	d := decodeExtras(t, r.stdout)
	if d.SegmentBy == nil || d.SegmentBy.Column != "country" || d.SegmentBy.MinRows != 40 || d.SegmentBy.Compared == 0 ||
		d.SegmentBy.Compared != len(d.Segments) || d.SegmentBy.Compared+d.SegmentBy.BelowSupport != d.SegmentBy.Values {
		t.Fatalf("segment_by %+v with %d segments", d.SegmentBy, len(d.Segments))
	}
	seen := map[string]bool{}
	for i, s := range d.Segments {
		seen[s.Value] = true
		if s.ReferenceRows < 40 || s.CurrentRows < 40 {
			t.Errorf("segment %s: %d/%d rows, below --min-segment-rows", s.Value, s.ReferenceRows, s.CurrentRows)
		}
		for _, c := range s.Columns {
			if c.Name == "country" {
				t.Errorf("segment %s compares its own key", s.Value)
			}
		}
		if i > 0 {
			p := d.Segments[i-1]
			if p.DriftedShare < s.DriftedShare || p.DriftedShare == s.DriftedShare && p.MaxScore < s.MaxScore {
				t.Errorf("segments not ranked: %s (%v, %v) before %s (%v, %v)", p.Value, p.DriftedShare, p.MaxScore, s.Value, s.DriftedShare, s.MaxScore)
			}
		}
		// amounts ×2.5 and a new currency everywhere: every segment moved.
		if s.DriftedColumns == 0 {
			t.Errorf("segment %s: nothing drifted: %+v", s.Value, s)
		}
	}
	// 40% of the current rows moved to Brazil: it has the support.
	if !seen["BR"] {
		t.Errorf("no BR segment among %v", seen)
	}
	text := cliMust(t, driftArgs(lakeDir, "--segment-by", "country", "--min-segment-rows", "40")...).stdout
	md := cliMust(t, driftArgs(lakeDir, "--segment-by", "country", "--min-segment-rows", "40", "--format", "markdown")...).stdout
	if !strings.Contains(text, "Segments by country:") || !strings.Contains(text, "BR") || !strings.Contains(md, "## Segments") {
		t.Fatalf("text:\n%s\nmarkdown:\n%s", text, md)
	}
	// The default support (1000 rows a side) leaves no segment of ~500 current rows.
	d = decodeExtras(t, cliMust(t, driftArgs(lakeDir, "--format", "json", "--segment-by", "country")...).stdout)
	if d.SegmentBy == nil || d.SegmentBy.MinRows != 1000 || d.SegmentBy.Compared != 0 || len(d.Segments) != 0 {
		t.Fatalf("default support: %+v %d segments", d.SegmentBy, len(d.Segments))
	}
	for _, tt := range []struct{ name, col, want string }{
		{"pii", "email", "--segment-by email: the column is PII"},
		{"numeric", "amount", "cannot be a segment key"},
		{"unknown", "cuntry", "--segment-by cuntry: no such column"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cliRun(t, driftArgs(lakeDir, "--segment-by", tt.col)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestDriftTrendDays(t *testing.T) {
	tmp := t.TempDir()
	logs, lakeDir := filepath.Join(tmp, "logs"), filepath.Join(tmp, "lake")
	// 21 days of 2000 rows; on the last day amounts quadruple and half the
	// emails are null.
	cliMust(t, "gen", "--out", logs, "--days", "21", "--rows-per-day", "2000", "--seed", "5", "--start", "2026-01-01",
		"--drift", "from=2026-01-21,amount_scale=4,null_rate=email:0.5")
	cliMust(t, "ingest", "--schema", cliSchema, "--lake", lakeDir, "--source", filepath.Join(logs, "*"))
	args := func(extra ...string) []string {
		return append([]string{"drift", "--lake", lakeDir, "--table", "transactions",
			"--reference", "2026-01-01..2026-01-07", "--current", "2026-01-21"}, extra...)
	}
	d := decodeExtras(t, cliMust(t, args("--trend-days", "20", "--format", "json")...).stdout)
	if d.Trend == nil || d.Trend.Days != 20 || !d.Trend.Flagged {
		t.Fatalf("trend %+v", d.Trend)
	}
	flagged := map[string]bool{}
	for _, m := range d.Trend.Metrics {
		if m.Fitted == nil || m.Lower == nil || m.Upper == nil || m.Actual == nil {
			t.Errorf("%s %s not fitted: %+v", m.Column, m.Metric, m)
			continue
		}
		flagged[m.Column+" "+m.Metric] = m.Flagged
	}
	for _, k := range []string{"amount mean", "email null_rate"} {
		if !flagged[k] {
			t.Errorf("%s: not flagged (%v)", k, flagged)
		}
	}
	for _, k := range []string{"status null_rate", "currency null_rate"} {
		if v, ok := flagged[k]; !ok || v {
			t.Errorf("%s: flagged %v (present %v), want present and not flagged", k, v, ok)
		}
	}
	// A day before the drift is not flagged for amount or email.
	d = decodeExtras(t, cliMust(t, "drift", "--lake", lakeDir, "--table", "transactions", "--reference", "2026-01-01..2026-01-07",
		"--current", "2026-01-20", "--trend-days", "19", "--format", "json").stdout)
	for _, m := range d.Trend.Metrics {
		if (m.Column == "amount" && m.Metric == "mean") || (m.Column == "email" && m.Metric == "null_rate") {
			if m.Flagged {
				t.Errorf("2026-01-20: %s %s flagged: %+v", m.Column, m.Metric, m)
			}
		}
	}
	text := cliMust(t, args("--trend-days", "20")...).stdout
	md := cliMust(t, args("--trend-days", "20", "--format", "markdown")...).stdout
	if !strings.Contains(text, "Trend: 2026-01-02..2026-01-21 (20 days)") || !strings.Contains(text, "OUTSIDE") || !strings.Contains(md, "## Trend") {
		t.Fatalf("text:\n%s\nmarkdown:\n%s", text, md)
	}
	r := cliRun(t, args("--trend-days", "13")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--trend-days 13: want at least 14") {
		t.Fatalf("--trend-days 13: exit %d, stderr %q", r.code, r.stderr)
	}
}
