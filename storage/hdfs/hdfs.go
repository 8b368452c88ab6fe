package hdfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"

	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"

	"github.com/txlake/txlake/storage"
)

// reservedPrefix starts the names of the store's own files and directories.
const reservedPrefix = ".txlake-"

// tmpDirName is the directory under the root that holds in-progress writes.
const tmpDirName = reservedPrefix + "tmp"

// Store is a storage.Store and storage.ConditionalPutter over an HDFS
// directory. It holds one NameNode connection (RPCs are serialised on it;
// block data goes to the DataNodes over separate connections). It is safe for
// concurrent use, also by several processes sharing the root.
type Store struct {
	client  *gohdfs.Client
	root    string // absolute, clean
	tmpDir  string
	display string // NameNode address(es) or nameservice, for URLs
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ConditionalPutter = (*Store)(nil)
)

// New connects to the NameNode(s) that o names and returns a store rooted at
// o.Root, creating the root (mode 0755) if missing. Configuration problems
// (no address, unreadable Hadoop configuration, missing Kerberos credentials)
// return a *ConfigError; a NameNode that cannot be reached returns an error
// wrapping storage.ErrUnavailable.
func New(o Options) (*Store, error) {
	root, err := cleanRoot(o.Root)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	copts, display, err := clientOptions(o)
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, tmpDir: path.Join(root, tmpDirName), display: display}
	client, err := gohdfs.NewClient(copts)
	if err != nil {
		return nil, s.fail("connect", "", err)
	}
	s.client = client
	// The client caches the server defaults lazily and without a lock; fetch
	// them now, before any concurrent use.
	if _, err := client.ServerDefaults(); err != nil {
		client.Close()
		return nil, s.fail("connect", "", err)
	}
	if err := client.MkdirAll(root, 0o755); err != nil {
		client.Close()
		return nil, s.fail("create root", "", err)
	}
	return s, nil
}

// Root returns the store's absolute HDFS root directory.
func (s *Store) Root() string { return s.root }

// URL returns "hdfs://<namenode or nameservice><root>/<key>", unescaped (for
// messages and run records).
func (s *Store) URL(key string) string {
	return "hdfs://" + s.display + s.hdfsPath(key)
}

// hdfsPath returns the absolute HDFS path of key (or of the root for "").
func (s *Store) hdfsPath(key string) string {
	if key == "" {
		return s.root
	}
	if s.root == "/" {
		return "/" + key
	}
	return s.root + "/" + key
}

// Close closes the NameNode connection. Objects opened from the store stop
// working; files still being written are abandoned (their leases expire).
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close hdfs://%s: %w", s.display, err)
	}
	return nil
}

func (s *Store) checkKey(op, key string) error {
	err := storage.ValidateKey(key)
	if err == nil {
		for seg := range strings.SplitSeq(key, "/") {
			switch {
			case strings.HasPrefix(seg, reservedPrefix):
				err = fmt.Errorf("%w %q: segments starting with %q are reserved", storage.ErrInvalidKey, key, reservedPrefix)
			case strings.IndexByte(seg, ':') >= 0:
				err = fmt.Errorf("%w %q: HDFS path names cannot contain \":\"", storage.ErrInvalidKey, key)
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	return nil
}

// fail wraps err as "<op> <url>: ...", adding storage.ErrUnavailable when the
// cluster could not be reached or asked to be retried later.
func (s *Store) fail(op, key string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("%s %s: %w: %w", op, s.URL(key), storage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s %s: %w", op, s.URL(key), err)
}

// Exceptions the NameNode uses for "not now, try again later".
var retriableExceptions = []string{
	"org.apache.hadoop.ipc.StandbyException",
	"org.apache.hadoop.ipc.RetriableException",
	"org.apache.hadoop.hdfs.server.namenode.SafeModeException",
}

// unavailable reports whether err means the NameNode or a DataNode could not
// be reached (refused, reset, timed out, closed mid-call) or is temporarily
// not serving.
func unavailable(err error) bool {
	var re *storage.ReadError
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) {
		return false
	}
	var ne net.Error
	var rerr gohdfs.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &rerr):
		return slices.Contains(retriableExceptions, rerr.Exception())
	}
	// The client flattens its dial errors into this message (no %w).
	return strings.Contains(err.Error(), "no available namenodes")
}

// isNotExist reports whether err means the path is not there, including a
// path component being a file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) ||
		strings.Contains(fmt.Sprint(err), "ParentNotDirectoryException")
}

