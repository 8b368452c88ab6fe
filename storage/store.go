package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Backends wrap them with %w so callers test with errors.Is.
var (
	// ErrNotFound is returned when a key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned by PutIfAbsent when the key already exists.
	ErrExists = errors.New("already exists")
	// ErrUnavailable marks a failure that is worth retrying later: the
	// backend could not be reached, or kept failing after retries.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrInvalidKey is returned for a key that is empty, absolute, or holds
	// a "." or ".." segment, a NUL byte or an empty segment.
	ErrInvalidKey = errors.New("invalid key")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	// Key is the object's key relative to the store's root, with "/" separators.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is the last modification time as reported by the backend.
	ModTime time.Time
	// ETag is a backend version tag when the backend has one (S3), else "".
	ETag string
}

// Object is an open stored object. It supports sequential reads and random
// access (Parquet footers are read with ReadAt). The caller closes it.
type Object interface {
	io.Reader
	io.ReaderAt
	io.Closer
	// Size is the object's length in bytes.
	Size() int64
}

// Store is a flat key space of immutable objects. Keys use "/" separators and
// never start with "/". Every method takes a context first.
//
// Contract for all implementations (checked by storage/storetest):
//   - Put is atomic: a reader sees either the previous object or the whole new
//     one, never a partial write; a failed or cancelled Put leaves the previous
//     state (no object, or the old one).
//   - Concurrent Puts of one key: one of the writes wins whole; which one is
//     unspecified.
//   - List returns keys with the given prefix in ascending byte order, across
//     any number of keys (backends paginate internally).
//   - Delete of a missing key succeeds (idempotent).
//   - Open and Stat of a missing key return an error wrapping ErrNotFound.
type Store interface {
	// Put stores the bytes read from r under key, atomically. size is the
	// length if known, or -1. Put reads r until io.EOF; a read error aborts
	// the Put and leaves no object. If size >= 0 and r yields a different
	// number of bytes, Put fails and stores nothing. If ctx is cancelled
	// before the object is committed, Put returns an error wrapping ctx.Err()
	// and stores nothing. Put does not close r.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open opens key for reading. The caller must Close the Object.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes key.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for each object whose key starts with prefix, in
	// ascending byte order of the full key. prefix may be "", end in "/", or
	// end in a partial name; it is checked with ValidatePrefix. An error from
	// fn stops the listing and is returned (possibly wrapped, so test it with
	// errors.Is).
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes key. Deleting a missing key is not an error. Delete never
	// removes more than the one object: a key that is only a prefix of other
	// objects (a "directory") is a missing key.
	Delete(ctx context.Context, key string) error
	// URL returns the human-readable location of key (for messages and run
	// records). It never contains credentials.
	URL(key string) string
	// Close releases the store's resources.
	Close() error
}

// ConditionalPutter is implemented by stores that can create an object only
// if the key is absent, atomically (local O_EXCL+link, S3 If-None-Match, HDFS
// exclusive create). Locks rely on it.
type ConditionalPutter interface {
	// PutIfAbsent stores r under key only if key does not exist. It returns an
	// error wrapping ErrExists when it does.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error
}

// LocalPather is implemented by stores whose objects are plain local files.
// Readers such as DuckDB use it to read files in place instead of through a
// cache.
type LocalPather interface {
	// LocalPath returns the absolute filesystem path of key.
	LocalPath(key string) string
}
