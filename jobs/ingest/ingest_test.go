package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/local"
	"github.com/txlake/txlake/storage/mem"
)

const table = "transactions"

var genStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func loadSchema(t testing.TB) *schemas.Schema {
	t.Helper()
	s, err := schemas.Load(filepath.Join("..", "..", "schemas", "transactions.yaml"))
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	return s
}

func newLocalLake(t *testing.T) (*local.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// filesUnder lists the regular files under dir (relative, slash-separated)
// that keep accepts.
func filesUnder(t *testing.T, dir string, keep func(rel string) bool) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if keep == nil || keep(rel) {
				out = append(out, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func generate(t *testing.T, o gen.Options) (gen.Summary, string) {
	t.Helper()
	if o.OutDir == "" {
		o.OutDir = t.TempDir()
	}
	if o.Start.IsZero() {
		o.Start = genStart
	}
	if o.Days == 0 {
		o.Days = 3
	}
	if o.RowsPerDay == 0 {
		o.RowsPerDay = 3000
	}
	sum, err := gen.Generate(t.Context(), o)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return sum, o.OutDir
}

func faultyInput(t *testing.T) (gen.Summary, string) {
	return generate(t, gen.Options{Seed: 1, Format: "jsonl", FaultRate: 0.05})
}

func run(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	checkReconciled(t, res)
	return res
}

func checkReconciled(t *testing.T, res *Result) {
	t.Helper()
	if !res.Reconciled || res.RowsRead != res.RowsWritten+res.RowsQuarantined+res.RowsDuplicate {
		t.Fatalf("not reconciled: read %d, written %d, quarantined %d, duplicate %d (reconciled=%v)",
			res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate, res.Reconciled)
	}
}

// lakeState is what the manifests of a table say, read back from the files
// they list.
type lakeState struct {
	rows         []string // "dt|col=value|..." sorted
	manifestRows int64
	listed       map[string]bool // keys of listed data files
	partitions   map[string]*lake.Manifest
}

func (s *lakeState) hash() string {
	h := sha256.New()
	for _, r := range s.rows {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readLake reads every row of every file the table's manifests list. It
// checks that the file row counts match the manifest, that no key appears
// twice in a partition, and that every row's event time lies in its
// partition's date.
func readLake(t *testing.T, st storage.Store, s *schemas.Schema) *lakeState {
	t.Helper()
	ctx := t.Context()
	dates, err := lake.ListPartitions(ctx, st, s.Table)
	if err != nil {
		t.Fatal(err)
	}
	ls := &lakeState{listed: map[string]bool{}, partitions: map[string]*lake.Manifest{}}
	for _, dt := range dates {
		m, err := lake.ReadManifest(ctx, st, s.Table, dt)
		if err != nil {
			t.Fatal(err)
		}
		ls.partitions[dt] = m
		seen := map[string]bool{}
		var sum int64
		for _, f := range m.Files {
			ls.manifestRows += f.Rows
			sum += f.Rows
			key := m.Key(f)
			ls.listed[key] = true
			n := readDataFile(t, st, key, dt, s, func(row string, id string) {
				ls.rows = append(ls.rows, row)
				if seen[id] {
					t.Errorf("partition %s: key %s appears twice", dt, id)
				}
				seen[id] = true
			})
			if n != f.Rows {
				t.Errorf("%s has %d rows, its manifest says %d", key, n, f.Rows)
			}
		}
		if sum != m.Rows {
			t.Errorf("manifest %s: rows %d != sum of file rows %d", dt, m.Rows, sum)
		}
	}
	sort.Strings(ls.rows)
	return ls
}

func readDataFile(t *testing.T, st storage.Store, key, dt string, s *schemas.Schema, fn func(row, id string)) int64 {
	t.Helper()
	obj, err := st.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	pf, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	cols := pf.Schema().Columns()
	names := make([]string, len(cols))
	idCol, tsCol := -1, -1
	for i, c := range cols {
		names[i] = strings.Join(c, ".")
		switch names[i] {
		case "transaction_id":
			idCol = i
		case s.EventTime:
			tsCol = i
		}
	}
	if idCol < 0 || tsCol < 0 {
		t.Fatalf("%s: columns %v lack the key or event time", key, names)
	}
	day, err := lake.ParseDate(dt)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			k, err := rows.ReadRows(buf)
			for _, row := range buf[:k] {
				var b strings.Builder
				b.WriteString(dt)
				var id string
				for _, v := range row {
					c := v.Column()
					val := "NULL"
					if !v.IsNull() {
						val = v.String()
					}
					fmt.Fprintf(&b, "|%s=%s", names[c], val)
					switch c {
					case idCol:
						id = val
					case tsCol:
						us := v.Int64()
						if got := time.UnixMicro(us).UTC().Truncate(24 * time.Hour); !got.Equal(day) {
							t.Errorf("%s: row with event time %v in partition %s", key, time.UnixMicro(us).UTC(), dt)
						}
					}
				}
				fn(b.String(), id)
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read %s: %v", key, err)
			}
		}
		rows.Close()
	}
	return n
}

func readQuarantine(t *testing.T, st storage.Store, contribID string) []QuarantineRecord {
	t.Helper()
	obj, err := st.Open(t.Context(), lake.QuarantineKey(table, contribID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r := parquet.NewGenericReader[QuarantineRecord](obj)
	defer r.Close()
	out := make([]QuarantineRecord, r.NumRows())
	n, err := r.Read(out)
	if err != nil && err != io.EOF {
		t.Fatalf("read quarantine: %v", err)
	}
	if n != len(out) {
		t.Fatalf("read %d of %d quarantine rows", n, len(out))
	}
	return out
}

// dataFilesOnDisk lists the .parquet files in the table's partition
// directories, as store keys.
func dataFilesOnDisk(t *testing.T, lakeDir string) []string {
	return filesUnder(t, lakeDir, func(rel string) bool {
		return strings.HasPrefix(rel, table+"/dt=") && strings.HasSuffix(rel, ".parquet")
	})
}

func assertNoOrphans(t *testing.T, lakeDir string, ls *lakeState) {
	t.Helper()
	disk := dataFilesOnDisk(t, lakeDir)
	for _, f := range disk {
		if !ls.listed[f] {
			t.Errorf("orphan data file %s (no manifest lists it)", f)
		}
	}
	if len(disk) != len(ls.listed) {
		t.Errorf("%d data files on disk, manifests list %d", len(disk), len(ls.listed))
	}
}

func TestIngestReconcilesFaultyInput(t *testing.T) {
	sum, dir := faultyInput(t)
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	res := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, MaxQuarantineRatio: -1, Workers: 2})

	if res.Outcome != "committed" {
		t.Fatalf("outcome %q", res.Outcome)
	}
	if res.RowsRead != sum.Rows {
		t.Errorf("rows_read %d, the generator wrote %d rows", res.RowsRead, sum.Rows)
	}
	if res.EmptyLines != sum.Faults[gen.FaultEmptyLine] {
		t.Errorf("empty_lines %d, the generator wrote %d", res.EmptyLines, sum.Faults[gen.FaultEmptyLine])
	}
	if res.RowsDuplicate != sum.Duplicates {
		t.Errorf("rows_duplicate %d, the generator wrote %d duplicates", res.RowsDuplicate, sum.Duplicates)
	}
	wantQ := sum.Faults[gen.FaultMalformed] + sum.Faults[gen.FaultWrongType] + sum.Faults[gen.FaultMissingField] +
		sum.Faults[gen.FaultBadValue] + sum.Faults[gen.FaultInvalidUTF8]
	if res.RowsQuarantined != wantQ {
		t.Errorf("rows_quarantined %d, the generator wrote %d bad rows (%v)", res.RowsQuarantined, wantQ, sum.Faults)
	}
	if res.RowsQuarantined == 0 || res.RowsDuplicate == 0 {
		t.Fatalf("the input has no faults: %+v", res)
	}
	var byReasons int64
	for _, r := range res.QuarantineReasons {
		byReasons += r.Rows
	}
	if byReasons != res.RowsQuarantined {
		t.Errorf("quarantine reasons count %d rows, rows_quarantined %d", byReasons, res.RowsQuarantined)
	}

	// The quarantine file holds every quarantined row, each with its raw
	// line exactly as it is in the source.
	q := readQuarantine(t, st, res.Contribution.ID)
	if int64(len(q)) != res.RowsQuarantined {
		t.Errorf("quarantine file has %d rows, rows_quarantined %d", len(q), res.RowsQuarantined)
	}
	srcData := map[string][]byte{}
	rules := map[string]int{}
	for _, r := range q {
		rules[r.Rule]++
		if r.Rule == "" || r.Reason == "" || r.RunID != res.RunID {
			t.Errorf("incomplete quarantine record %+v", r)
		}
		data, ok := srcData[r.Source]
		if !ok {
			p := strings.TrimPrefix(r.Source, "file://")
			var err error
			if data, err = os.ReadFile(p); err != nil {
				t.Fatalf("quarantine source %q: %v", r.Source, err)
			}
			srcData[r.Source] = data
		}
		end := r.Offset + int64(len(r.Raw))
		if r.Offset < 0 || end > int64(len(data)) || !bytes.Equal(data[r.Offset:end], r.Raw) || (end < int64(len(data)) && data[end] != '\n') {
			t.Errorf("quarantine record at %s:%d offset %d: raw %q is not the source line", r.Source, r.Line, r.Offset, r.Raw)
			continue
		}
		if line := int64(bytes.Count(data[:r.Offset], []byte{'\n'})) + 1; line != r.Line {
			t.Errorf("quarantine record at offset %d says line %d, it is line %d", r.Offset, r.Line, line)
		}
		if r.RawBytes != int64(len(r.Raw)) || r.RawTruncated {
			t.Errorf("raw_bytes %d / truncated %v for a %d-byte raw line", r.RawBytes, r.RawTruncated, len(r.Raw))
		}
		if r.Rule == "utf8" && (!bytes.Contains(r.Raw, []byte{0xff}) || !strings.Contains(r.RawText, "\uFFFD")) {
			t.Errorf("utf8 record lost its raw bytes: %q / %q", r.Raw, r.RawText)
		}
	}
	for _, rule := range []string{"json", "utf8", "required", "type"} {
		if rules[rule] == 0 {
			t.Errorf("no quarantined row with rule %q (rules: %v)", rule, rules)
		}
	}

	ls := readLake(t, st, s)
	if ls.manifestRows != res.RowsWritten || int64(len(ls.rows)) != res.RowsWritten {
		t.Errorf("manifests list %d rows, files hold %d, rows_written %d", ls.manifestRows, len(ls.rows), res.RowsWritten)
	}
	var partWritten int64
	for _, p := range res.Partitions {
		partWritten += p.RowsWritten
	}
	if partWritten != res.RowsWritten {
		t.Errorf("partition results sum to %d written rows, rows_written %d", partWritten, res.RowsWritten)
	}
	// Late events land in earlier dates' partitions.
	if sum.Late == 0 {
		t.Fatal("the generator wrote no late rows")
	}
	var early []string
	for dt := range ls.partitions {
		if dt < "2026-01-01" {
			early = append(early, dt)
		}
	}
	if len(early) == 0 {
		t.Errorf("no partition before 2026-01-01 for %d late rows: %v", sum.Late, res.Partitions)
	}
	assertNoOrphans(t, lakeDir, ls)
}

func TestIngestIdempotent(t *testing.T) {
	_, dir := faultyInput(t)
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	o := Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, MaxQuarantineRatio: -1, Workers: 2}

	r1 := run(t, o)
	ls1 := readLake(t, st, s)
	q1 := readQuarantine(t, st, r1.Contribution.ID)
	files1 := dataFilesOnDisk(t, lakeDir)
	if r1.Contribution.Replaced {
		t.Error("first run says it replaced a contribution")
	}

	r2 := run(t, o)
	if !r2.Contribution.Replaced || r2.Contribution.ID != r1.Contribution.ID {
		t.Errorf("second run contribution %+v, want the same one, replaced", r2.Contribution)
	}
	if r2.RowsWritten != r1.RowsWritten || r2.RowsDuplicate != r1.RowsDuplicate || r2.RowsQuarantined != r1.RowsQuarantined {
		t.Errorf("second run counts differ: %+v vs %+v", r2, r1)
	}
	for _, p := range r2.Partitions {
		if p.Action != "replaced" {
			t.Errorf("partition %s action %q on re-ingest, want replaced", p.Date, p.Action)
		}
	}
	ls2 := readLake(t, st, s)
	if ls1.hash() != ls2.hash() || len(ls2.rows) != len(ls1.rows) {
		t.Errorf("rows changed on re-ingest: %d rows (%s) vs %d rows (%s)", len(ls2.rows), ls2.hash(), len(ls1.rows), ls1.hash())
	}
	files2 := dataFilesOnDisk(t, lakeDir)
	for _, f := range files1 {
		if slices.Contains(files2, f) {
			t.Errorf("data file %s of the first run is still on disk", f)
		}
	}
	assertNoOrphans(t, lakeDir, ls2)
	q2 := readQuarantine(t, st, r2.Contribution.ID)
	if len(q2) != len(q1) || int64(len(q2)) != r2.RowsQuarantined {
		t.Errorf("quarantine has %d rows after re-ingest, %d before", len(q2), len(q1))
	}
	if qs := filesUnder(t, lakeDir, func(rel string) bool { return strings.HasPrefix(rel, "_quarantine/") }); len(qs) != 1 {
		t.Errorf("quarantine files: %v, want one", qs)
	}
}

// writeJSONL writes rows as JSON lines with the fields the schema requires.
func writeJSONL(t *testing.T, path string, rows []testRow) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		fmt.Fprintf(&b, `{"transaction_id":%q,"customer_id":"cust_1","amount":%s,"currency":"EUR","merchant":{"id":"m_1"},"status":"captured","created_at":%q}`+"\n",
			r.id, r.amount, r.at)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type testRow struct{ id, amount, at string }

func txID(i int) string { return fmt.Sprintf("tx_%016x", 0xabc0000+i) }

func rowsFor(ids []int, at string) []testRow {
	var out []testRow
	for _, i := range ids {
		out = append(out, testRow{id: txID(i), amount: fmt.Sprintf("%d.%02d", i, i%100), at: at})
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestIngestSecondInputAppendsWithoutDuplicates(t *testing.T) {
	_, dir1 := generate(t, gen.Options{Seed: 1, Days: 2, RowsPerDay: 2000})
	sum2, dir2 := generate(t, gen.Options{Seed: 2, Days: 2, RowsPerDay: 2000})
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	r1 := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir1, "*.jsonl")}, Store: st, Workers: 2})
	ls1 := readLake(t, st, s)

	// 100 rows reusing keys of the first input in their partitions, and
	// 50 new ones.
	var reused []testRow
	for _, row := range ls1.rows[:100] {
		dt, rest, _ := strings.Cut(row, "|")
		_, after, _ := strings.Cut(rest, "transaction_id=")
		id, _, _ := strings.Cut(after, "|")
		reused = append(reused, testRow{id: id, amount: "1.00", at: dt + "T12:00:00Z"})
	}
	extra := filepath.Join(t.TempDir(), "extra.jsonl")
	writeJSONL(t, extra, append(reused, rowsFor(seq(1, 50), "2026-01-02T08:00:00Z")...))

	r2 := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir2, "*.jsonl"), extra}, Store: st, Workers: 2})
	if r2.Contribution.ID == r1.Contribution.ID || r2.Contribution.Replaced {
		t.Errorf("second input was taken for the first: %+v", r2.Contribution)
	}
	if r2.RowsDuplicate != 100 {
		t.Errorf("rows_duplicate %d, want the 100 reused keys", r2.RowsDuplicate)
	}
	if want := sum2.Rows + 50; r2.RowsWritten != want {
		t.Errorf("rows_written %d, want %d", r2.RowsWritten, want)
	}
	ls2 := readLake(t, st, s) // fails on a key twice in a partition
	if int64(len(ls2.rows)) != r1.RowsWritten+r2.RowsWritten {
		t.Errorf("lake has %d rows, want %d + %d", len(ls2.rows), r1.RowsWritten, r2.RowsWritten)
	}
	for _, p := range r2.Partitions {
		if p.Action != "updated" {
			t.Errorf("partition %s action %q, want updated", p.Date, p.Action)
		}
	}
	assertNoOrphans(t, lakeDir, ls2)
}

