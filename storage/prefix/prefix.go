// Package prefix confines a storage.Store to the keys under one prefix.
//
// prefix.New(inner, "lake/v1") stores key "t/x" as "lake/v1/t/x" in inner, and
// lists it back as "t/x". It is how a lake URL's path (s3://bucket/lake/v1)
// becomes the root of the lake, and how tests run the conformance suite in a
// sub-tree.
package prefix

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/txlake/txlake/storage"
)

// New returns a store that prefixes every key with p + "/" before calling
// inner, and strips it from listed keys. Trailing slashes of p are ignored and
// an empty p returns inner itself.
//
// The result implements storage.ConditionalPutter and storage.LocalPather
// exactly when inner does, so type assertions on it answer truthfully.
//
// If p is not a valid key (storage.ValidateKey), every method of the returned
// store fails with an error wrapping storage.ErrInvalidKey; callers holding a
// prefix from configuration should call storage.ValidateKey first to report it
// early. Closing the returned store closes inner.
func New(inner storage.Store, p string) storage.Store {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return inner
	}
	s := &store{inner: inner, prefix: p + "/"}
	if err := storage.ValidateKey(p); err != nil {
		s.err = fmt.Errorf("prefix %q: %w", p, err)
	}
	cp, isCP := inner.(storage.ConditionalPutter)
	lp, isLP := inner.(storage.LocalPather)
	switch {
	case isCP && isLP:
		return &condLocalStore{store: s, cond: cond{s, cp}, local: local{s, lp}}
	case isCP:
		return &condStore{store: s, cond: cond{s, cp}}
	case isLP:
		return &localStore{store: s, local: local{s, lp}}
	}
	return s
}

type store struct {
	inner  storage.Store
	prefix string // ends in "/"
	err    error  // invalid prefix
}

type condStore struct {
	*store
	cond
}

type localStore struct {
	*store
	local
}

type condLocalStore struct {
	*store
	cond
	local
}

var (
	_ storage.Store             = (*store)(nil)
	_ storage.ConditionalPutter = (*condStore)(nil)
	_ storage.LocalPather       = (*localStore)(nil)
	_ storage.ConditionalPutter = (*condLocalStore)(nil)
	_ storage.LocalPather       = (*condLocalStore)(nil)
)

// full validates key and returns the inner key.
func (s *store) full(op, key string) (string, error) {
	if s.err != nil {
		return "", fmt.Errorf("%s %s: %w", op, s.inner.URL(""), s.err)
	}
	if err := storage.ValidateKey(key); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	return s.prefix + key, nil
}

func (s *store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := s.full("put", key)
	if err != nil {
		return err
	}
	return s.inner.Put(ctx, k, r, size)
}

func (s *store) Open(ctx context.Context, key string) (storage.Object, error) {
	k, err := s.full("open", key)
	if err != nil {
		return nil, err
	}
	return s.inner.Open(ctx, k)
}

func (s *store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	k, err := s.full("stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info, err := s.inner.Stat(ctx, k)
	info.Key = strings.TrimPrefix(info.Key, s.prefix)
	return info, err
}

func (s *store) List(ctx context.Context, p string, fn func(storage.ObjectInfo) error) error {
	if s.err != nil {
		return fmt.Errorf("list %s: %w", s.inner.URL(""), s.err)
	}
	if err := storage.ValidatePrefix(p); err != nil {
		return fmt.Errorf("list %s: %w", s.URL(""), err)
	}
	return s.inner.List(ctx, s.prefix+p, func(info storage.ObjectInfo) error {
		info.Key = strings.TrimPrefix(info.Key, s.prefix)
		return fn(info)
	})
}

func (s *store) Delete(ctx context.Context, key string) error {
	k, err := s.full("delete", key)
	if err != nil {
		return err
	}
	return s.inner.Delete(ctx, k)
}

// URL returns the inner store's URL of the prefixed key.
func (s *store) URL(key string) string { return s.inner.URL(s.prefix + key) }

// Close closes the inner store.
func (s *store) Close() error { return s.inner.Close() }

type cond struct {
	s  *store
	cp storage.ConditionalPutter
}

func (c cond) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := c.s.full("put-if-absent", key)
	if err != nil {
		return err
	}
	return c.cp.PutIfAbsent(ctx, k, r, size)
}

type local struct {
	s  *store
	lp storage.LocalPather
}

func (l local) LocalPath(key string) string { return l.lp.LocalPath(l.s.prefix + key) }
