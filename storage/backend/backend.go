// Package backend turns a lake URL into a storage.Store. Open is the one
// explicit registry of URL schemes; backends are never registered by blank
// imports.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/hdfs"
	"github.com/txlake/txlake/storage/local"
	"github.com/txlake/txlake/storage/mem"
	"github.com/txlake/txlake/storage/prefix"
	"github.com/txlake/txlake/storage/s3"
)

// URLError is a configuration error in a lake URL: the URL is empty,
// malformed, or names a scheme this build cannot open. The CLI exits with code
// 2 for it (see ConfigError).
type URLError struct {
	// URL is the offending URL with any userinfo (credentials) redacted.
	URL string
	// Reason says what is wrong and what is accepted.
	Reason string
}

// Error returns `lake URL "<redacted URL>": <reason>`.
func (e *URLError) Error() string { return fmt.Sprintf("lake URL %q: %s", e.URL, e.Reason) }

// ConfigError reports true: a bad URL is a configuration error (exit code 2).
func (e *URLError) ConfigError() bool { return true }

const accepted = "want a path, file://, s3:// or hdfs://"

// Open returns the store for a lake URL:
//
//   - a bare path, relative or absolute ("./lake", "/data/lake"), or
//     file:///abs/path (empty host): a local.Store rooted there, created if
//     missing;
//   - mem:// : a new, empty in-memory store (each call returns a different
//     one); mem://a/b is the same under the prefix "a/b";
//   - s3://bucket/prefix: an s3.Store on the bucket, keys under prefix (may be
//     empty). Credentials come from the AWS chain, never from the URL. The
//     endpoint is $TXLAKE_S3_ENDPOINT when set (for S3-compatible stores;
//     path-style addressing then), else the SDK's (AWS_ENDPOINT_URL_S3,
//     AWS_ENDPOINT_URL, or AWS itself). $TXLAKE_S3_MAX_ATTEMPTS, when set,
//     is the number of attempts per request (a bad value is an *EnvError,
//     exit code 2). Nothing is contacted yet;
//   - hdfs://namenode:port/path, hdfs://nameservice/path or hdfs:///path: an
//     hdfs.Store rooted at path (created if missing). A nameservice, and the
//     NameNode of hdfs:///path (fs.defaultFS), come from the Hadoop
//     configuration in $HADOOP_CONF_DIR; the user is $HADOOP_USER_NAME or the
//     OS user, or Kerberos when the configuration says so (see
//     docs/storage-hdfs.md). The NameNode is contacted now: an unreachable
//     one is storage.ErrUnavailable, a configuration problem an
//     *hdfs.ConfigError (exit code 2);
//
// A string counts as a URL when it starts with a scheme of two or more letters
// followed by ":" ("C:\lake" is a path). An empty string, an unknown scheme, a
// URL with a query or a fragment, a file URL with a host or userinfo, or a
// malformed URL returns a *URLError. Errors never contain the URL's userinfo.
// Failing to create a local root is an ordinary error (exit code 1).
func Open(ctx context.Context, rawURL string) (storage.Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	loc, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch loc.scheme {
	case "file":
		s, err := local.New(loc.path)
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", Redact(rawURL), err)
		}
		return s, nil
	case "mem":
		return prefix.New(mem.New(), loc.path), nil
	case "s3":
		attempts, err := s3MaxAttempts()
		if err != nil {
			return nil, err
		}
		s, err := s3.New(ctx, s3.Options{Bucket: loc.host, Prefix: loc.path, Endpoint: os.Getenv(S3EndpointEnv), MaxAttempts: attempts,
			StorageClass: os.Getenv(S3StorageClassEnv), SSE: os.Getenv(S3SSEEnv), SSEKMSKeyID: os.Getenv(S3SSEKMSKeyEnv)})
		if err != nil {
			return nil, &URLError{URL: Redact(rawURL), Reason: err.Error()}
		}
		return s, nil
	case "hdfs":
		s, err := hdfs.New(loc.hdfs)
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", Redact(rawURL), err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("open lake %s: internal error: unhandled scheme %q", Redact(rawURL), loc.scheme)
}

// S3EndpointEnv names the variable that overrides the S3 endpoint of s3://
// lakes, e.g. "http://127.0.0.1:7070" for versitygw or MinIO (the CLI's
// --s3-endpoint flag sets it).
const S3EndpointEnv = "TXLAKE_S3_ENDPOINT"

// S3MaxAttemptsEnv names the variable that sets the number of attempts per
// S3 request, the first included (an integer >= 1; unset or empty means
// s3.DefaultMaxAttempts). The AWS SDK's own AWS_MAX_ATTEMPTS has no effect,
// because the store brings its own retryer.
const S3MaxAttemptsEnv = "TXLAKE_S3_MAX_ATTEMPTS"

// Variables that set options of every S3 Put: the storage class (e.g.
// STANDARD_IA, GLACIER_IR) and server-side encryption ("AES256" for SSE-S3,
// "aws:kms" for SSE-KMS, with an optional KMS key id).
const (
	S3StorageClassEnv = "TXLAKE_S3_STORAGE_CLASS"
	S3SSEEnv          = "TXLAKE_S3_SSE"
	S3SSEKMSKeyEnv    = "TXLAKE_S3_SSE_KMS_KEY_ID"
)