func TestIngestReingestRemovesPartition(t *testing.T) {
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	src := filepath.Join(t.TempDir(), "unit.jsonl")
	o := Options{Schema: s, Sources: []string{src}, Store: st, ContributionKey: "job:daily:2026-01-02", Workers: 2}

	writeJSONL(t, src, append(rowsFor(seq(1, 20), "2026-01-02T10:00:00Z"), rowsFor(seq(21, 25), "2026-01-01T23:59:59Z")...))
	r1 := run(t, o)
	if len(r1.Partitions) != 2 {
		t.Fatalf("partitions %+v, want 2", r1.Partitions)
	}

	// The new version of the unit has no late rows any more.
	writeJSONL(t, src, rowsFor(seq(1, 20), "2026-01-02T10:00:00Z"))
	r2 := run(t, o)
	if !r2.Contribution.Replaced {
		t.Error("re-ingest did not replace the contribution")
	}
	got := map[string]lake.PartitionResult{}
	for _, p := range r2.Partitions {
		got[p.Date] = p
	}
	if p := got["2026-01-01"]; p.Action != "removed" || p.RowsTotal != 0 {
		t.Errorf("2026-01-01: %+v, want removed with no rows", p)
	}
	if p := got["2026-01-02"]; p.Action != "replaced" || p.RowsTotal != 20 {
		t.Errorf("2026-01-02: %+v, want replaced with 20 rows", p)
	}
	ls := readLake(t, st, s)
	if m := ls.partitions["2026-01-01"]; m != nil && (m.Rows != 0 || len(m.Files) != 0) {
		t.Errorf("2026-01-01 still lists %d rows in %d files", m.Rows, len(m.Files))
	}
	if len(ls.rows) != 20 {
		t.Errorf("lake has %d rows, want 20", len(ls.rows))
	}
	assertNoOrphans(t, lakeDir, ls)
}

