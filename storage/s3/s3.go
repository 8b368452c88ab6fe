package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/txlake/txlake/storage"
)

// Defaults for the zero values of Options.
const (
	// DefaultPartSize is the multipart part size. Objects smaller than one
	// part are sent with a single PutObject.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest allowed part (all but the last).
	MinPartSize = 5 << 20
	// DefaultConcurrency is the number of parts of one Put in flight at once.
	// A Put holds at most (Concurrency+1) parts in memory.
	DefaultConcurrency = 4
	// DefaultMaxAttempts is the number of attempts per request, the first
	// included, before a retryable failure is returned as
	// storage.ErrUnavailable.
	DefaultMaxAttempts = 6
	// MaxBackoff caps the (exponential, jittered) delay between attempts.
	MaxBackoff = 20 * time.Second
	// abortTimeout bounds the AbortMultipartUpload sent after a failed or
	// cancelled Put (on a fresh context, so it runs after cancellation too).
	abortTimeout = 30 * time.Second
	// readRetries is how often a read that broke off mid-stream is resumed
	// with a ranged GET before its error is returned.
	readRetries = 3
)

// PathStyleEnv, when "1" or "true", forces path-style addressing
// (https://endpoint/bucket/key) even for AWS endpoints.
const PathStyleEnv = "TXLAKE_S3_PATH_STYLE"

// Options configures a Store. Only Bucket is required.
type Options struct {
	// Bucket is the bucket name; see ValidateBucket.
	Bucket string
	// Prefix is prepended (with "/") to every key. "" is the bucket's root.
	// It must be a valid key (storage.ValidateKey) after trimming slashes.
	Prefix string
	// Endpoint overrides the S3 endpoint, e.g. "http://127.0.0.1:7070" for
	// an S3-compatible store. "" uses the SDK's own resolution, which honours
	// AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
	Endpoint string
	// PathStyle forces path-style addressing. It is also forced when any
	// custom endpoint is configured (Endpoint, AWS_ENDPOINT_URL_S3,
	// AWS_ENDPOINT_URL or endpoint_url in the shared config), or when
	// $TXLAKE_S3_PATH_STYLE is "1" or "true".
	PathStyle bool
	// Region overrides the region from the AWS chain (AWS_REGION, profile).
	// When neither sets one, "us-east-1" is used.
	Region string
	// StorageClass is sent with every Put ("" leaves the bucket's default,
	// STANDARD on AWS), e.g. "STANDARD_IA", "INTELLIGENT_TIERING".
	StorageClass string
	// SSE is the server-side encryption requested on Put: "" (the bucket's
	// default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).
	SSE string
	// SSEKMSKeyID is the KMS key for SSE "aws:kms" ("" uses the AWS managed
	// key). It is an error with any other SSE.
	SSEKMSKeyID string
	// PartSize is the multipart part size in bytes; 0 means
	// DefaultPartSize, and it must be at least MinPartSize. With a known
	// size, parts grow as needed to stay within S3's 10,000 parts; with size
	// -1 the largest object is 10,000 × PartSize.
	PartSize int64
	// Concurrency is the number of parts uploaded in parallel per Put; 0
	// means DefaultConcurrency.
	Concurrency int
	// MaxAttempts is the number of attempts per request; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
}

// Store is a storage.Store and storage.ConditionalPutter over an S3 bucket.
// It is safe for concurrent use.
type Store struct {
	client   *awss3.Client
	uploader *transfermanager.Client
	retryer  aws.Retryer
	bucket   string
	prefix   string // "" or ends in "/"
	opts     Options
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.ConditionalPutter = (*Store)(nil)
)

var (
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipv4RE   = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
)

// ValidateBucket reports whether name is a valid S3 bucket name: 3 to 63
// characters of lowercase letters, digits, dots and hyphens, starting and
// ending with a letter or digit, without "..", and not shaped like an IPv4
// address. It returns nil or an error saying what is wrong.
func ValidateBucket(name string) error {
	switch {
	case name == "":
		return errors.New("empty bucket name")
	case len(name) < 3 || len(name) > 63:
		return fmt.Errorf("bucket name %q: want 3 to 63 characters", name)
	case !bucketRE.MatchString(name):
		return fmt.Errorf("bucket name %q: want lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("bucket name %q: contains \"..\"", name)
	case ipv4RE.MatchString(name):
		return fmt.Errorf("bucket name %q: looks like an IP address", name)
	}
	return nil
}

