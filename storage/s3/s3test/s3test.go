// Package s3test gives tests a fresh bucket on the S3 test service
// (versitygw, testdata/services/s3), removed with its objects when the test
// ends. It is a non-test package so every package's tests can use it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

var seq atomic.Int64

// Bucket creates a bucket named "txlake-<kind>-…" on endpoint with the
// standard AWS credential chain and path-style addressing, and returns its
// name and a client for it. The bucket and its objects are deleted when the
// test ends.
func Bucket(t *testing.T, endpoint, kind string) (string, *awss3.Client) {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	var b [4]byte
	_, _ = rand.Read(b[:])
	bucket := fmt.Sprintf("txlake-%s-%d-%d-%s", kind, os.Getpid(), seq.Add(1), hex.EncodeToString(b[:]))
	if _, err := client.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { remove(t, client, bucket) })
	return bucket, client
}

func remove(t *testing.T, client *awss3.Client, bucket string) {
	ctx := context.WithoutCancel(t.Context()) // t.Context is done during Cleanup
	pages := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: list %s: %v", bucket, err)
			return
		}
		for _, obj := range page.Contents {
			if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: obj.Key}); err != nil {
				t.Logf("cleanup: delete %s/%s: %v", bucket, aws.ToString(obj.Key), err)
			}
		}
	}
	if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}
