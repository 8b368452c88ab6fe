// Package mem is the in-memory reference implementation of storage.Store.
//
// It exists for tests and for "mem://" lakes. It is goroutine-safe, holds every
// object in memory, and loses everything when the process exits.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/txlake/txlake/storage"
)

// Store is an in-memory storage.Store and storage.ConditionalPutter. The zero
// value is not usable; call New. All methods are safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	objects map[string]object
}

// object is immutable once stored: Put replaces the map entry, never the bytes,
// so open Objects keep reading the version they opened.
type object struct {
	data    []byte
	modTime time.Time
	// class is the storage class set by SetStorageClass ("" is STANDARD);
	// restored says a Restore made an archived object readable.
	class    string
	restored bool
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ConditionalPutter = (*Store)(nil)
)

// New returns a new, empty store.
func New() *Store {
	return &Store{objects: make(map[string]object)}
}

// Put reads all of r and then stores it under key in one atomic step. A read
// error, a cancelled ctx, or a byte count different from a non-negative size
// stores nothing. An invalid key returns an error wrapping storage.ErrInvalidKey.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	data, err := s.read(ctx, "put", key, r, size)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.objects[key] = object{data: data, modTime: time.Now()}
	s.mu.Unlock()
	return nil
}

// PutIfAbsent is Put that stores the object only if key does not exist. It
// returns an error wrapping storage.ErrExists, and leaves the existing object
// untouched, when it does. Of concurrent calls for one key exactly one wins.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	data, err := s.read(ctx, "put-if-absent", key, r, size)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		return fmt.Errorf("put-if-absent %s: %w", s.URL(key), storage.ErrExists)
	}
	s.objects[key] = object{data: data, modTime: time.Now()}
	return nil
}

func (s *Store) read(ctx context.Context, op, key string, r io.Reader, size int64) ([]byte, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	data, err := readAll(ctx, r, size)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, s.URL(key), err)
	}
	return data, nil
}

// readAll reads r to EOF in chunks, checking ctx between chunks.
func readAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	const chunk = 1 << 20
	initial := 512
	if size >= 0 {
		initial = int(min(size, 64<<20)) + 1 // +1: see EOF without growing
	}
	buf := make([]byte, 0, initial)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+chunk)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size >= 0 && int64(len(buf)) != size {
		return nil, fmt.Errorf("read %d bytes, but the size given was %d", len(buf), size)
	}
	return buf, nil
}

// Open returns the object stored under key, or an error wrapping
// storage.ErrNotFound. The Object reads the version that was current at Open,
// even if key is replaced or deleted later. Close never fails.
func (s *Store) Open(ctx context.Context, key string) (storage.Object, error) {
	o, err := s.get(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	if storage.ClassNeedsRestore(o.class) && !o.restored {
		return nil, fmt.Errorf("open %s: %w (storage class %s)", s.URL(key), storage.ErrArchived, o.class)
	}
	return &memObject{Reader: bytes.NewReader(o.data), size: int64(len(o.data))}, nil
}

// Stat describes key, or returns an error wrapping storage.ErrNotFound. ETag
// is always "".
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	o, err := s.get(ctx, "stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return storage.ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

func (s *Store) get(ctx context.Context, op, key string) (object, error) {
	if err := storage.ValidateKey(key); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	if err := ctx.Err(); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", op, s.URL(key), err)
	}
	s.mu.RLock()
	o, ok := s.objects[key]
	s.mu.RUnlock()
	if !ok {
		return object{}, fmt.Errorf("%s %s: %w", op, s.URL(key), storage.ErrNotFound)
	}
	return o, nil
}

// List calls fn for every object whose key starts with prefix, in ascending
// byte order of the key, over a snapshot taken when List starts. fn may call
// other methods of the store. An error from fn is returned unchanged.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list %s: %w", s.URL(""), err)
	}
	var infos []storage.ObjectInfo
	s.mu.RLock()
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, storage.ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(infos, func(a, b storage.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", s.URL(prefix), err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", s.URL(""), err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", s.URL(key), err)
	}
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return nil
}

// URL returns "mem://" + key.
func (s *Store) URL(key string) string { return "mem://" + key }

// Close does nothing; the store stays usable.
func (s *Store) Close() error { return nil }

type memObject struct {
	*bytes.Reader
	size int64
}

func (o *memObject) Size() int64  { return o.size }
func (o *memObject) Close() error { return nil }
