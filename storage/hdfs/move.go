package hdfs

import (
	"context"
	"fmt"
	"strings"

	"github.com/txlake/txlake/storage"
)

var _ storage.PrefixMover = (*Store)(nil)

// MovePrefix renames the directory of from to the directory of to, in one
// NameNode rename (atomic). The parent of to is created when missing. An
// existing to directory fails with storage.ErrExists: HDFS would otherwise
// replace an empty one or fail on a full one.
func (s *Store) MovePrefix(ctx context.Context, from, to string) error {
	for _, p := range []string{from, to} {
		if !strings.HasSuffix(p, "/") {
			return fmt.Errorf("move %s: prefix %q does not end in /: %w", s.URL(""), p, storage.ErrInvalidKey)
		}
		if err := s.checkKey("move", strings.TrimSuffix(p, "/")); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("move %s: %w", s.URL(from), err)
	}
	src, dst := s.hdfsPath(strings.TrimSuffix(from, "/")), s.hdfsPath(strings.TrimSuffix(to, "/"))
	if _, err := s.client.Stat(src); err != nil {
		if isNotExist(err) {
			return fmt.Errorf("move %s: %w", s.URL(from), storage.ErrNotFound)
		}
		return s.fail("move", from, err)
	}
	if _, err := s.client.Stat(dst); err == nil {
		return fmt.Errorf("move %s to %s: %w", s.URL(from), s.URL(to), storage.ErrExists)
	} else if !isNotExist(err) {
		return s.fail("move", to, err)
	}
	if err := s.withParent(dst, func() error { return s.client.Rename(src, dst) }); err != nil {
		return s.fail("move", from, err)
	}
	return nil
}
