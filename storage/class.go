package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotSupported is returned by an optional capability that the store (or
// the service behind it) does not implement.
var ErrNotSupported = errors.New("not supported by this store")

// ErrArchived is returned when an object's content cannot be read because
// its storage class holds it offline until it is restored (S3 GLACIER,
// DEEP_ARCHIVE).
var ErrArchived = errors.New("object is archived and must be restored before it can be read")

// StorageClassSetter is implemented by stores with per-object storage
// classes (S3). It is an optional capability found by type assertion.
type StorageClassSetter interface {
	// SetStorageClass changes the storage class of key in place (S3: a
	// CopyObject of the object onto itself). The content and key do not
	// change. It returns an error wrapping ErrNotFound for a missing key and
	// ErrNotSupported when the service refuses the class.
	SetStorageClass(ctx context.Context, key, class string) error
	// StorageClass returns the storage class the service reports for key
	// ("STANDARD" when it reports none).
	StorageClass(ctx context.Context, key string) (string, error)
}

// Restorer is implemented by stores that can bring an archived object back
// online for reading (S3 RestoreObject).
type Restorer interface {
	// Restore asks the service to make a readable copy of key available for
	// days days, retrieved at tier ("Standard", "Bulk" or "Expedited"; ""
	// uses the service default). It returns once the request is accepted;
	// the copy becomes readable later (hours on S3). A restore already in
	// progress or done is not an error. An object whose class needs no
	// restore returns an error wrapping ErrNotSupported.
	Restore(ctx context.Context, key string, days int, tier string) error
	// RestoreStatus reports whether a restore of key is under way and,
	// when done, that the object is readable.
	RestoreStatus(ctx context.Context, key string) (RestoreState, error)
}

// RestoreState is the restore status of an archived object.
type RestoreState string

// Restore states.
const (
	RestoreNone       RestoreState = "none"        // no restore requested
	RestoreInProgress RestoreState = "in_progress" // requested, not yet readable
	RestoreDone       RestoreState = "restored"    // a readable copy exists
)

// StorageClasses are the S3 storage classes `txlake archive --storage-class`
// accepts.
var StorageClasses = []string{"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"}

// ValidateStorageClass checks class against StorageClasses.
func ValidateStorageClass(class string) error {
	for _, c := range StorageClasses {
		if class == c {
			return nil
		}
	}
	return fmt.Errorf("unknown storage class %q: want one of %s", class, strings.Join(StorageClasses, ", "))
}

// ClassNeedsRestore reports whether objects of class are offline: GLACIER
// (Flexible Retrieval) and DEEP_ARCHIVE must be restored before a read.
// Every other class (STANDARD_IA, GLACIER_IR, ...) is read in place.
func ClassNeedsRestore(class string) bool {
	return class == "GLACIER" || class == "DEEP_ARCHIVE"
}

// PrefixMover is implemented by stores that can move every object under one
// prefix to another prefix in one atomic step (HDFS: a directory rename).
// Archive uses it to move partitions under an archive root.
type PrefixMover interface {
	// MovePrefix moves the objects under from (a prefix ending in "/") to
	// the same names under to (ending in "/"), atomically: a reader sees
	// them all under one prefix or all under the other. It returns an
	// error wrapping ErrExists when to already holds objects, and one
	// wrapping ErrNotFound when from holds none.
	MovePrefix(ctx context.Context, from, to string) error
}
