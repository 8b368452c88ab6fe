package drift

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/jobs/ingest"
	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/local"
)

// The benchmark lake: 10 reference days of ~1M rows (2025-12-10..2025-12-19,
// ~10M rows) and one current day of ~1M rows (2026-01-02, drifted).
const (
	benchRowsPerDay = 1_000_000
	benchRefDays    = 10
	benchRefFrom    = "2025-12-10"
	benchRefTo      = "2025-12-19"
	benchCurrent    = "2026-01-02"
	benchTemplate   = "2026-01-01"
	benchDrift      = "from=2026-01-02,amount_scale=1.5,country=BR:0.3,new_currency=CHF,null_rate=email:0.2"
)

// BenchmarkDriftReport times one whole drift report (every column of
// schemas/transactions.yaml) of ~1M current rows against ~10M reference rows,
// and reports the process's peak RSS (Go and DuckDB together, from
// /proc/self/status VmHWM, reset before the report) and the Go heap's peak.
//
// The lake is built once, outside the timing: `gen` writes two days of 1M
// rows (the second with a drift) and the real ingest loads them; the
// reference days are then copies of the first ingested day made by DuckDB
// (COPY ... TO parquet, with amounts scaled by ±0.5% per copy so the numeric
// column keeps ~10× the distinct values of one day, and their own
// manifests), because ingesting 11M rows takes ~90 s on 2 cores.
// $TXLAKE_BENCH_LAKE names a directory to keep (and reuse) the lake in.
//
//	go test ./jobs/drift -run '^$' -bench DriftReport -benchtime 1x
func BenchmarkDriftReport(b *testing.B) {
	if testing.Short() {
		b.Skip("builds an 11M-row lake")
	}
	dir := benchLake(b)
	st, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	ref, cur := Range{benchRefFrom, benchRefTo}, Range{benchCurrent, benchCurrent}
	for _, extra := range []struct {
		name string
		opt  func(*Options)
	}{
		{"plain", func(*Options) {}},
		// Each segment is a full comparison of the columns over its rows.
		{"segment-by=country", func(o *Options) { o.SegmentBy = "country" }},
		// 14 days ending on the current day: one more GROUP BY dt scan.
		{"trend-days=14", func(o *Options) { o.TrendDays = 14 }},
	} {
		b.Run(extra.name, func(b *testing.B) {
			var wall time.Duration
			var peakRSS, heapPeak uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				resetPeakRSS()
				stop := sampleHeap(&heapPeak)
				start := time.Now()
				o := Options{Store: st, Table: "transactions", Reference: ref, Current: cur,
					Resolver: query.ResolverFor(st, nil, nil), AsOf: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
				extra.opt(&o)
				rep, err := Run(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start)
				stop()
				peakRSS = max(peakRSS, peakRSSBytes())
				if i == 0 {
					b.Logf("reference %d rows, current %d rows, %d columns compared, %d drifted, %d skipped, %d segments",
						rep.Reference.Rows, rep.Current.Rows, rep.ComparedColumns, rep.DriftedColumns, len(rep.SkippedColumns), len(rep.Segments))
				}
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "s/report")
			b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(heapPeak)/(1<<20), "peak-Go-heap-MiB")
		})
	}
}

// benchLake builds (or reuses, under $TXLAKE_BENCH_LAKE) the benchmark lake
// and returns its directory.
func benchLake(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("TXLAKE_BENCH_LAKE")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "lake")
	}
	ctx := context.Background()
	st, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	if m, err := lake.ReadManifest(ctx, st, "transactions", benchRefTo); err == nil && m != nil {
		if m, err := lake.ReadManifest(ctx, st, "transactions", benchCurrent); err == nil && m != nil {
			b.Logf("reusing the benchmark lake %s", dir)
			return dir
		}
	}
	start := time.Now()
	logs := b.TempDir()
	d, err := gen.ParseDrift(benchDrift)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.Generate(ctx, gen.Options{OutDir: logs, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 2,
		RowsPerDay: benchRowsPerDay, Seed: 9, FaultRate: 0.01, Drift: &d}); err != nil {
		b.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	s, err := schemas.Load(filepath.Join(filepath.Dir(file), "..", "..", "schemas", "transactions.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ingest.Run(ctx, ingest.Options{Schema: s, Sources: []string{filepath.Join(logs, "*")}, Store: st,
		LakeURL: st.URL(""), MaxQuarantineRatio: -1}); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(logs)
	tmpl, err := lake.ReadManifest(ctx, st, "transactions", benchTemplate)
	if err != nil || tmpl == nil {
		b.Fatalf("template partition: %v", err)
	}
	var srcs []string
	for _, f := range tmpl.Files {
		srcs = append(srcs, query.Literal(st.LocalPath(tmpl.Key(f))))
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		b.Fatal(err)
	}
	from, _ := time.Parse(dateLayout, benchRefFrom)
	tday, _ := time.Parse(dateLayout, benchTemplate)
	for i := 0; i < benchRefDays; i++ {
		day := from.AddDate(0, 0, i)
		dt := day.Format(dateLayout)
		shift := int(tday.Sub(day).Hours() / 24)
		name := "part-bench-0.parquet"
		m := &lake.Manifest{Version: lake.ManifestVersion, Table: "transactions", Date: dt, Generation: 1, RunID: "bench",
			Committed: time.Now().UTC(), SchemaFingerprint: tmpl.SchemaFingerprint}
		path := st.LocalPath(lake.PartitionDir("transactions", dt) + name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		scale := 1 + float64(i-benchRefDays/2)*0.001
		q := fmt.Sprintf(`COPY (SELECT * REPLACE (
    'tx_' || printf('%%02x', %d) || substr(transaction_id, 6) AS transaction_id,
    CAST(amount * %s AS DECIMAL(18,2)) AS amount,
    created_at - INTERVAL %d DAY AS created_at)
  FROM read_parquet([%s], hive_partitioning = false)) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
			i, strconv.FormatFloat(scale, 'f', 4, 64), shift, strings.Join(srcs, ", "), query.Literal(path))
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
		var rows int64
		if err := db.QueryRow("SELECT count(*) FROM read_parquet(" + query.Literal(path) + ")").Scan(&rows); err != nil {
			b.Fatal(err)
		}
		size, sum := fileSHA256(b, path)
		m.Files = []lake.File{{Name: name, Bytes: size, Rows: rows, SHA256: sum, Contribution: "bench", SchemaFingerprint: tmpl.SchemaFingerprint}}
		m.Normalize()
		if err := lake.WriteManifest(ctx, st, m); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built the benchmark lake %s in %s", dir, time.Since(start).Round(time.Second))
	return dir
}

func fileSHA256(b *testing.B, path string) (int64, string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		b.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

// resetPeakRSS resets the kernel's peak-RSS mark of this process (Linux
// ≥ 4.0); peakRSSBytes then reads the peak since.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSSBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampleHeap records the largest runtime.MemStats.HeapInuse seen every 20 ms
// into *peak until the returned stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