// New returns a store for opts.Bucket under opts.Prefix. It loads the AWS
// configuration (credentials are resolved lazily, on the first request) and
// does not contact the service, so a missing bucket or bad credentials show
// up as errors of the first operation. It fails for invalid Options.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := ValidateBucket(opts.Bucket); err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	prefix := strings.Trim(opts.Prefix, "/")
	if prefix != "" {
		if err := storage.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 store s3://%s: prefix: %w", opts.Bucket, err)
		}
		prefix += "/"
	}
	where := "s3://" + opts.Bucket + "/" + prefix
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("s3 store %s: endpoint must be an http:// or https:// URL with a host and no credentials", where)
		}
	}
	switch opts.SSE {
	case "", string(s3types.ServerSideEncryptionAes256), string(s3types.ServerSideEncryptionAwsKms):
	default:
		return nil, fmt.Errorf("s3 store %s: SSE %q: want \"\", \"AES256\" or \"aws:kms\"", where, opts.SSE)
	}
	if opts.SSEKMSKeyID != "" && opts.SSE != string(s3types.ServerSideEncryptionAwsKms) {
		return nil, fmt.Errorf("s3 store %s: an SSE-KMS key id needs SSE \"aws:kms\"", where)
	}
	switch {
	case opts.PartSize == 0:
		opts.PartSize = DefaultPartSize
	case opts.PartSize < MinPartSize:
		return nil, fmt.Errorf("s3 store %s: part size %d is below S3's minimum of %d bytes", where, opts.PartSize, MinPartSize)
	}
	switch {
	case opts.Concurrency == 0:
		opts.Concurrency = DefaultConcurrency
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("s3 store %s: negative concurrency %d", where, opts.Concurrency)
	}
	switch {
	case opts.MaxAttempts == 0:
		opts.MaxAttempts = DefaultMaxAttempts
	case opts.MaxAttempts < 0:
		return nil, fmt.Errorf("s3 store %s: negative max attempts %d", where, opts.MaxAttempts)
	}

	// Exponential backoff with full jitter (the standard retryer's default),
	// on throttling, 5xx, timeouts and connection errors. No client-side
	// retry quota: a batch job against a throttling bucket should back off,
	// not fail early because a token bucket ran dry.
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
	})
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return retryer }),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: load AWS configuration: %w", where, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := opts.PathStyle || opts.Endpoint != "" || cfg.BaseEndpoint != nil ||
		os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	if v := os.Getenv(PathStyleEnv); v == "1" || strings.EqualFold(v, "true") {
		pathStyle = true
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = pathStyle
		// The SDK's default logger prints plain lines to stderr, which would
		// break the CLI's JSON-lines logs; the store reports through errors.
		o.Logger = logging.Nop{}
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	uploader := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = opts.PartSize
		o.MultipartUploadThreshold = opts.PartSize
		o.Concurrency = opts.Concurrency
		o.ChecksumAlgorithm = tmtypes.ChecksumAlgorithmCrc32
		o.FailTimeout = abortTimeout
	})
	return &Store{
		client:   client,
		uploader: uploader,
		retryer:  retryer,
		bucket:   opts.Bucket,
		prefix:   prefix,
		opts:     opts,
	}, nil
}

// URL returns "s3://bucket/prefix/key" (the key unescaped, for messages).
func (s *Store) URL(key string) string {
	if key == "" {
		return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
	}
	return "s3://" + s.bucket + "/" + s.prefix + key
}

// Close does nothing; the store stays usable.
func (s *Store) Close() error { return nil }

// objectKey validates key and returns its S3 object key.
func (s *Store) objectKey(op, key string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, s.URL(""), err)
	}
	return s.prefix + key, nil
}

// Put uploads r to key. Objects smaller than one part go in a single
// PutObject; larger or unknown-size ones stream as a multipart upload with up
// to Concurrency parts in flight, so memory stays bounded by
// (Concurrency+1) × PartSize whatever the object's size. Every request carries
// a CRC32 checksum the service verifies. A read error, a byte count different
// from a non-negative size, or a cancelled ctx aborts the upload: the key
// keeps its previous object (or none). The error then wraps ctx.Err() when ctx
// was cancelled.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent is Put with "If-None-Match: *" on the PutObject (or on the
// CompleteMultipartUpload), so the service creates the object only if key has
// none. When it has, the error wraps storage.ErrExists (HTTP 412
// PreconditionFailed, or 409 ConditionalRequestConflict when a concurrent
// conditional write of the same key is in progress).
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put-if-absent", key, r, size, true)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, size int64, ifAbsent bool) error {
	objKey, err := s.objectKey(op, key)
	if err != nil {
		return err
	}
	url := s.URL(key)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, url, err)
	}
	in := &transfermanager.UploadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(objKey),
		Body:         &checkedReader{ctx: ctx, r: r, want: size},
		StorageClass: tmtypes.StorageClass(s.opts.StorageClass),
	}
	if size >= 0 {
		in.ContentLength = aws.Int64(size)
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = tmtypes.ServerSideEncryption(s.opts.SSE)
		if s.opts.SSEKMSKeyID != "" {
			in.SSEKMSKeyID = aws.String(s.opts.SSEKMSKeyID)
		}
	}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.uploader.UploadObject(ctx, in); err != nil {
		if ifAbsent && isExists(err) {
			return fmt.Errorf("%s %s: %w", op, url, storage.ErrExists)
		}
		return s.wrap(ctx, op, url, err)
	}
	return nil
}