func TestIngestLateEvents(t *testing.T) {
	st := mem.New()
	s := loadSchema(t)
	src := filepath.Join(t.TempDir(), "day.jsonl")
	rows := rowsFor(seq(1, 10), "2026-01-03T12:00:00Z")
	rows = append(rows, rowsFor(seq(11, 13), "2026-01-01T00:00:00Z")...) // late
	rows = append(rows, rowsFor(seq(14, 15), "2025-12-31T23:59:59.999Z")...)
	rows = append(rows, testRow{id: txID(16), amount: "3", at: "2026-01-02T23:30:00-01:00"}) // 2026-01-03 UTC
	writeJSONL(t, src, rows)
	res := run(t, Options{Schema: s, Sources: []string{src}, Store: st, Workers: 2})
	ls := readLake(t, st, s)
	want := map[string]int64{"2025-12-31": 2, "2026-01-01": 3, "2026-01-03": 11}
	got := map[string]int64{}
	for dt, m := range ls.partitions {
		got[dt] = m.Rows
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partition rows %v, want %v (result %+v)", got, want, res.Partitions)
	}
}

func TestIngestDryRun(t *testing.T) {
	_, dir := faultyInput(t)
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	res := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, DryRun: true, MaxQuarantineRatio: -1, Workers: 2})
	if res.Outcome != "dry_run" || !res.DryRun {
		t.Errorf("outcome %q", res.Outcome)
	}
	if files := filesUnder(t, lakeDir, nil); len(files) != 0 {
		t.Errorf("dry run wrote %v", files)
	}
	if len(res.Partitions) < 3 {
		t.Fatalf("dry run reports partitions %+v", res.Partitions)
	}
	var written int64
	for _, p := range res.Partitions {
		if p.Action != "created" {
			t.Errorf("partition %s action %q, want created", p.Date, p.Action)
		}
		written += p.RowsWritten
	}
	if written != res.RowsWritten || res.RowsWritten == 0 {
		t.Errorf("partitions sum to %d rows, rows_written %d", written, res.RowsWritten)
	}

	// The dry run predicts what a real run does.
	real := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, MaxQuarantineRatio: -1, Workers: 2})
	if real.RowsWritten != res.RowsWritten || real.RowsDuplicate != res.RowsDuplicate || len(real.Partitions) != len(res.Partitions) {
		t.Errorf("dry run %d/%d/%d, real run %d/%d/%d", res.RowsWritten, res.RowsDuplicate, len(res.Partitions),
			real.RowsWritten, real.RowsDuplicate, len(real.Partitions))
	}

	// A dry run of the same unit again predicts a replace and changes nothing.
	before := filesUnder(t, lakeDir, func(rel string) bool { return !strings.HasPrefix(rel, "_runs/") })
	again := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, DryRun: true, MaxQuarantineRatio: -1, Workers: 2})
	if !again.Contribution.Replaced || again.RowsWritten != real.RowsWritten {
		t.Errorf("second dry run: replaced %v, written %d", again.Contribution.Replaced, again.RowsWritten)
	}
	for _, p := range again.Partitions {
		if p.Action != "replaced" {
			t.Errorf("dry run of a committed unit: partition %s action %q, want replaced", p.Date, p.Action)
		}
	}
	if after := filesUnder(t, lakeDir, func(rel string) bool { return !strings.HasPrefix(rel, "_runs/") }); !slices.Equal(before, after) {
		t.Errorf("dry run changed the lake:\nbefore %v\nafter  %v", before, after)
	}
}

