package ingest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/txlake/txlake/jobs/gen"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage/mem"
)

// Micro-benchmarks of the ingest hot path on one generated day (default
// faults), for A/B comparisons with -count and benchstat:
//
//	go test ./jobs/ingest -run '^$' -bench 'Decode|WriteParquet' -count 6

const benchRows = 60_000

// benchInput returns one generated day of benchRows rows in format.
func benchInput(b *testing.B, format string) []byte {
	b.Helper()
	dir := b.TempDir()
	sum, err := gen.Generate(b.Context(), gen.Options{OutDir: dir, Start: genStart, Days: 1, RowsPerDay: benchRows,
		Seed: 11, Format: format, FaultRate: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(sum.Files[0].Path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchChunks cuts data into the reader's 2 MiB chunks (the CSV header is
// parsed off the first one).
func benchChunks(b *testing.B, s *schemas.Schema, data []byte, format Format) []*chunk {
	b.Helper()
	lr := newLineReader(bytes.NewReader(data), 2<<20, 1<<20)
	var out []*chunk
	var header *csvHeader
	for {
		c, err := lr.next(b.Context())
		if err == io.EOF {
			return out
		}
		if err != nil {
			b.Fatal(err)
		}
		if format == FormatCSV && header == nil {
			i := bytes.IndexByte(c.data, '\n')
			if header, err = parseCSVHeader(c.data[:i+1], s); err != nil {
				b.Fatal(err)
			}
			c.data = c.data[i+1:]
		}
		c.header = header
		out = append(out, c)
	}
}

func benchDecode(b *testing.B, format Format, fast bool) {
	s := loadSchema(b)
	data := benchInput(b, string(format))
	chunks := benchChunks(b, s, data, format)
	c, err := s.NewCoercer(schemas.CoerceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := newDecoder(s, c, 1<<20, nil)
	if !fast {
		d.fast = nil
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, ch := range chunks {
			d.decode(ch, format).hold(0) // the consumer recycles it
		}
	}
}

// BenchmarkDecodeJSON compares the fast scanner with the fastjson path.
func BenchmarkDecodeJSON(b *testing.B) {
	b.Run("scanner", func(b *testing.B) { benchDecode(b, FormatJSONL, true) })
	b.Run("fastjson", func(b *testing.B) { benchDecode(b, FormatJSONL, false) })
}

func BenchmarkDecodeCSV(b *testing.B) { benchDecode(b, FormatCSV, true) }

// benchBatches decodes data (JSON lines) into the batches of the pipeline.
func benchBatches(b *testing.B, s *schemas.Schema, data []byte) []*batch {
	c, err := s.NewCoercer(schemas.CoerceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := newDecoder(s, c, 1<<20, nil)
	var batches []*batch
	for _, ch := range benchChunks(b, s, data, FormatJSONL) {
		batches = append(batches, d.decode(ch, FormatJSONL))
	}
	return batches
}

// benchWrite writes the rows of batches into one Parquet file with the data
// files' options, codec for their compression, and returns its size.
func benchWrite(b *testing.B, s *schemas.Schema, batches []*batch, codec compress.Codec, rowGroupRows int64) int64 {
	opts := FileWriterOptions(s.KeyValueMetadata(), rowGroupRows)
	opts[0] = parquet.Compression(codec)
	cw := &countWriter{}
	w := parquet.NewWriter(cw, append([]parquet.WriterOption{s.ParquetSchema()}, opts...)...)
	var rowBuf []parquet.Value
	var rows []parquet.Row
	for _, bt := range batches {
		rowBuf, rows = assembleRows(s, bt, rowBuf, rows)
		if _, err := w.WriteRows(rows); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return cw.n
}

// assembleRows assembles the rows of bt (without rule hits) in rowBuf and
// rows, reused, as the partition writer did before column-wise writes.
func assembleRows(s *schemas.Schema, bt *batch, rowBuf []parquet.Value, rows []parquet.Row) ([]parquet.Value, []parquet.Row) {
	nf := len(s.Fields)
	rowBuf, rows = rowBuf[:0], rows[:0]
	for r := range bt.days {
		start := len(rowBuf)
		rowBuf = s.AppendRow(rowBuf, bt.vals[r*nf:(r+1)*nf])
		if s.HasRules() {
			rowBuf = s.AppendTags(rowBuf, 0)
		}
		rows = append(rows, parquet.Row(rowBuf[start:len(rowBuf):len(rowBuf)]))
	}
	return rowBuf, rows
}

type benchCodec struct {
	name  string
	codec compress.Codec
}

// benchCodecs are the zstd encoders compared: klauspost's pure-Go levels
// (go-...) and libzstd's numeric levels (c-levelN).
func benchCodecs() []benchCodec {
	var codecs []benchCodec
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		codecs = append(codecs, benchCodec{"go-" + level.String(), &pageCodec{level: level}})
	}
	for _, level := range []int{1, 2, 3, 4} {
		codecs = append(codecs, benchCodec{fmt.Sprintf("c-level%d", level), &cPageCodec{level: level}})
	}
	return codecs
}

// BenchmarkWriteParquet encodes the decoded rows of one day into one
// Parquet file per zstd encoder and row-group size, and reports the file
// size: the trade-off tables in docs/performance.md.
func BenchmarkWriteParquet(b *testing.B) {
	s := loadSchema(b)
	data := benchInput(b, "jsonl")
	batches := benchBatches(b, s, data)
	for _, nc := range benchCodecs() {
		for _, rg := range []int64{16_384, 122_880} {
			b.Run(fmt.Sprintf("zstd=%s/rg=%d", nc.name, rg), func(b *testing.B) {
				var size int64
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					size = benchWrite(b, s, batches, nc.codec, rg)
				}
				b.ReportMetric(float64(size), "file-bytes")
			})
		}
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// recordCodec keeps a copy of every page it is given.
type recordCodec struct {
	pageCodec
	pages [][]byte
}

func (c *recordCodec) Encode(dst, src []byte) ([]byte, error) {
	c.pages = append(c.pages, bytes.Clone(src))
	return c.pageCodec.Encode(dst, src)
}

// BenchmarkPageCodec compresses the pages of one generated day, as the
// Parquet writer hands them to the codec, with each zstd encoder, and
// reports the compressed bytes: the encoder alone, without the writer.
func BenchmarkPageCodec(b *testing.B) {
	s := loadSchema(b)
	rec := &recordCodec{pageCodec: pageCodec{level: zstd.SpeedFastest}}
	benchWrite(b, s, benchBatches(b, s, benchInput(b, "jsonl")), rec, DefaultRowGroupRows)
	var in int64
	for _, p := range rec.pages {
		in += int64(len(p))
	}
	for _, nc := range benchCodecs() {
		b.Run(nc.name, func(b *testing.B) {
			var dst []byte
			var out int64
			var err error
			b.SetBytes(in)
			for b.Loop() {
				out = 0
				for _, p := range rec.pages {
					if dst, err = nc.codec.Encode(dst, p); err != nil {
						b.Fatal(err)
					}
					out += int64(len(dst))
				}
			}
			b.ReportMetric(float64(out), "bytes")
			b.ReportMetric(float64(len(rec.pages)), "pages")
		})
	}
}

// BenchmarkWriteRowsColumns writes the rows of one generated day into one
// data file (the lake's options, a mem store) row-wise (AppendRow and
// WriteRows, the partition writer before column-wise writes) and
// column-wise (AppendColumn and WriteColumns, the partition writer now).
func BenchmarkWriteRowsColumns(b *testing.B) {
	s := loadSchema(b)
	data := benchInput(b, "jsonl")
	batches := benchBatches(b, s, data)
	stored := s.StoredFields()
	write := func(b *testing.B, columns bool) {
		w := NewDataFileWriter(b.Context(), mem.New(), "f.parquet", s.ParquetSchema(), s.KeyValueMetadata(), DefaultRowGroupRows)
		var rowBuf []parquet.Value
		var rows []parquet.Row
		var idx []int32
		for _, bt := range batches {
			var err error
			if columns {
				idx = idx[:0]
				for r := range bt.days {
					idx = append(idx, int32(r))
				}
				err = w.WriteColumns(len(idx), func(dst []parquet.Value, c, i, j int) []parquet.Value {
					if c < len(stored) {
						return s.AppendColumn(dst, stored[c], c, bt.vals, idx[i:j])
					}
					for range idx[i:j] {
						dst = s.AppendTags(dst, 0)
					}
					return dst
				})
			} else {
				rowBuf, rows = assembleRows(s, bt, rowBuf, rows)
				err = w.WriteRows(rows)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for _, columns := range []bool{false, true} {
		b.Run(map[bool]string{false: "rows", true: "columns"}[columns], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			cpu0 := cpuTime(b)
			for b.Loop() {
				write(b, columns)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far: with another
// load on the machine, a steadier figure than the wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