// errSizeMismatch is returned by checkedReader.
var errSizeMismatch = errors.New("size mismatch")

// checkedReader passes r through, failing when ctx is done or when r yields
// more or fewer bytes than want (if want >= 0). Failing the read (rather than
// checking afterwards) is what makes the uploader abort before it commits.
type checkedReader struct {
	ctx  context.Context
	r    io.Reader
	want int64
	n    int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.want >= 0 {
		switch {
		case c.n > c.want:
			return n, fmt.Errorf("%w: the reader yielded more than the declared %d bytes", errSizeMismatch, c.want)
		case err == io.EOF && c.n != c.want:
			return n, fmt.Errorf("%w: the reader yielded %d bytes, the declared size is %d", errSizeMismatch, c.n, c.want)
		}
	}
	return n, err
}

// Open returns the object at key. It sends a HeadObject for the size and ETag;
// reads send GetObjects on demand (Read one streaming GET from the current
// offset, ReadAt one ranged GET per call), all with If-Match on that ETag, so
// an object replaced after Open fails the read instead of mixing versions.
// The reads use ctx: cancelling it fails them. Open of a missing key returns
// an error wrapping storage.ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (storage.Object, error) {
	objKey, err := s.objectKey("open", key)
	if err != nil {
		return nil, err
	}
	url := s.URL(key)
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)})
	if err != nil {
		return nil, s.wrap(ctx, "open", url, err)
	}
	return &object{
		s: s, ctx: ctx, key: objKey, url: url,
		size: aws.ToInt64(out.ContentLength), etag: aws.ToString(out.ETag),
	}, nil
}

// Stat describes key with a HeadObject: size, last-modified time and ETag
// (without quotes). A missing key returns an error wrapping
// storage.ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	objKey, err := s.objectKey("stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)})
	if err != nil {
		return storage.ObjectInfo{}, s.wrap(ctx, "stat", s.URL(key), err)
	}
	return storage.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    strings.Trim(aws.ToString(out.ETag), `"`),
	}, nil
}

// Delete removes key with a DeleteObject. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	objKey, err := s.objectKey("delete", key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)})
	if err != nil && !isNotFound(err) {
		return s.wrap(ctx, "delete", s.URL(key), err)
	}
	return nil
}

// List pages through ListObjectsV2 under the store prefix + prefix and calls
// fn for each object, in the ascending byte order S3 returns. Objects whose
// relative names are not valid keys (such as "dir/" markers or "a//b") are
// skipped. If the service ever returns keys out of order, List fails rather
// than break the contract.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list %s: %w", s.URL(""), err)
	}
	url := s.URL(prefix)
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	last := ""
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.wrap(ctx, "list", url, err)
		}
		for _, obj := range page.Contents {
			full := aws.ToString(obj.Key)
			if full <= last && last != "" {
				return fmt.Errorf("list %s: the service returned %q after %q, not in ascending order", url, full, last)
			}
			last = full
			key, ok := strings.CutPrefix(full, s.prefix)
			if !ok || storage.ValidateKey(key) != nil {
				continue
			}
			err := fn(storage.ObjectInfo{
				Key:     key,
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
				ETag:    strings.Trim(aws.ToString(obj.ETag), `"`),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// wrap names the operation and object and classifies err: a cancelled or
// expired ctx wraps ctx.Err(); a missing object wraps storage.ErrNotFound; a
// retryable failure (network, timeout, throttling, 5xx) that outlasted the
// retries wraps storage.ErrUnavailable. Messages are the SDK's, which carry
// the HTTP status, the service's error code and request id, never
// credentials.
func (s *Store) wrap(ctx context.Context, op, url string, err error) error {
	var maxAttempts *retry.MaxAttemptsError
	switch {
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("%s %s: %w: %w", op, url, ctx.Err(), err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, url, err)
	case isNotFound(err):
		return fmt.Errorf("%s %s: %w", op, url, storage.ErrNotFound)
	case apiCode(err) == "InvalidObjectState":
		return fmt.Errorf("%s %s: %w: %w", op, url, storage.ErrArchived, err)
	case errors.As(err, &maxAttempts), s.retryer.IsErrorRetryable(err):
		return fmt.Errorf("%s %s: %w: %w", op, url, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s %s: %w", op, url, err)
}

// isNotFound reports a missing object: NoSuchKey (GET), NotFound or a bare
// 404 (HEAD has no error body).
func isNotFound(err error) bool {
	var noKey *s3types.NoSuchKey
	var notFound *s3types.NotFound
	if errors.As(err, &noKey) || errors.As(err, &notFound) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
		return false
	}
	return httpStatus(err) == http.StatusNotFound
}

// isExists reports a failed If-None-Match: 412 PreconditionFailed, or 409
// ConditionalRequestConflict (a concurrent conditional write of the key).
func isExists(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