func TestIngestWindow(t *testing.T) {
	sum, dir := generate(t, gen.Options{Seed: 3})
	st := mem.New()
	s := loadSchema(t)
	res := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, From: "2026-01-02", To: "2026-01-02",
		MaxQuarantineRatio: -1, Workers: 2})
	if res.RowsRead != sum.Rows {
		t.Errorf("rows_read %d, want %d", res.RowsRead, sum.Rows)
	}
	if len(res.Partitions) != 1 || res.Partitions[0].Date != "2026-01-02" {
		t.Errorf("partitions %+v, want only 2026-01-02", res.Partitions)
	}
	if len(res.QuarantineReasons) != 1 || res.QuarantineReasons[0].Rule != "window" || res.QuarantineReasons[0].Field != "created_at" {
		t.Errorf("quarantine reasons %+v, want only window/created_at", res.QuarantineReasons)
	}
	// The generator's rows keep to their day (no faults), so each day holds a third.
	if res.RowsWritten != sum.Files[1].Rows || res.RowsQuarantined != sum.Files[0].Rows+sum.Files[2].Rows {
		t.Errorf("written %d, quarantined %d; files have %d/%d/%d rows", res.RowsWritten, res.RowsQuarantined,
			sum.Files[0].Rows, sum.Files[1].Rows, sum.Files[2].Rows)
	}
	q := readQuarantine(t, st, res.Contribution.ID)
	for _, r := range q {
		if r.Rule != "window" || !strings.Contains(r.Reason, "2026-01-02") {
			t.Fatalf("quarantine record %+v, want rule window naming the window", r)
		}
	}
	if int64(len(q)) != res.RowsQuarantined {
		t.Errorf("quarantine has %d rows, want %d", len(q), res.RowsQuarantined)
	}
}

