package mem

import (
	"context"
	"fmt"

	"github.com/txlake/txlake/storage"
)

var (
	_ storage.StorageClassSetter = (*Store)(nil)
	_ storage.Restorer           = (*Store)(nil)
)

// SetStorageClass records key's storage class. An object in a class that
// needs a restore (storage.ClassNeedsRestore) cannot be opened until
// Restore is called: Open returns an error wrapping storage.ErrArchived.
// It is the reference behaviour of S3's classes, without S3's delays.
func (s *Store) SetStorageClass(ctx context.Context, key, class string) error {
	if err := storage.ValidateStorageClass(class); err != nil {
		return fmt.Errorf("set storage class %s: %w: %w", s.URL(key), storage.ErrNotSupported, err)
	}
	return s.update(ctx, "set-storage-class", key, func(o *object) error {
		if class == "STANDARD" {
			class = ""
		}
		o.class, o.restored = class, false
		return nil
	})
}

// StorageClass returns key's class ("STANDARD" when none was set).
func (s *Store) StorageClass(ctx context.Context, key string) (string, error) {
	o, err := s.get(ctx, "stat", key)
	if err != nil {
		return "", err
	}
	if o.class == "" {
		return "STANDARD", nil
	}
	return o.class, nil
}

// Restore makes an archived object readable at once (days and tier are
// accepted and ignored). An object whose class needs no restore returns an
// error wrapping storage.ErrNotSupported, as S3 does.
func (s *Store) Restore(ctx context.Context, key string, days int, tier string) error {
	return s.update(ctx, "restore", key, func(o *object) error {
		if !storage.ClassNeedsRestore(o.class) {
			return fmt.Errorf("restore %s: %w: its storage class is readable in place", s.URL(key), storage.ErrNotSupported)
		}
		o.restored = true
		return nil
	})
}

// RestoreStatus reports RestoreDone once Restore was called for an archived
// object, else RestoreNone.
func (s *Store) RestoreStatus(ctx context.Context, key string) (storage.RestoreState, error) {
	o, err := s.get(ctx, "stat", key)
	if err != nil {
		return "", err
	}
	if o.restored {
		return storage.RestoreDone, nil
	}
	return storage.RestoreNone, nil
}

// update changes the attributes of key's object (never its bytes) under
// the lock.
func (s *Store) update(ctx context.Context, op, key string, fn func(o *object) error) error {
	if _, err := s.get(ctx, op, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return fmt.Errorf("%s %s: %w", op, s.URL(key), storage.ErrNotFound)
	}
	if err := fn(&o); err != nil {
		return err
	}
	s.objects[key] = o
	return nil
}
