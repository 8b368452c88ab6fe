package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// chunk is a run of complete lines from one source, handed from the reader
// to the decode workers. Chunks are numbered so results are committed in
// input order whatever the worker scheduling.
type chunk struct {
	seq         int64
	src         int
	data        []byte
	firstLine   int64 // 1-based line number of data's first line
	firstOffset int64 // byte offset of data in the decompressed stream
	// long is set instead of data for one line longer than the reader's
	// buffer: its head is kept, the rest was discarded.
	long *longLine
	// header is the parsed CSV header of the source (CSV sources only).
	header *csvHeader
	bytes  int64 // decompressed bytes this chunk accounts for
	// buf is the recycled buffer data is in (see release), nil when data
	// is not from chunkPool.
	buf []byte
}

// chunkPool recycles the reader's chunk buffers: a fresh 2 MiB buffer for
// every chunk was almost half of the bytes an ingest allocated.
var chunkPool sync.Pool

// release returns the chunk's buffer for reuse. The decoder keeps nothing
// that points into it (values, quarantined lines and unknown field names are
// copies), so a worker calls it once the chunk is decoded.
func (c *chunk) release() {
	if buf := c.buf; buf != nil {
		c.buf, c.data = nil, nil
		chunkPool.Put(&buf)
	}
}

type longLine struct {
	head   []byte
	length int64
}

// quarantineHeadBytes is how much of an over-long line is kept in quarantine.
const quarantineHeadBytes = 4 << 10

// TruncatedError reports a compressed source that ends mid-stream.
type TruncatedError struct {
	URL         string
	Compression Compression
	Offset      int64 // compressed bytes consumed when the stream broke
	Err         error
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("source %s: truncated or corrupt %s stream at compressed byte offset %d: %v (nothing was committed)", e.URL, e.Compression, e.Offset, e.Err)
}

func (e *TruncatedError) Unwrap() error { return e.Err }

// lineReader cuts a decompressed stream into chunks of whole lines with
// bounded memory: a chunk is at most chunkSize bytes, and a line longer than
// maxLine is reported as a long line without being held in memory.
type lineReader struct {
	r         io.Reader
	chunkSize int
	maxLine   int
	carry     []byte
	line      int64
	offset    int64
	eof       bool
}

func newLineReader(r io.Reader, chunkSize, maxLine int) *lineReader {
	if chunkSize < maxLine+1 {
		chunkSize = maxLine + 1
	}
	return &lineReader{r: r, chunkSize: chunkSize, maxLine: maxLine, line: 1}
}

// next returns the next chunk (data or long), or io.EOF after the last.
func (lr *lineReader) next(ctx context.Context) (*chunk, error) {
	if lr.eof && len(lr.carry) == 0 {
		return nil, io.EOF
	}
	var buf []byte
	if p, _ := chunkPool.Get().(*[]byte); p != nil && cap(*p) >= lr.chunkSize {
		buf = (*p)[:lr.chunkSize]
	} else {
		buf = make([]byte, lr.chunkSize)
	}
	n := copy(buf, lr.carry)
	lr.carry = lr.carry[:0]
	for n < len(buf) && !lr.eof {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := lr.r.Read(buf[n:])
		n += m
		if err == io.EOF {
			lr.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	data := buf[:n]
	if !lr.eof {
		// The buffer is full: cut after its last newline and carry the rest.
		i := bytes.LastIndexByte(data, '\n')
		if i < 0 {
			return lr.longLine(ctx, data)
		}
		lr.carry = append(lr.carry, data[i+1:]...)
		data = data[:i+1]
	}
	if len(data) == 0 {
		return nil, io.EOF
	}
	c := &chunk{data: data, buf: buf, firstLine: lr.line, firstOffset: lr.offset, bytes: int64(len(data))}
	lr.line += int64(bytes.Count(data, []byte{'\n'}))
	lr.offset += int64(len(data))
	return c, nil
}

// longLine handles a line that fills the whole buffer: it keeps the head
// and discards the rest of the line, reading on until its newline.
func (lr *lineReader) longLine(ctx context.Context, data []byte) (*chunk, error) {
	head := append([]byte(nil), data[:min(len(data), quarantineHeadBytes)]...)
	length := int64(len(data))
	// Read no more than the buffer's length, whatever its capacity (a
	// recycled buffer may be larger): what follows the newline becomes the
	// carry, and next copies at most chunkSize bytes of it.
	scratch := data
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := lr.r.Read(scratch)
		if m > 0 {
			if i := bytes.IndexByte(scratch[:m], '\n'); i >= 0 {
				length += int64(i)
				lr.carry = append(lr.carry[:0], scratch[i+1:m]...)
				lr.eof = errors.Is(err, io.EOF)
				c := &chunk{long: &longLine{head: head, length: length}, firstLine: lr.line, firstOffset: lr.offset, bytes: length + 1}
				lr.line++
				lr.offset += length + 1
				return c, nil
			}
			length += int64(m)
		}
		if errors.Is(err, io.EOF) {
			lr.eof = true
			c := &chunk{long: &longLine{head: head, length: length}, firstLine: lr.line, firstOffset: lr.offset, bytes: length}
			lr.offset += length
			return c, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