func TestIngestBadWindow(t *testing.T) {
	_, dir := generate(t, gen.Options{Seed: 3, Days: 1, RowsPerDay: 10})
	for _, w := range [][2]string{{"2026-01-02", ""}, {"", "2026-01-02"}, {"2026-01-03", "2026-01-02"}, {"2026-1-02", "2026-01-03"}, {"2026-01-02", "tomorrow"}} {
		t.Run(w[0]+".."+w[1], func(t *testing.T) {
			st := mem.New()
			_, err := Run(t.Context(), Options{Schema: loadSchema(t), Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, From: w[0], To: w[1]})
			var se *SourceError
			if !errors.As(err, &se) || !se.ConfigError() {
				t.Fatalf("Run = %v, want a *SourceError", err)
			}
		})
	}
}

func TestIngestQuarantineThreshold(t *testing.T) {
	_, dir := faultyInput(t)
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	res, err := Run(t.Context(), Options{Schema: s, Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, MaxQuarantineRatio: 0.001, Workers: 2})
	var te *ThresholdError
	if !errors.As(err, &te) || !te.QualityError() {
		t.Fatalf("Run = %v, want a *ThresholdError", err)
	}
	if res == nil || res.Outcome != "threshold_breached" || te.Result != res {
		t.Fatalf("result %+v", res)
	}
	checkReconciled(t, res)
	if !strings.Contains(err.Error(), "nothing committed") {
		t.Errorf("error %q does not say nothing was committed", err)
	}
	if ds, _ := lake.ListPartitions(t.Context(), st, table); len(ds) != 0 {
		t.Errorf("partitions committed: %v", ds)
	}
	if files := filesUnder(t, lakeDir, func(rel string) bool { return !strings.HasPrefix(rel, "_runs/") }); len(files) != 0 {
		t.Errorf("files left by a failed run: %v", files)
	}
	// The run is recorded.
	if runs := filesUnder(t, lakeDir, func(rel string) bool { return strings.HasPrefix(rel, "_runs/") }); len(runs) != 1 {
		t.Errorf("run records: %v", runs)
	}
}

func TestIngestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub.jsonl"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sources []string
	}{
		{"none", nil},
		{"missing file", []string{filepath.Join(dir, "nope.jsonl")}},
		{"glob matching nothing", []string{filepath.Join(dir, "*.csv")}},
		{"glob matching only a directory", []string{filepath.Join(dir, "*.jsonl")}},
		{"directory", []string{dir}},
		{"relative file URL", []string{"file://x.jsonl"}},
		{"unsupported scheme", []string{"ftp://host/x.jsonl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, lakeDir := newLocalLake(t)
			var started bool
			_, err := Run(t.Context(), Options{Schema: loadSchema(t), Sources: tt.sources, Store: st, Progress: progressFunc(func(int64) { started = true })})
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("Run = %v (%T), want a *SourceError", err, err)
			}
			if !se.ConfigError() {
				t.Error("SourceError is not a config error")
			}
			if started {
				t.Error("work started before the source error")
			}
			if files := filesUnder(t, lakeDir, nil); len(files) != 0 {
				t.Errorf("files written: %v", files)
			}
		})
	}
}

// progressFunc is a Progress that calls add for each chunk of bytes read.
type progressFunc func(int64)

func (progressFunc) Start(int64)   {}
func (p progressFunc) Add(n int64) { p(n) }
func (progressFunc) Finish()       {}