// EnvError is a configuration error in an environment variable (exit code 2).
type EnvError struct {
	Name, Value, Reason string
}

func (e *EnvError) Error() string { return fmt.Sprintf("$%s=%q: %s", e.Name, e.Value, e.Reason) }

// ConfigError reports true: a bad setting is a configuration error.
func (e *EnvError) ConfigError() bool { return true }

// s3MaxAttempts parses $TXLAKE_S3_MAX_ATTEMPTS; 0 means the default.
func s3MaxAttempts() (int, error) {
	v := strings.TrimSpace(os.Getenv(S3MaxAttemptsEnv))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &EnvError{Name: S3MaxAttemptsEnv, Value: v, Reason: "want an integer >= 1 (attempts per S3 request, the first included)"}
	}
	return n, nil
}

// location is a parsed, validated lake URL.
type location struct {
	scheme string // "file" (also for bare paths), "mem" or "s3"
	host   string // bucket for "s3"
	path   string // filesystem path for "file", key prefix for "mem" and "s3"

	hdfs hdfs.Options // scheme "hdfs": NameNode(s) or nameservice, and root
}

// parse validates rawURL without touching anything.
func parse(rawURL string) (location, error) {
	shown := Redact(rawURL)
	bad := func(format string, args ...any) error {
		return &URLError{URL: shown, Reason: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(rawURL) == "" {
		return location{}, bad("empty (%s)", accepted)
	}
	if strings.IndexByte(rawURL, 0) >= 0 {
		return location{}, bad("contains a NUL byte")
	}
	if _, ok := scheme(rawURL); !ok {
		return location{scheme: "file", path: rawURL}, nil // a bare path
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if shown == rawURL && errors.As(err, &ue) {
			return location{}, bad("malformed: %v", ue.Err)
		}
		return location{}, bad("malformed") // the detail might quote a password
	}
	if u.RawQuery != "" || u.ForceQuery {
		return location{}, bad("query strings are not supported")
	}
	if u.Fragment != "" {
		return location{}, bad("fragments are not supported")
	}

	switch u.Scheme {
	case "file":
		switch {
		case u.User != nil:
			return location{}, bad("a file URL cannot carry credentials")
		case u.Host != "":
			return location{}, bad("a file URL must have an empty host, like file:///abs/path (got host %q); use a bare path for relative locations", u.Host)
		case u.Opaque != "" || !strings.HasPrefix(u.Path, "/"):
			return location{}, bad("a file URL must hold an absolute path, like file:///abs/path; use a bare path for relative locations")
		}
		return location{scheme: "file", path: u.Path}, nil
	case "mem":
		if u.User != nil || u.Opaque != "" {
			return location{}, bad("want mem:// or mem://name/prefix")
		}
		p := strings.Trim(u.Host+u.Path, "/")
		if p != "" {
			if err := storage.ValidateKey(p); err != nil {
				return location{}, bad("bad prefix: %v", err)
			}
		}
		return location{scheme: "mem", path: p}, nil

	// Remote backends, each in its own case.
	case "s3":
		switch {
		case u.User != nil:
			return location{}, bad("an s3 URL cannot carry credentials; use the AWS credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...)")
		case u.Opaque != "":
			return location{}, bad("want s3://bucket or s3://bucket/prefix")
		case u.Port() != "" || strings.HasSuffix(u.Host, ":"):
			return location{}, bad("an s3 URL names a bucket, not a host:port; set the endpoint with $%s", S3EndpointEnv)
		}
		if err := s3.ValidateBucket(u.Host); err != nil {
			return location{}, bad("%v", err)
		}
		p := strings.Trim(u.Path, "/")
		if p != "" {
			if err := storage.ValidateKey(p); err != nil {
				return location{}, bad("bad prefix: %v", err)
			}
		}
		return location{scheme: "s3", host: u.Host, path: p}, nil

	case "hdfs":
		o, err := hdfs.OptionsFromURL(u)
		if err != nil {
			return location{}, bad("%v", err)
		}
		return location{scheme: "hdfs", hdfs: o}, nil
	}
	return location{}, bad("unsupported scheme %q (%s)", u.Scheme, accepted)
}

// scheme returns the URL scheme of s, lower-cased, if s starts with one of at
// least two characters (RFC 3986: a letter, then letters, digits, "+", "-" or
// "."), followed by ":".
func scheme(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':' && i >= 2:
			return strings.ToLower(s[:i]), true
		default:
			return "", false
		}
	}
	return "", false
}

// Redact returns rawURL with the userinfo (user name and password) replaced by
// "REDACTED", for messages and run records: "s3://key:secret@host/b" becomes
// "s3://REDACTED@host/b". Strings without a scheme are returned unchanged.
func Redact(rawURL string) string {
	var start int
	if sch, ok := scheme(rawURL); ok {
		start = len(sch) + 1
		if strings.HasPrefix(rawURL[start:], "//") {
			start += 2
		}
	} else if i := strings.Index(rawURL, "://"); i >= 0 {
		start = i + 3
	} else {
		return rawURL
	}
	end := len(rawURL)
	if i := strings.IndexAny(rawURL[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(rawURL[start:end], '@')
	if at < 0 {
		return rawURL
	}
	return rawURL[:start] + "REDACTED" + rawURL[start+at:]
}
