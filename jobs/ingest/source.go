package ingest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/backend"
	"github.com/txlake/txlake/storage/lake"
)

// Format is the record format of a source.
type Format string

// Source formats.
const (
	FormatAuto  Format = "auto"
	FormatJSONL Format = "jsonl"
	FormatCSV   Format = "csv"
)

// SourceError is a problem with the sources that is the user's to fix before
// any work starts (missing file, empty glob, bad URL). It maps to exit 2.
type SourceError struct {
	Source string
	Reason string
}

func (e *SourceError) Error() string { return fmt.Sprintf("source %s: %s", e.Source, e.Reason) }

// ConfigError marks SourceError as a usage/configuration error.
func (e *SourceError) ConfigError() bool { return true }

// source is one resolved input file.
type source struct {
	url   string // file:///abs/path, s3://bucket/key, hdfs://nn/path
	path  string // local path ("" for sources in a store)
	st    storage.Store
	key   string // key in st
	etag  string // the store's version tag, when it has one
	size  int64
	sum   string // "sha256:<hex>"
	fmt   Format
	label string  // what the user wrote, for messages
	pg    *pgPull // a PostgreSQL pull (pgsource.go), nil for files
}

// resolveSources expands the user's source arguments (paths and globs) into
// a sorted, de-duplicated list of files. A missing path or a glob that
// matches nothing is a SourceError.
func resolveSources(ctx context.Context, args []string, format Format) (out []*source, err error) {
	if len(args) == 0 {
		return nil, &SourceError{Source: "(none)", Reason: "no --source given"}
	}
	var opened []*source // remote sources, whose stores must be closed on error
	defer func() {
		if err != nil {
			closeSourceStores(opened)
			out = nil
		}
	}()
	seen := map[string]bool{}
	for _, arg := range args {
		p := arg
		if strings.HasPrefix(p, "file://") {
			p = strings.TrimPrefix(p, "file://")
			if !strings.HasPrefix(p, "/") {
				return nil, &SourceError{Source: arg, Reason: "file:// URLs must be absolute (file:///path)"}
			}
		} else if i := strings.Index(p, "://"); i > 0 {
			remote, err := resolveRemote(ctx, arg, format)
			if err != nil {
				return nil, err
			}
			opened = append(opened, remote...)
			for _, r := range remote {
				if !seen[r.url] {
					seen[r.url] = true
					out = append(out, r)
				}
			}
			continue
		}
		if strings.ContainsRune(p, 0) {
			return nil, &SourceError{Source: arg, Reason: "path contains a NUL byte"}
		}
		var matches []string
		if strings.ContainsAny(p, "*?[") {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, &SourceError{Source: arg, Reason: "bad glob pattern: " + err.Error()}
			}
			for _, f := range m {
				if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
					matches = append(matches, f)
				}
			}
			if len(matches) == 0 {
				return nil, &SourceError{Source: arg, Reason: "glob matches no files"}
			}
		} else {
			st, err := os.Stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, &SourceError{Source: arg, Reason: "no such file"}
			case err != nil:
				return nil, &SourceError{Source: arg, Reason: err.Error()}
			case st.IsDir():
				return nil, &SourceError{Source: arg, Reason: "is a directory; use a glob such as " + filepath.Join(p, "*.jsonl")}
			case !st.Mode().IsRegular():
				return nil, &SourceError{Source: arg, Reason: "not a regular file"}
			}
			matches = []string{p}
		}
		for _, m := range matches {
			abs, err := filepath.Abs(m)
			if err != nil {
				return nil, &SourceError{Source: arg, Reason: err.Error()}
			}
			if seen[abs] {
				continue
			}
			seen[abs] = true
			st, err := os.Stat(abs)
			if err != nil {
				return nil, &SourceError{Source: m, Reason: err.Error()}
			}
			f := format
			if f == FormatAuto || f == "" {
				f = formatFromName(abs)
			}
			out = append(out, &source{url: "file://" + abs, path: abs, size: st.Size(), fmt: f, label: m})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].url < out[j].url })
	return out, nil
}

// formatFromName guesses the format from the extension under any
// compression suffix; FormatAuto means "sniff the content".
func formatFromName(name string) Format {
	n := strings.ToLower(name)
	for _, suf := range []string{".gz", ".gzip", ".zst", ".zstd"} {
		n = strings.TrimSuffix(n, suf)
	}
	switch {
	case strings.HasSuffix(n, ".csv"):
		return FormatCSV
	case strings.HasSuffix(n, ".jsonl"), strings.HasSuffix(n, ".json"), strings.HasSuffix(n, ".ndjson"):
		return FormatJSONL
	}
	return FormatAuto
}

// checksumSources computes the SHA-256 of every source, in parallel. The
// checksums identify the unit of input (the contribution key) before any
// row is read.
func checksumSources(ctx context.Context, srcs []*source, workers int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, s := range srcs {
		if s.pg != nil {
			continue // identified by its watermark (pgPull.source)
		}
		if s.etag != "" {
			s.sum = "etag:" + s.etag
			continue
		}
		g.Go(func() error {
			f, err := s.open(ctx)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			buf := make([]byte, 1<<20)
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				n, err := f.Read(buf)
				h.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					return fmt.Errorf("read %s: %w", s.url, err)
				}
			}
			s.sum = "sha256:" + hex.EncodeToString(h.Sum(nil))
			return nil
		})
	}
	return g.Wait()
}