func TestIngestCSVMatchesJSONL(t *testing.T) {
	s := loadSchema(t)
	hashes := map[string]string{}
	counts := map[string][2]int64{}
	for _, format := range []string{"jsonl", "csv"} {
		_, dir := generate(t, gen.Options{Seed: 7, Format: format})
		st := mem.New()
		res := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*."+format)}, Store: st, Workers: 2})
		if res.RowsQuarantined != 0 || res.RowsWritten == 0 {
			t.Errorf("%s: %+v", format, res)
		}
		for _, src := range res.Sources {
			if src.Format != format {
				t.Errorf("source %s read as %q", src.URL, src.Format)
			}
		}
		hashes[format] = readLake(t, st, s).hash()
		counts[format] = [2]int64{res.RowsRead, res.RowsWritten}
	}
	if hashes["csv"] != hashes["jsonl"] || counts["csv"] != counts["jsonl"] {
		t.Errorf("CSV and JSONL give different rows: %v %v", hashes, counts)
	}
}

func TestIngestCompressedMatchesPlain(t *testing.T) {
	s := loadSchema(t)
	type outcome struct {
		read, written, quarantined, duplicate, empty int64
		hash                                         string
		reasons                                      string
	}
	results := map[string]outcome{}
	for _, comp := range []string{"none", "gzip", "zstd"} {
		_, dir := generate(t, gen.Options{Seed: 1, FaultRate: 0.05, Compression: comp})
		st := mem.New()
		res := run(t, Options{Schema: s, Sources: []string{filepath.Join(dir, "*")}, Store: st, MaxQuarantineRatio: -1, Workers: 2})
		for _, src := range res.Sources {
			if src.Compression != comp || src.Format != "jsonl" {
				t.Errorf("%s: source %s: compression %q format %q", comp, src.URL, src.Compression, src.Format)
			}
		}
		var rs []string
		for _, r := range res.QuarantineReasons {
			rs = append(rs, fmt.Sprintf("%s/%s:%d", r.Rule, r.Field, r.Rows))
		}
		results[comp] = outcome{res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate, res.EmptyLines,
			readLake(t, st, s).hash(), strings.Join(rs, ",")}
	}
	if results["gzip"] != results["none"] || results["zstd"] != results["none"] {
		t.Errorf("compressed inputs differ from plain:\nnone %+v\ngzip %+v\nzstd %+v", results["none"], results["gzip"], results["zstd"])
	}
}

