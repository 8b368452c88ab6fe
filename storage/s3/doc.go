// Package s3 is the s3:// storage backend: a storage.Store and
// storage.ConditionalPutter over one bucket of Amazon S3 or an S3-compatible
// store (versitygw, MinIO, Ceph RGW, ...), optionally under a key prefix.
//
// Key "t/dt=2026-01-01/f.parquet" of a store with Options{Bucket: "b",
// Prefix: "lake"} is the S3 object "lake/t/dt=2026-01-01/f.parquet" in bucket
// "b"; URL returns "s3://b/lake/t/dt=2026-01-01/f.parquet".
//
// Credentials come from the standard AWS chain (environment, shared config and
// credentials files, SSO, web identity, ECS/EC2 roles). They never appear in
// the store's errors or URLs.
//
// Put is atomic because S3 publishes an object only when its PutObject or
// CompleteMultipartUpload succeeds; a failed or cancelled Put aborts its
// multipart upload. Errors wrap storage.ErrNotFound, storage.ErrExists,
// storage.ErrInvalidKey, storage.ErrUnavailable (the service could not be
// reached, or kept failing with retryable errors until the retries ran out) or
// the context's error.
package s3