// missing reports whether err, from looking up p, means that p does not
// exist. The NameNode refuses a path that runs through a file ("a/b" below
// the file "a") with an AccessControlException, which the client turns into
// fs.ErrPermission; then the nearest existing ancestor is checked, and if it is
// a file the path is missing rather than forbidden.
func (s *Store) missing(p string, err error) bool {
	if isNotExist(err) {
		return true
	}
	if !errors.Is(err, fs.ErrPermission) {
		return false
	}
	for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
		fi, serr := s.client.Stat(dir)
		switch {
		case serr == nil:
			return !fi.IsDir()
		case !errors.Is(serr, fs.ErrPermission):
			return isNotExist(serr)
		}
	}
	return false
}

// Put writes r to a temporary file under <root>/.txlake-tmp/, closes it (the
// NameNode then has every block), and renames it onto key's path, creating
// parent directories (0755). The rename replaces an existing file in one
// NameNode operation, so readers see the old file or the whole new one. A
// read error, a cancelled ctx or a byte count different from a non-negative
// size removes the temporary file and leaves key untouched. Concurrent Puts of
// one key: the last rename wins whole.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent is Put that stores r under key only if no file is there, and
// returns an error wrapping storage.ErrExists, leaving the existing object
// untouched, when there is one.
//
// What is atomic: the content is first written in full to a temporary file.
// Then the key is claimed with HDFS's exclusive create (one NameNode
// operation: exactly one of any number of racing writers wins, the others get
// storage.ErrExists), which leaves an empty file at key; the temporary file is
// then renamed over that claim (one more NameNode operation). Between the two
// operations a reader can see key as an empty (0-byte) object, never a partial
// one. If the process dies in between, key stays an empty object; if the
// rename fails, PutIfAbsent removes the claim again and returns the error.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put-if-absent", key, r, size, true)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, size int64, exclusive bool) error {
	if err := s.checkKey(op, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, s.URL(key), err)
	}
	tmp, err := s.writeTemp(ctx, r, size)
	if err != nil {
		return s.fail(op, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.client.Remove(tmp)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, s.URL(key), err)
	}
	final := s.hdfsPath(key)
	if exclusive {
		if err := s.claim(ctx, final); err != nil {
			return s.fail(op, key, err)
		}
	}
	err = s.withParent(final, func() error { return s.client.Rename(tmp, final) })
	if err != nil {
		if exclusive {
			_ = s.client.Remove(final) // the empty claim
		}
		return s.fail(op, key, err)
	}
	committed = true
	return nil
}

// withParent runs fn after creating the parent directory of p, again when fn
// fails because the parent is gone (a concurrent Delete may prune an empty
// directory in between).
func (s *Store) withParent(p string, fn func() error) error {
	dir := path.Dir(p)
	for attempt := 0; ; attempt++ {
		if err := s.client.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		err := fn()
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt >= 5 {
			return err
		}
	}
}

// claim creates p as an empty file, exclusively. It returns an error wrapping
// storage.ErrExists when p exists (or is being created by another writer).
func (s *Store) claim(ctx context.Context, p string) error {
	var w *gohdfs.FileWriter
	err := s.withParent(p, func() (err error) {
		w, err = s.client.Create(p)
		return err
	})
	if errors.Is(err, fs.ErrExist) {
		return storage.ErrExists
	}
	if err != nil {
		return err
	}
	if err := closeWriter(ctx, w); err != nil {
		_ = s.client.Remove(p)
		return err
	}
	return nil
}

