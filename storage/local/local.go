// Package local stores objects as plain files under a root directory.
//
// Key "t/dt=2026-01-01/f.parquet" is the file <root>/t/dt=2026-01-01/f.parquet,
// so DuckDB, pyarrow or a shell glob can read the lake in place. Writes go to a
// temporary file under <root>/.txlake-tmp/ and are renamed into place, which
// makes Put atomic as long as the root is on one filesystem.
//
// Local-only rules, beyond storage.ValidateKey:
//   - A key segment starting with ".txlake-" is reserved for the store's own
//     files and is rejected with storage.ErrInvalidKey; List never shows them.
//   - A key cannot be both an object and a "directory" of other objects ("a"
//     and "a/b"): the second Put fails. Object stores allow it; the lake layout
//     never needs it.
//   - Only regular files are objects: Open and Stat of a directory return
//     storage.ErrNotFound, Delete of a directory does nothing, and List skips
//     symlinks and other special files.
//   - On a case-insensitive filesystem keys differing only in case collide.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/txlake/txlake/storage"
)

// reservedPrefix starts the names of the store's own files and directories.
const reservedPrefix = ".txlake-"

// tmpDirName is the directory under the root that holds in-progress writes.
const tmpDirName = reservedPrefix + "tmp"

// Store is a storage.Store, storage.ConditionalPutter and storage.LocalPather
// over a local directory. It is safe for concurrent use, also by several
// processes sharing the root.
type Store struct {
	root   string // absolute, clean
	tmpDir string
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ConditionalPutter = (*Store)(nil)
	_ storage.LocalPather       = (*Store)(nil)
)

// New returns a store rooted at root, which is made absolute and created (with
// its parents, mode 0o755) if missing. It fails if root exists and is not a
// directory.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("local store: empty root path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local store %s: %w", abs, err)
	}
	return &Store{root: abs, tmpDir: filepath.Join(abs, tmpDirName)}, nil
}

// Root returns the store's absolute root directory.
func (s *Store) Root() string { return s.root }

// URL returns "file://" + the absolute path of key, unescaped (for messages).
func (s *Store) URL(key string) string { return "file://" + filepath.ToSlash(s.LocalPath(key)) }

// LocalPath returns the absolute filesystem path of key. It does not validate
// key; the other methods do.
func (s *Store) LocalPath(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Close does nothing; the store stays usable.
func (s *Store) Close() error { return nil }

func (s *Store) checkKey(op, key string) error {
	err := storage.ValidateKey(key)
	if err == nil {
		for seg := range strings.SplitSeq(key, "/") {
			if strings.HasPrefix(seg, reservedPrefix) {
				err = fmt.Errorf("%w %q: segments starting with %q are reserved", storage.ErrInvalidKey, key, reservedPrefix)
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	return nil
}

// Put writes r to a temporary file, syncs it, and renames it onto key's path,
// creating parent directories (0o755). Readers see the old file or the whole
// new one. A read error, a cancelled ctx or a byte count different from a
// non-negative size removes the temporary file and leaves key untouched.
// Concurrent Puts of one key: the last rename wins whole.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent is Put that links the temporary file to key's path only if no
// file is there (an atomic os.Link). It returns an error wrapping
// storage.ErrExists, leaving the existing object untouched, when there is one.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put-if-absent", key, r, size, true)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, size int64, exclusive bool) (err error) {
	if err := s.checkKey(op, key); err != nil {
		return err
	}
	url := s.URL(key)
	tmp, err := s.writeTemp(ctx, r, size)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, url, err)
	}
	committed := false
	defer func() {
		// After a rename tmp is gone; after a link it is a second name to drop.
		if !committed || exclusive {
			_ = os.Remove(tmp)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, url, err)
	}
	final := s.LocalPath(key)
	dir := filepath.Dir(final)
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s %s: %w", op, url, err)
		}
		if exclusive {
			err = os.Link(tmp, final)
		} else {
			err = os.Rename(tmp, final)
		}
		if err == nil {
			break
		}
		// A concurrent Delete may have pruned the empty parent in between.
		if errors.Is(err, fs.ErrNotExist) && attempt < 5 {
			continue
		}
		if exclusive && errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s %s: %w", op, url, storage.ErrExists)
		}
		return fmt.Errorf("%s %s: %w", op, url, err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%s %s: sync parent directory: %w", op, url, err)
	}
	return nil
}

