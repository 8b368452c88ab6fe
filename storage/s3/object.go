package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// errChanged is returned when the object was replaced or deleted after Open.
var errChanged = errors.New("object changed since it was opened")

// object is a storage.Object over one version (ETag) of an S3 object.
type object struct {
	s    *Store
	ctx  context.Context
	key  string // full object key
	url  string
	size int64
	etag string // as returned, quoted

	mu     sync.Mutex // guards the sequential-read state below
	body   io.ReadCloser
	pos    int64
	closed bool
}

func (o *object) Size() int64 { return o.size }

// get sends a GetObject for bytes [off, end) of the opened version; end < 0
// means to the end.
func (o *object) get(off, end int64) (io.ReadCloser, error) {
	in := &awss3.GetObjectInput{
		Bucket:  aws.String(o.s.bucket),
		Key:     aws.String(o.key),
		IfMatch: aws.String(o.etag),
	}
	switch {
	case end >= 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := o.s.client.GetObject(o.ctx, in)
	if err != nil {
		if isExists(err) { // 412: If-Match failed
			return nil, fmt.Errorf("read %s: %w", o.url, errChanged)
		}
		return nil, o.s.wrap(o.ctx, "read", o.url, err)
	}
	return out.Body, nil
}

// Read streams the object with one GetObject from the current offset, opened
// on the first Read. A stream that breaks off is resumed with a ranged GET.
func (o *object) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("read %s: %w", o.url, errClosed)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for attempt := 0; ; attempt++ {
		if o.pos >= o.size {
			o.closeBody()
			return 0, io.EOF
		}
		if o.body == nil {
			body, err := o.get(o.pos, -1)
			if err != nil {
				return 0, err
			}
			o.body = body
		}
		n, err := o.body.Read(p)
		o.pos += int64(n)
		if err == nil || (err == io.EOF && o.pos >= o.size) {
			if err != nil {
				o.closeBody()
			}
			return n, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		o.closeBody()
		if n > 0 {
			return n, nil // the next Read resumes from o.pos
		}
		if attempt >= readRetries || o.ctx.Err() != nil {
			return 0, o.s.wrap(o.ctx, "read", o.url, err)
		}
	}
}

func (o *object) closeBody() {
	if o.body != nil {
		_ = o.body.Close() // read-only stream: nothing to lose
		o.body = nil
	}
}

// ReadAt reads len(p) bytes at off with one ranged GetObject (more only if the
// response breaks off). It returns io.EOF with fewer bytes when the range
// passes the end. It is safe to call concurrently, also with Read.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", o.url, off)
	}
	if o.isClosed() {
		return 0, fmt.Errorf("read %s: %w", o.url, errClosed)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	if want == 0 {
		return 0, nil
	}
	done := int64(0)
	for attempt := 0; done < want; attempt++ {
		body, err := o.get(off+done, off+want)
		if err != nil {
			return int(done), err
		}
		n, err := io.ReadFull(body, p[done:want])
		_ = body.Close()
		done += int64(n)
		if err != nil && done < want {
			if attempt >= readRetries || o.ctx.Err() != nil {
				return int(done), o.s.wrap(o.ctx, "read", o.url, err)
			}
		}
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

var errClosed = errors.New("object is closed")

func (o *object) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// Close ends any open GET stream. Later reads fail.
func (o *object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeBody()
	o.closed = true
	return nil
}
