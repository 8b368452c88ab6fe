package main

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/txlake/txlake/jobs/ingest"
)

// metric is one Prometheus metric family with its samples.
type metric struct {
	name, help, typ string
	samples         []sample
}

// sample is one labelled value; labels are name/value pairs in order.
type sample struct {
	labels [][2]string
	value  float64
}

// formatMetrics renders families in the Prometheus text exposition format
// (version 0.0.4), in the given order, for node_exporter's textfile
// collector.
func formatMetrics(families []metric) []byte {
	var b bytes.Buffer
	for _, m := range families {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, m.typ)
		for _, s := range m.samples {
			b.WriteString(m.name)
			if len(s.labels) > 0 {
				b.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", l[0], escapeLabel(l[1]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(s.value))
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// runMetrics are the metrics of one `txlake run` (also one backfill, whose
// counts are its dates' sums).
type runMetrics struct {
	command, job, kind string
	exitCode           int
	finished           float64 // Unix seconds
	duration           float64 // seconds
	rowsRead           int64
	rowsWritten        int64
	rowsQuarantined    int64
	rowsDuplicate      int64
	bytesRead          int64
	// dates counts a backfill's dates by outcome (nil for run).
	dates map[string]int
}

func (r runMetrics) families() []metric {
	l := [][2]string{{"job", r.job}, {"kind", r.kind}, {"command", r.command}}
	one := func(v float64) []sample { return []sample{{labels: l, value: v}} }
	success := 0.0
	if r.exitCode == 0 {
		success = 1
	}
	fams := []metric{
		{"txlake_job_success", "1 when the job's last run succeeded, else 0.", "gauge", one(success)},
		{"txlake_job_exit_code", "Exit code of the job's last run.", "gauge", one(float64(r.exitCode))},
		{"txlake_job_last_run_timestamp_seconds", "When the job's last run finished, in Unix seconds.", "gauge", one(r.finished)},
		{"txlake_job_duration_seconds", "Wall time of the job's last run.", "gauge", one(r.duration)},
		{"txlake_job_rows_read", "Rows read by the job's last run.", "gauge", one(float64(r.rowsRead))},
		{"txlake_job_rows_written", "Rows written by the job's last run.", "gauge", one(float64(r.rowsWritten))},
		{"txlake_job_rows_quarantined", "Rows quarantined by the job's last run.", "gauge", one(float64(r.rowsQuarantined))},
		{"txlake_job_rows_duplicate", "Duplicate rows dropped by the job's last run.", "gauge", one(float64(r.rowsDuplicate))},
		{"txlake_job_bytes_read", "Decompressed bytes read by the job's last run.", "gauge", one(float64(r.bytesRead))},
	}
	if r.dates != nil {
		m := metric{"txlake_backfill_dates", "Dates of the job's last backfill by outcome.", "gauge", nil}
		for _, o := range []string{"committed", "skipped", "failed", "interrupted", "not_run"} {
			m.samples = append(m.samples, sample{labels: append(append([][2]string(nil), l...), [2]string{"outcome", o}), value: float64(r.dates[o])})
		}
		fams = append(fams, m)
	}
	return fams
}

// writeMetricsFile writes the metrics atomically (temporary file, rename),
// so the textfile collector never reads half a file.
func writeMetricsFile(path string, r runMetrics) error {
	if path == "" {
		return nil
	}
	return writeFileAtomic(path, formatMetrics(r.families()))
}

// writeIngestMetrics writes the metrics of an ad-hoc ingest (job "ingest").
func writeIngestMetrics(path string, res *ingest.Result, err error, started time.Time) error {
	var r jobRun
	if res != nil {
		r = jobRun{RowsRead: res.RowsRead, RowsWritten: res.RowsWritten, RowsQuarantined: res.RowsQuarantined,
			RowsDuplicate: res.RowsDuplicate, BytesRead: res.BytesRead}
	}
	m := newRunMetrics("ingest", "ingest", "ingest", &r, exitCode(err), started)
	return writeMetricsFile(path, m)
}

// newRunMetrics turns one run's outcome into its metrics.
func newRunMetrics(command, job, kind string, r *jobRun, code int, started time.Time) runMetrics {
	now := time.Now()
	return runMetrics{command: command, job: job, kind: kind, exitCode: code,
		finished: float64(now.UnixMilli()) / 1000, duration: now.Sub(started).Seconds(),
		rowsRead: r.RowsRead, rowsWritten: r.RowsWritten, rowsQuarantined: r.RowsQuarantined,
		rowsDuplicate: r.RowsDuplicate, bytesRead: r.BytesRead}
}