func TestIngestCancelled(t *testing.T) {
	_, dir := faultyInput(t)
	st, lakeDir := newLocalLake(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var read int64
	prog := progressFunc(func(n int64) {
		mu.Lock()
		defer mu.Unlock()
		read += n
		if read > 1<<20 { // into the second file
			cancel()
		}
	})
	res, err := Run(ctx, Options{Schema: loadSchema(t), Sources: []string{filepath.Join(dir, "*.jsonl")}, Store: st, MaxQuarantineRatio: -1,
		Workers: 2, Progress: prog})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if res == nil || res.Outcome != "failed" {
		t.Errorf("result %+v, want outcome failed", res)
	}
	if ds, _ := lake.ListPartitions(t.Context(), st, table); len(ds) != 0 {
		t.Errorf("partitions committed: %v", ds)
	}
	if files := filesUnder(t, lakeDir, func(rel string) bool {
		return strings.HasSuffix(rel, ".parquet") || strings.HasSuffix(rel, lake.ManifestName) || strings.Contains(rel, "_contributions/")
	}); len(files) != 0 {
		t.Errorf("files left by a cancelled run: %v", files)
	}
}

func TestIngestOverlappingContributions(t *testing.T) {
	st, lakeDir := newLocalLake(t)
	s := loadSchema(t)
	tmp := t.TempDir()
	const at = "2026-01-10T09:00:00Z"
	srcA, srcB := filepath.Join(tmp, "a.jsonl"), filepath.Join(tmp, "b.jsonl")
	writeJSONL(t, srcA, rowsFor(seq(1, 100), at))
	writeJSONL(t, srcB, rowsFor(seq(51, 150), at))
	optsA := Options{Schema: s, Sources: []string{srcA}, Store: st, ContributionKey: "unit-a", Workers: 2}
	optsB := Options{Schema: s, Sources: []string{srcB}, Store: st, ContributionKey: "unit-b", Workers: 2}

	a1 := run(t, optsA)
	if a1.RowsWritten != 100 || a1.RowsDuplicate != 0 {
		t.Fatalf("A: written %d duplicate %d", a1.RowsWritten, a1.RowsDuplicate)
	}
	b1 := run(t, optsB)
	if b1.RowsWritten != 50 || b1.RowsDuplicate != 50 {
		t.Errorf("B: written %d duplicate %d, want 50/50 (51..100 are A's)", b1.RowsWritten, b1.RowsDuplicate)
	}

	// Re-ingesting A: its own earlier rows are not duplicates.
	a2 := run(t, optsA)
	if !a2.Contribution.Replaced || a2.RowsWritten != 100 || a2.RowsDuplicate != 0 {
		t.Errorf("A again: replaced %v written %d duplicate %d, want true/100/0", a2.Contribution.Replaced, a2.RowsWritten, a2.RowsDuplicate)
	}

	// A new version of A that also has keys B wrote: those are duplicates
	// (DESIGN: "whether the earlier row came from this run or from another
	// contribution").
	writeJSONL(t, srcA, append(rowsFor(seq(1, 100), at), rowsFor(seq(120, 130), at)...))
	a3 := run(t, optsA)
	if a3.RowsWritten != 100 || a3.RowsDuplicate != 11 {
		t.Errorf("A v3: written %d duplicate %d, want 100/11", a3.RowsWritten, a3.RowsDuplicate)
	}
	ls := readLake(t, st, s)
	if len(ls.rows) != 150 {
		t.Errorf("lake has %d rows, want 150 distinct keys", len(ls.rows))
	}
	m := ls.partitions["2026-01-10"]
	if m == nil || len(m.Contributions) != 2 {
		t.Fatalf("manifest %+v, want two contributions", m)
	}
	for _, c := range m.Contributions {
		switch c.Key {
		case "unit-a":
			if c.RowsWritten != 100 || c.RowsDuplicate != 11 {
				t.Errorf("contribution A %+v", c)
			}
		case "unit-b":
			if c.RowsWritten != 50 || c.RowsDuplicate != 50 {
				t.Errorf("contribution B %+v", c)
			}
		default:
			t.Errorf("unexpected contribution %+v", c)
		}
	}
	assertNoOrphans(t, lakeDir, ls)
}
