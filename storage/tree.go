package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TreeEntry is one entry of a directory of a store whose keys are paths in
// a directory tree (local files, HDFS).
type TreeEntry struct {
	Name string
	Dir  bool // a directory to descend into; otherwise a regular file
	// Info returns the file's size and modification time. ok is false when
	// the file was removed after its directory was read.
	Info func() (size int64, mod time.Time, ok bool, err error)
}

// ListTree implements Store.List for a directory-tree store. readDir
// returns the directories and regular files of the directory for dirKey
// ("" or ending in "/"), without the names the store reserves; a missing
// directory has no entries. ListTree validates prefix, reads one directory
// at a time, and calls fn in ascending byte order of the full keys: entries
// are sorted by their key with "/" appended to directories, and since every
// key below directory "a" starts with "a/", that is exactly the byte order
// of the keys ("a b" < "a-b" < "a/b" < "ab"; plain name order would put the
// directory "a" before the file "a b"). Names that are not valid keys are
// skipped. Errors from readDir, Info and fn are returned unchanged; url
// names the listing in the other errors.
func ListTree(ctx context.Context, prefix string, url func(key string) string,
	readDir func(ctx context.Context, dirKey string) ([]TreeEntry, error), fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list %s: %w", url(""), err)
	}
	dirKey := "" // the directory part of prefix, "" or ending in "/"
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey = prefix[:i+1]
	}
	return walkTree(ctx, dirKey, prefix, url, readDir, fn)
}

type treeItem struct {
	key   string // full key; directories end in "/"
	entry TreeEntry
}

func walkTree(ctx context.Context, dirKey, prefix string, url func(string) string,
	readDir func(context.Context, string) ([]TreeEntry, error), fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", url(prefix), err)
	}
	entries, err := readDir(ctx, dirKey)
	if err != nil {
		return err
	}
	items := make([]treeItem, 0, len(entries))
	for _, e := range entries {
		key := dirKey + e.Name
		if e.Dir {
			key += "/"
			if strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key) {
				items = append(items, treeItem{key, e})
			}
		} else if strings.HasPrefix(key, prefix) && ValidateKey(key) == nil {
			items = append(items, treeItem{key, e})
		}
	}
	slices.SortFunc(items, func(a, b treeItem) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.entry.Dir {
			if ValidateKey(strings.TrimSuffix(it.key, "/")) != nil {
				continue
			}
			if err := walkTree(ctx, it.key, prefix, url, readDir, fn); err != nil {
				return err
			}
			continue
		}
		size, mod, ok, err := it.entry.Info()
		if err != nil {
			return err
		}
		if !ok {
			continue // removed while listing
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", url(prefix), err)
		}
		if err := fn(ObjectInfo{Key: it.key, Size: size, ModTime: mod}); err != nil {
			return err
		}
	}
	return nil
}