func (s *source) identity() lake.Source {
	return lake.Source{URL: s.url, Bytes: s.size, Checksum: s.sum}
}

// Compression is the detected compression of a source.
type Compression string

const (
	compNone Compression = "none"
	compGzip Compression = "gzip"
	compZstd Compression = "zstd"
)

// countingReader counts the compressed bytes consumed, for progress and for
// naming the offset of a truncated stream.
type countingReader struct {
	r io.Reader
	n int64
	// onRead reports progress deltas; may be nil.
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.onRead != nil && n > 0 {
		c.onRead(int64(n))
	}
	return n, err
}

// openedSource is a source opened for decoding.
type openedSource struct {
	r      io.Reader // decompressed stream
	raw    *countingReader
	comp   Compression
	closer func() error
}

// openSource opens s and wraps it in a decompressor chosen by magic bytes.
func openSource(ctx context.Context, s *source, onRead func(int64)) (*openedSource, error) {
	f, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	cr := &countingReader{r: f, onRead: onRead}
	br := bufio.NewReaderSize(cr, 1<<20)
	magic, _ := br.Peek(4)
	o := &openedSource{raw: cr, comp: compNone, closer: f.Close}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: gzip header: %w", s.url, err)
		}
		o.r, o.comp = zr, compGzip
		o.closer = func() error { zr.Close(); return f.Close() }
	case len(magic) >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: zstd header: %w", s.url, err)
		}
		o.r, o.comp = zr, compZstd
		o.closer = func() error { zr.Close(); return f.Close() }
	default:
		o.r = br
	}
	return o, nil
}

// open opens the source's raw bytes.
func (s *source) open(ctx context.Context) (io.ReadCloser, error) {
	if s.pg != nil {
		return s.pg.reader(ctx), nil
	}
	if s.st != nil {
		obj, err := s.st.Open(ctx, s.key)
		if err != nil {
			return nil, fmt.Errorf("open source %s: %w", s.url, err)
		}
		return obj, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.url, err)
	}
	return f, nil
}

// resolveRemote expands a source URL in a store (s3://bucket/dir/*.jsonl.gz,
// hdfs://nn:8020/landing/2026/01/*/part-*) by listing the longest prefix
// without glob characters and matching keys with path.Match ("*" does not
// cross "/").
func resolveRemote(ctx context.Context, arg string, format Format) (out []*source, err error) {
	root, pattern, err := splitSourceURL(arg)
	if err != nil {
		return nil, err
	}
	st, err := backend.Open(ctx, root)
	if err != nil {
		return nil, &SourceError{Source: backend.Redact(arg), Reason: err.Error()}
	}
	defer func() {
		if len(out) == 0 {
			st.Close()
		}
	}()
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &SourceError{Source: backend.Redact(arg), Reason: "bad glob pattern: " + err.Error()}
	}
	glob := strings.ContainsAny(pattern, "*?[")
	if !glob {
		info, err := st.Stat(ctx, pattern)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, &SourceError{Source: backend.Redact(arg), Reason: "no such object"}
		}
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", backend.Redact(arg), err)
		}
		out = append(out, remoteSource(st, info, format))
		return out, nil
	}
	listPrefix := pattern
	if i := strings.IndexAny(pattern, "*?["); i >= 0 {
		listPrefix = pattern[:i]
	}
	if i := strings.LastIndexByte(listPrefix, '/'); i >= 0 {
		listPrefix = listPrefix[:i+1]
	} else {
		listPrefix = ""
	}
	err = st.List(ctx, listPrefix, func(o storage.ObjectInfo) error {
		if ok, _ := path.Match(pattern, o.Key); ok {
			out = append(out, remoteSource(st, o, format))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list source %s: %w", backend.Redact(arg), err)
	}
	if len(out) == 0 {
		return nil, &SourceError{Source: backend.Redact(arg), Reason: "glob matches no objects"}
	}
	return out, nil
}

func remoteSource(st storage.Store, o storage.ObjectInfo, format Format) *source {
	f := format
	if f == FormatAuto || f == "" {
		f = formatFromName(o.Key)
	}
	u := st.URL(o.Key)
	return &source{url: u, st: st, key: o.Key, size: o.Size, etag: strings.Trim(o.ETag, `"`), fmt: f, label: u}
}

// splitSourceURL splits s3://bucket/a/b*.gz into the store URL
// (s3://bucket) and the key pattern (a/b*.gz); hdfs://nn:8020/a/b into
// hdfs://nn:8020 and a/b.
func splitSourceURL(arg string) (root, pattern string, err error) {
	i := strings.Index(arg, "://")
	scheme := strings.ToLower(arg[:i])
	rest := arg[i+3:]
	switch scheme {
	case "s3", "hdfs", "mem":
	default:
		return "", "", &SourceError{Source: backend.Redact(arg), Reason: fmt.Sprintf("unsupported source scheme %q (want a local path or glob, file://, s3:// or hdfs://)", scheme)}
	}
	host, key, _ := strings.Cut(rest, "/")
	if key == "" {
		return "", "", &SourceError{Source: backend.Redact(arg), Reason: "the URL names no object or pattern"}
	}
	return scheme + "://" + host, key, nil
}

// closeSourceStores closes the stores that remote sources were opened in.
func closeSourceStores(srcs []*source) {
	seen := map[storage.Store]bool{}
	for _, s := range srcs {
		if s.st != nil && !seen[s.st] {
			seen[s.st] = true
			s.st.Close()
		}
	}
}
