package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/txlake/txlake/storage"
)

var (
	_ storage.StorageClassSetter = (*Store)(nil)
	_ storage.Restorer           = (*Store)(nil)
)

// SetStorageClass changes key's storage class with a CopyObject of the object
// onto itself (metadata copied, the store's server-side encryption applied
// again). A key already in class is left alone, because S3 refuses a copy
// onto itself that changes nothing. Objects over 5 GiB cannot be copied in
// one request and fail.
func (s *Store) SetStorageClass(ctx context.Context, key, class string) error {
	cur, err := s.StorageClass(ctx, key)
	if err != nil {
		return err
	}
	if cur == class {
		return nil
	}
	objKey, _ := s.objectKey("set-storage-class", key)
	in := &awss3.CopyObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(objKey),
		CopySource:        aws.String(s.bucket + "/" + url.PathEscape(objKey)),
		StorageClass:      types.StorageClass(class),
		MetadataDirective: types.MetadataDirectiveCopy,
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.opts.SSE)
		if s.opts.SSEKMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.opts.SSEKMSKeyID)
		}
	}
	if _, err := s.client.CopyObject(ctx, in); err != nil {
		switch code := apiCode(err); code {
		case "InvalidStorageClass", "NotImplemented":
			return fmt.Errorf("set storage class %s of %s: %w (%s)", class, s.URL(key), storage.ErrNotSupported, code)
		case "InvalidRequest":
			// S3 answers this only to a self-copy that changes nothing,
			// and the class differs: the service does not keep classes.
			return fmt.Errorf("set storage class %s of %s: %w: the service does not keep storage classes (it reports %s and refuses the copy)",
				class, s.URL(key), storage.ErrNotSupported, cur)
		}
		return s.wrap(ctx, "set-storage-class", s.URL(key), err)
	}
	got, err := s.StorageClass(ctx, key)
	if err != nil {
		return err
	}
	if got != class {
		return fmt.Errorf("set storage class %s of %s: the service kept %s: %w", class, s.URL(key), got, storage.ErrNotSupported)
	}
	return nil
}

// StorageClass returns key's storage class from a HeadObject; S3 omits the
// header for STANDARD, which is returned as "STANDARD".
func (s *Store) StorageClass(ctx context.Context, key string) (string, error) {
	objKey, err := s.objectKey("stat", key)
	if err != nil {
		return "", err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)})
	if err != nil {
		return "", s.wrap(ctx, "stat", s.URL(key), err)
	}
	if out.StorageClass == "" {
		return "STANDARD", nil
	}
	return string(out.StorageClass), nil
}

// Restore sends a RestoreObject request: S3 makes a temporary readable copy
// of a GLACIER or DEEP_ARCHIVE object for days days, retrieved at tier. A
// restore already in progress (409 RestoreAlreadyInProgress) is not an
// error. An object in a class that is readable in place returns an error
// wrapping storage.ErrNotSupported (S3's InvalidObjectState).
func (s *Store) Restore(ctx context.Context, key string, days int, tier string) error {
	objKey, err := s.objectKey("restore", key)
	if err != nil {
		return err
	}
	req := &types.RestoreRequest{Days: aws.Int32(int32(days))}
	if tier != "" {
		req.GlacierJobParameters = &types.GlacierJobParameters{Tier: types.Tier(tier)}
	}
	_, err = s.client.RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey), RestoreRequest: req})
	switch code := apiCode(err); {
	case err == nil, code == "RestoreAlreadyInProgress":
		return nil
	case code == "InvalidObjectState":
		return fmt.Errorf("restore %s: %w: its storage class is readable in place", s.URL(key), storage.ErrNotSupported)
	case code == "NotImplemented":
		return fmt.Errorf("restore %s: %w: the service does not implement RestoreObject", s.URL(key), storage.ErrNotSupported)
	}
	return s.wrap(ctx, "restore", s.URL(key), err)
}

// RestoreStatus reads the x-amz-restore header of a HeadObject:
// ongoing-request="true" is in progress, "false" is restored.
func (s *Store) RestoreStatus(ctx context.Context, key string) (storage.RestoreState, error) {
	objKey, err := s.objectKey("stat", key)
	if err != nil {
		return "", err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)})
	if err != nil {
		return "", s.wrap(ctx, "stat", s.URL(key), err)
	}
	h := aws.ToString(out.Restore)
	switch {
	case strings.Contains(h, `ongoing-request="true"`):
		return storage.RestoreInProgress, nil
	case strings.Contains(h, `ongoing-request="false"`):
		return storage.RestoreDone, nil
	}
	return storage.RestoreNone, nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
