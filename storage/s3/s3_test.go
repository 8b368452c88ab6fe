package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake/leasetest"
	"github.com/txlake/txlake/storage/s3"
	"github.com/txlake/txlake/storage/s3/s3test"
	"github.com/txlake/txlake/storage/storetest"
)

func TestConformance(t *testing.T) {
	testEndpoint(t)
	newStore := func(t *testing.T) storage.Store { return newStore(t, s3.Options{}) }
	storetest.Run(t, newStore)
	storetest.RunPrefixed(t, newStore)
}

func TestLeases(t *testing.T) {
	testEndpoint(t)
	leasetest.Run(t, func(t *testing.T) storage.Store { return newStore(t, s3.Options{}) })
}

// TestConformanceWithPrefix runs the suite on a store whose Options.Prefix
// (not a wrapper) confines it.
func TestConformanceWithPrefix(t *testing.T) {
	testEndpoint(t)
	storetest.Run(t, func(t *testing.T) storage.Store { return newStore(t, s3.Options{Prefix: "lake/v1/"}) })
}

func TestWrongSecretIsNotShown(t *testing.T) {
	endpoint := testEndpoint(t)
	const secret = "wrong-secret-d41d8cd98f00b204e980"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	s, err := s3.New(t.Context(), s3.Options{Bucket: "txlake-no-such", Endpoint: endpoint, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(t.Context(), "k", strings.NewReader("x"), 1)
	if err == nil {
		t.Fatal("Put with a wrong secret key succeeded")
	}
	if _, serr := s.Stat(t.Context(), "k"); serr == nil {
		t.Fatal("Stat with a wrong secret key succeeded")
	} else {
		err = errors.Join(err, serr)
	}
	if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, secret[:12]) {
		t.Fatalf("error shows the secret: %s", msg)
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a rejected signature is not a temporary failure: %v", err)
	}
	t.Logf("error: %v", err)
}

func TestUnreachableIsUnavailable(t *testing.T) {
	// A loopback port nothing listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "txlaketest")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "txlaketestsecret")

	s, err := s3.New(t.Context(), s3.Options{Bucket: "txlake-unreachable", Endpoint: endpoint, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	checks := map[string]error{
		"Put":    s.Put(t.Context(), "k", strings.NewReader("x"), 1),
		"Delete": s.Delete(t.Context(), "k"),
		"List":   s.List(t.Context(), "", func(storage.ObjectInfo) error { return nil }),
	}
	_, checks["Stat"] = s.Stat(t.Context(), "k")
	_, checks["Open"] = s.Open(t.Context(), "k")
	for op, err := range checks {
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s on a closed port = %v, want ErrUnavailable", op, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("5 operations took %v with MaxAttempts 2", d)
	}
}

// TestMultipart checks what the suite cannot see from outside the store: a
// cancelled multipart Put leaves no upload behind, and PutIfAbsent is
// conditional for multipart objects too (If-None-Match on the completion).
func TestMultipart(t *testing.T) {
	s, client, bucket := newStoreClient(t, s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*s3.MinPartSize+123)/16)

	t.Run("CancelAborts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		r := io.MultiReader(bytes.NewReader(data[:2*s3.MinPartSize]),
			readerFunc(func([]byte) (int, error) { cancel(); return 0, io.EOF }),
			bytes.NewReader(data[2*s3.MinPartSize:]))
		if err := s.Put(ctx, "mp/cancelled", r, int64(len(data))); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled multipart Put = %v, want context.Canceled", err)
		}
		if _, err := s.Stat(t.Context(), "mp/cancelled"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat after cancelled Put = %v, want ErrNotFound", err)
		}
		out, err := client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Uploads) != 0 {
			t.Fatalf("%d multipart uploads left after a cancelled Put, want 0 (aborted)", len(out.Uploads))
		}
	})

	t.Run("PutIfAbsent", func(t *testing.T) {
		if err := s.PutIfAbsent(t.Context(), "mp/lock", bytes.NewReader(data), -1); err != nil {
			t.Fatalf("multipart PutIfAbsent: %v", err)
		}
		err := s.PutIfAbsent(t.Context(), "mp/lock", bytes.NewReader(data[:len(data)-1]), -1)
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second multipart PutIfAbsent = %v, want ErrExists", err)
		}
		if info, err := s.Stat(t.Context(), "mp/lock"); err != nil || info.Size != int64(len(data)) || info.ETag == "" {
			t.Fatalf("Stat = %+v, %v; want the first object's size %d and an ETag", info, err, len(data))
		}
	})
}

// TestPutOptions puts with a storage class and SSE-S3 requested.
func TestPutOptions(t *testing.T) {
	s, client, bucket := newStoreClient(t, s3.Options{StorageClass: "STANDARD", SSE: "AES256"})
	if err := s.Put(t.Context(), "opts/obj", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put with StorageClass and SSE: %v", err)
	}
	out, err := client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("opts/obj")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HeadObject: StorageClass %q, ServerSideEncryption %q", out.StorageClass, out.ServerSideEncryption)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opts := range []s3.Options{
		{},
		{Bucket: "Upper"},
		{Bucket: "ok-bucket", Prefix: "a/../b"},
		{Bucket: "ok-bucket", Endpoint: "ftp://x"},
		{Bucket: "ok-bucket", Endpoint: "http://user:pw@host"},
		{Bucket: "ok-bucket", SSE: "rot13"},
		{Bucket: "ok-bucket", SSE: "AES256", SSEKMSKeyID: "k"},
		{Bucket: "ok-bucket", PartSize: 1 << 20},
	} {
		if _, err := s3.New(t.Context(), opts); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", opts)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("New error shows credentials: %v", err)
		}
	}
}

func TestValidateBucket(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "my-lake.2026": true, "a.b-c": true, strings.Repeat("a", 63): true,
		"": false, "ab": false, strings.Repeat("a", 64): false, "Lake": false, "-lake": false,
		"lake-": false, "la..ke": false, "la_ke": false, "192.168.1.1": false, "lake/x": false,
	} {
		if err := s3.ValidateBucket(name); (err == nil) != ok {
			t.Errorf("ValidateBucket(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// ---- helpers ----

// testEndpoint returns $TXLAKE_TEST_S3_ENDPOINT (set by
// testdata/services/s3/start.sh), or skips the test without it, or fails it
// under TXLAKE_REQUIRE_SERVICES=1.
func testEndpoint(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv("TXLAKE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		const msg = "S3 test service not running: TXLAKE_TEST_S3_ENDPOINT is not set " +
			"(bash testdata/services/s3/start.sh && source .cache/services/s3.env)"
		if os.Getenv("TXLAKE_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return endpoint
}

// newStore creates a fresh bucket on the test service and returns a store on
// it; the bucket and its objects are removed when the test ends.
func newStore(t *testing.T, opts s3.Options) *s3.Store {
	t.Helper()
	s, _, _ := newStoreClient(t, opts)
	return s
}

// newStoreClient is newStore that also returns a raw client and the bucket.
func newStoreClient(t *testing.T, opts s3.Options) (*s3.Store, *awss3.Client, string) {
	t.Helper()
	endpoint := testEndpoint(t)
	bucket, client := s3test.Bucket(t, endpoint, "test")

	opts.Bucket, opts.Endpoint = bucket, endpoint
	s, err := s3.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, client, bucket
}
