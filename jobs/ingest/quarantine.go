package ingest

import (
	"context"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/storage"
)

// QuarantineRecord is one row of a quarantine file. The layout is a
// documented contract (docs/lake-format.md).
type QuarantineRecord struct {
	RunID  string `parquet:"run_id"`
	Source string `parquet:"source"`
	Line   int64  `parquet:"line"`   // 1-based line number in the decompressed source
	Offset int64  `parquet:"offset"` // byte offset of the line in the decompressed source
	Rule   string `parquet:"rule"`   // short rule id, e.g. "json", "required", "enum", "line_too_long"
	Field  string `parquet:"field"`  // the schema field, "" for line-level problems
	Reason string `parquet:"reason"` // human-readable reason; never contains field values
	// Raw is the line exactly as read (bytes, not necessarily UTF-8).
	Raw []byte `parquet:"raw"`
	// RawText is Raw with invalid UTF-8 replaced by U+FFFD, for SQL tools.
	RawText      string `parquet:"raw_text"`
	RawBytes     int64  `parquet:"raw_bytes"`     // full length of the line
	RawTruncated bool   `parquet:"raw_truncated"` // Raw holds only the line's head
}

// quarantineWriter streams quarantine rows into one atomic Put. Nothing is
// visible until finish; abort leaves the previous quarantine file in place.
type quarantineWriter struct {
	w       *parquet.GenericWriter[QuarantineRecord]
	pw      *io.PipeWriter
	putDone chan error
	rows    int64
	pending int64 // raw bytes buffered in the current row group
	buf     []QuarantineRecord
}

func newQuarantineWriter(ctx context.Context, st storage.Store, key string) *quarantineWriter {
	pr, pw := io.Pipe()
	q := &quarantineWriter{pw: pw, putDone: make(chan error, 1)}
	go func() {
		err := st.Put(ctx, key, pr, -1)
		pr.CloseWithError(err)
		q.putDone <- err
	}()
	q.w = parquet.NewGenericWriter[QuarantineRecord](pw,
		parquet.Compression(dataCodec),
		parquet.MaxRowsPerRowGroup(64*1024),
	)
	return q
}

func (q *quarantineWriter) write(r QuarantineRecord) error {
	q.buf = append(q.buf[:0], r)
	if _, err := q.w.Write(q.buf); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	q.rows++
	q.pending += int64(len(r.Raw))*2 + 256
	if q.pending > 32<<20 {
		q.pending = 0
		if err := q.w.Flush(); err != nil {
			return fmt.Errorf("write quarantine: %w", err)
		}
	}
	return nil
}

// finish completes the file and waits for the Put to publish it.
func (q *quarantineWriter) finish() error {
	if err := q.w.Close(); err != nil {
		q.abort(err)
		return fmt.Errorf("write quarantine: %w", err)
	}
	q.pw.Close()
	if err := <-q.putDone; err != nil {
		return fmt.Errorf("store quarantine: %w", err)
	}
	q.pw = nil
	return nil
}

// abort cancels the Put; the previous quarantine file stays.
func (q *quarantineWriter) abort(err error) {
	if q.pw != nil {
		q.pw.CloseWithError(err)
		<-q.putDone
		q.pw = nil
	}
}
