// Command mkbucket creates S3 buckets on the endpoint in
// $TXLAKE_TEST_S3_ENDPOINT (the local versitygw test service), for the
// S3 demo. Existing buckets are fine.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkbucket:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, buckets []string) error {
	endpoint := os.Getenv("TXLAKE_TEST_S3_ENDPOINT")
	if endpoint == "" || len(buckets) == 0 {
		return errors.New("usage: TXLAKE_TEST_S3_ENDPOINT=http://... mkbucket BUCKET...")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	for _, b := range buckets {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
		fmt.Printf("bucket %s ready on %s\n", b, endpoint)
	}
	return nil
}
