package ingest

import (
	"context"
	"fmt"
	"os"

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

// quarantineWriter spools quarantine rows into a local temporary file while
// the run reads its input. The file is published into the lake only after
// the partition manifests are committed (publish), so the lake never shows
// quarantined rows of a contribution whose data did not commit.
type quarantineWriter struct {
	f       *os.File
	w       *parquet.GenericWriter[QuarantineRecord]
	rows    int64
	pending int64 // raw bytes buffered in the current row group
	buf     []QuarantineRecord
	closed  bool
}

func newQuarantineWriter() (*quarantineWriter, error) {
	f, err := os.CreateTemp("", "txlake-quarantine-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("quarantine spool file: %w", err)
	}
	q := &quarantineWriter{f: f}
	q.w = parquet.NewGenericWriter[QuarantineRecord](f,
		parquet.Compression(dataCodec),
		parquet.MaxRowsPerRowGroup(64*1024),
	)
	return q, nil
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

// finish completes the spooled Parquet file.
func (q *quarantineWriter) finish() error {
	if q.closed {
		return nil
	}
	q.closed = true
	if err := q.w.Close(); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	return nil
}

// publish stores the finished file under key with one atomic Put.
func (q *quarantineWriter) publish(ctx context.Context, st storage.Store, key string) error {
	if err := q.finish(); err != nil {
		return err
	}
	info, err := q.f.Stat()
	if err != nil {
		return fmt.Errorf("quarantine spool file: %w", err)
	}
	if _, err := q.f.Seek(0, 0); err != nil {
		return fmt.Errorf("quarantine spool file: %w", err)
	}
	if err := st.Put(ctx, key, q.f, info.Size()); err != nil {
		return fmt.Errorf("store quarantine: %w", err)
	}
	return nil
}

// discard removes the spool file. Safe to call more than once.
func (q *quarantineWriter) discard() {
	if q.f != nil {
		q.f.Close()
		os.Remove(q.f.Name())
		q.f = nil
	}
}