// writeTemp copies r into a new synced and closed file under tmpDir and
// returns its path. On error the file is removed.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, size int64) (_ string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.tmpDir, 0o755); err != nil {
		return "", err
	}
	f, err := createTemp(s.tmpDir)
	if err != nil {
		return "", err
	}
	name := f.Name()
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = os.Remove(name)
		}
	}()

	if _, err := storage.CopyForPut(ctx, f, r, size); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", err
	}
	return name, nil
}

// createTemp creates a new file in dir with mode 0o666 before umask (unlike
// os.CreateTemp's 0o600, so that other readers of the lake can read it).
func createTemp(dir string) (*os.File, error) {
	for range 10 {
		var b [12]byte
		_, _ = rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, "put-"+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create temporary file in %s: too many collisions", dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil // the filesystem cannot sync directories
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isNotExist reports whether err means the path is not there, including a
// path component being a regular file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Open opens key's file. A missing key, or one that names a directory, returns
// an error wrapping storage.ErrNotFound. The Object is an *os.File underneath:
// ReadAt may be called in parallel; the caller closes it. An open Object keeps
// reading the version it opened if key is replaced or deleted.
func (s *Store) Open(ctx context.Context, key string) (storage.Object, error) {
	if err := s.checkKey("open", key); err != nil {
		return nil, err
	}
	url := s.URL(key)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	f, err := os.Open(s.LocalPath(key))
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("open %s: %w", url, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (not a regular file)", url, storage.ErrNotFound)
	}
	return &fileObject{File: f, size: fi.Size()}, nil
}

type fileObject struct {
	*os.File
	size int64
}

// Size returns the file's size when it was opened.
func (o *fileObject) Size() int64 { return o.size }

// Stat describes key's file, or returns an error wrapping storage.ErrNotFound
// if it is missing or a directory. ETag is "".
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.checkKey("stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	url := s.URL(key)
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", url, err)
	}
	fi, err := os.Stat(s.LocalPath(key))
	if err != nil {
		if isNotExist(err) {
			return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", url, storage.ErrNotFound)
		}
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", url, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w (not a regular file)", url, storage.ErrNotFound)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes key's file; a missing key, or one naming a directory, is not
// an error. It then removes parent directories left empty, up to but not
// including the root.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	url := s.URL(key)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", url, err)
	}
	p := s.LocalPath(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", url, err)
	}
	if fi.IsDir() {
		return nil // a directory is not an object
	}
	if err := os.Remove(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete %s: %w", url, err)
	}
	s.pruneEmptyDirs(filepath.Dir(p))
	return nil
}

// pruneEmptyDirs removes dir and its parents while they are empty, stopping
// below the root. Failures (not empty, already gone, a concurrent Put
// recreating it) just stop the pruning.
func (s *Store) pruneEmptyDirs(dir string) {
	for dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if err := syscall.Rmdir(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List calls fn for every regular file whose key starts with prefix, in
// ascending byte order of the full key. It streams: it reads one directory at
// a time, never the whole tree. Files the store reserves (".txlake-*") and
// files whose names are not valid keys are skipped. A missing prefix directory
// lists nothing. An error from fn is returned unchanged.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	return storage.ListTree(ctx, prefix, s.URL, s.readDir, fn)
}

// readDir lists the directories and regular files of the directory for
// dirKey, for storage.ListTree.
func (s *Store) readDir(_ context.Context, dirKey string) ([]storage.TreeEntry, error) {
	entries, err := os.ReadDir(s.LocalPath(dirKey))
	if err != nil {
		if isNotExist(err) {
			return nil, nil // no such directory, or removed while listing
		}
		return nil, fmt.Errorf("list %s: %w", s.URL(dirKey), err)
	}
	out := make([]storage.TreeEntry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, reservedPrefix) || (!e.IsDir() && !e.Type().IsRegular()) {
			continue
		}
		out = append(out, storage.TreeEntry{Name: name, Dir: e.IsDir(), Info: func() (int64, time.Time, bool, error) {
			fi, err := e.Info()
			if err != nil {
				if isNotExist(err) {
					return 0, time.Time{}, false, nil // deleted while listing
				}
				return 0, time.Time{}, false, fmt.Errorf("list %s: %w", s.URL(dirKey+name), err)
			}
			return fi.Size(), fi.ModTime(), true, nil
		}})
	}
	return out, nil
}