// closeWriter closes w, retrying while the NameNode reports the last block as
// still replicating (gohdfs.ErrReplicating), with a backoff from 20 ms to 1 s
// (about 15 s in all), as the Java client does. It never drops an error.
func closeWriter(ctx context.Context, w *gohdfs.FileWriter) error {
	backoff := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := w.Close()
		if err == nil || !gohdfs.IsErrReplicating(err) {
			return err
		}
		if attempt >= 20 {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while closing)", ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// writeTemp copies r into a new, closed file under tmpDir and returns its
// path. On error the file is removed.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, size int64) (_ string, err error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	name := path.Join(s.tmpDir, "put-"+hex.EncodeToString(b[:]))
	var w *gohdfs.FileWriter
	err = s.withParent(name, func() (err error) {
		w, err = s.client.Create(name)
		return err
	})
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			// Abandoned: close to release the lease (its error does not
			// matter, the file is removed), then remove.
			if w != nil {
				_ = w.Close()
			}
			_ = s.client.Remove(name)
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		if err := w.SetDeadline(dl); err != nil {
			return "", err
		}
	}

	if _, err := storage.CopyForPut(ctx, w, r, size); err != nil {
		return "", err
	}
	err = closeWriter(ctx, w)
	w = nil
	if err != nil {
		return "", err
	}
	return name, nil
}

// statFile returns the file at p, or an error wrapping storage.ErrNotFound if
// it is missing, a directory or a symlink.
func (s *Store) statFile(op, key, p string) (*gohdfs.FileInfo, error) {
	fi, err := s.client.Stat(p)
	if err != nil {
		if s.missing(p, err) {
			return nil, fmt.Errorf("%s %s: %w", op, s.URL(key), storage.ErrNotFound)
		}
		return nil, s.fail(op, key, err)
	}
	hfi, ok := fi.(*gohdfs.FileInfo)
	if !ok || !isFile(hfi) {
		return nil, fmt.Errorf("%s %s: %w (not a regular file)", op, s.URL(key), storage.ErrNotFound)
	}
	return hfi, nil
}

// isFile reports whether fi is a regular file (not a directory or symlink).
func isFile(fi *gohdfs.FileInfo) bool {
	st, _ := fi.Sys().(*gohdfs.FileStatus)
	return !fi.IsDir() && st != nil && len(st.GetSymlink()) == 0
}

// Open opens key's file for reading. A missing key, or one naming a directory,
// returns an error wrapping storage.ErrNotFound. The object reads the version
// of the file that Open found (it is opened by inode, /.reserved/.inodes/<id>),
// so a concurrent Put of the key does not mix versions; if that version is
// deleted, later reads fail. Read is sequential; ReadAt may be called in
// parallel (each concurrent ReadAt uses its own reader). The caller closes it.
func (s *Store) Open(ctx context.Context, key string) (storage.Object, error) {
	if err := s.checkKey("open", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", s.URL(key), err)
	}
	fi, err := s.statFile("open", key, s.hdfsPath(key))
	if err != nil {
		return nil, err
	}
	p := s.hdfsPath(key)
	if id := fi.Sys().(*gohdfs.FileStatus).GetFileId(); id != 0 {
		p = fmt.Sprintf("/.reserved/.inodes/%d", id)
	}
	fr, err := s.client.Open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("open %s: %w (deleted while opening)", s.URL(key), storage.ErrNotFound)
		}
		return nil, s.fail("open", key, err)
	}
	return &object{s: s, key: key, path: p, seq: fr, size: fr.Stat().Size()}, nil
}

// object is an open HDFS file: seq serves Read, and a small pool of further
// readers serves ReadAt, since a FileReader is not safe for concurrent use.
type object struct {
	s    *Store
	key  string
	path string
	size int64

	seqMu sync.Mutex
	seq   *gohdfs.FileReader

	mu     sync.Mutex
	idle   []*gohdfs.FileReader
	closed bool
}

// Size returns the file's size when it was opened.
func (o *object) Size() int64 { return o.size }

func (o *object) Read(p []byte) (int, error) {
	o.seqMu.Lock()
	defer o.seqMu.Unlock()
	n, err := o.seq.Read(p)
	if err != nil && err != io.EOF {
		err = o.s.fail("read", o.key, err)
	}
	return n, err
}

