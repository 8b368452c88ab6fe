package storage

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// ReadError wraps an error returned by the caller's reader during a Put, as
// opposed to a failure of the store itself.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// CopyForPut copies r to w in 1 MiB blocks for a backend's Put, checking ctx
// between blocks. Errors from r come back as *ReadError, errors from w as
// they are, and ctx's error when it is done. When size >= 0 the number of
// bytes read must equal it, or CopyForPut fails (the Put must then store
// nothing). It returns the bytes copied.
func CopyForPut(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, error) {
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return written, werr
			}
			written += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return written, &ReadError{Err: rerr}
		}
	}
	if err := ctx.Err(); err != nil {
		return written, err
	}
	if size >= 0 && written != size {
		return written, fmt.Errorf("read %d bytes, but the size given was %d", written, size)
	}
	return written, nil
}