// ReadAt reads len(p) bytes at off, returning io.EOF with fewer bytes at the
// end of the object. It is safe to call in parallel.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", o.s.URL(o.key), off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	fr, err := o.reader()
	if err != nil {
		return 0, err
	}
	n, err := fr.ReadAt(p, off)
	if err != nil && err != io.EOF {
		_ = fr.Close()
		return n, o.s.fail("read", o.key, err)
	}
	o.release(fr)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func (o *object) reader() (*gohdfs.FileReader, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, fmt.Errorf("read %s: %w", o.s.URL(o.key), fs.ErrClosed)
	}
	if n := len(o.idle); n > 0 {
		fr := o.idle[n-1]
		o.idle = o.idle[:n-1]
		o.mu.Unlock()
		return fr, nil
	}
	o.mu.Unlock()
	fr, err := o.s.client.Open(o.path)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("read %s: %w (deleted since it was opened)", o.s.URL(o.key), storage.ErrNotFound)
		}
		return nil, o.s.fail("read", o.key, err)
	}
	return fr, nil
}

func (o *object) release(fr *gohdfs.FileReader) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || len(o.idle) >= 8 {
		_ = fr.Close()
		return
	}
	o.idle = append(o.idle, fr)
}

// Close closes every reader of the object.
func (o *object) Close() error {
	o.mu.Lock()
	idle := o.idle
	o.idle, o.closed = nil, true
	o.mu.Unlock()
	o.seqMu.Lock()
	err := o.seq.Close()
	o.seqMu.Unlock()
	for _, fr := range idle {
		if cerr := fr.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", o.s.URL(o.key), err)
	}
	return nil
}

// Stat describes key's file, or returns an error wrapping storage.ErrNotFound
// if it is missing or a directory. ModTime has millisecond precision; ETag is
// "".
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.checkKey("stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", s.URL(key), err)
	}
	fi, err := s.statFile("stat", key, s.hdfsPath(key))
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes key's file; a missing key, or one naming a directory, is not
// an error. It then removes parent directories left empty, up to but not
// including the root (a failure there just stops the pruning).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", s.URL(key), err)
	}
	p := s.hdfsPath(key)
	fi, err := s.client.Stat(p)
	if err != nil {
		if s.missing(p, err) {
			return nil
		}
		return s.fail("delete", key, err)
	}
	if fi.IsDir() {
		return nil // a directory is not an object
	}
	if err := s.client.Remove(p); err != nil && !isNotExist(err) {
		return s.fail("delete", key, err)
	}
	for dir := path.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root) && dir != "/"; dir = path.Dir(dir) {
		// A non-recursive delete fails on a directory that is not empty.
		if s.client.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List calls fn for every file whose key starts with prefix, in ascending byte
// order of the full key. It reads one directory at a time (each listing is
// paginated by the NameNode), never the whole tree at once. The store's own
// files (".txlake-*") and names that are not valid keys are skipped. A
// missing prefix directory lists nothing. An error from fn is returned
// unchanged.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	return storage.ListTree(ctx, prefix, s.URL, s.readDir, fn)
}

// readDir lists the directories and regular files of the directory for
// dirKey, for storage.ListTree.
func (s *Store) readDir(_ context.Context, dirKey string) ([]storage.TreeEntry, error) {
	dir := s.hdfsPath(strings.TrimSuffix(dirKey, "/"))
	entries, err := s.client.ReadDir(dir)
	if err != nil {
		if s.missing(dir, err) || strings.Contains(err.Error(), "not a directory") {
			return nil, nil // no such directory, a file, or removed while listing
		}
		return nil, s.fail("list", dirKey, err)
	}
	out := make([]storage.TreeEntry, 0, len(entries))
	for _, e := range entries {
		fi, ok := e.(*gohdfs.FileInfo)
		if !ok || strings.HasPrefix(e.Name(), reservedPrefix) || (!fi.IsDir() && !isFile(fi)) {
			continue
		}
		out = append(out, storage.TreeEntry{Name: e.Name(), Dir: fi.IsDir(), Info: func() (int64, time.Time, bool, error) {
			return fi.Size(), fi.ModTime(), true, nil
		}})
	}
	return out, nil
}
