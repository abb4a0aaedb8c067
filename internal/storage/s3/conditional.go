package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sparkify/lake/internal/storage"
)

// conditional is Features().Conditional of a Store: S3's conditional writes (PutObject with
// If-None-Match: * or If-Match: ETag), which S3 applies atomically per key. A version is the
// object's ETag, which for a single-part upload is the MD5 of its content: the same content
// written twice has the same version.
type conditional struct{ s *Store }

// ReadVersioned implements storage.Conditional. A read cut off part-way resumes on the same
// version (If-Match), so data and version always go together.
func (c conditional) ReadVersioned(ctx context.Context, name string) ([]byte, string, error) {
	r, err := c.s.Open(ctx, name)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", err
	}
	return data, r.(*resumingReader).etag, nil
}

// CreateIfAbsent implements storage.Conditional with If-None-Match: *.
func (c conditional) CreateIfAbsent(ctx context.Context, name string, data []byte) (string, error) {
	out, err := c.s.c.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(c.s.bucket), Key: aws.String(c.s.key(name)),
		Body: bytes.NewReader(data), IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		return "", c.s.wrapConditional("create", name, err)
	}
	return aws.ToString(out.ETag), nil
}

// ReplaceIfMatch implements storage.Conditional with If-Match: version.
func (c conditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	out, err := c.s.c.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(c.s.bucket), Key: aws.String(c.s.key(name)),
		Body: bytes.NewReader(data), IfMatch: aws.String(version),
	})
	if err != nil {
		return "", c.s.wrapConditional("replace", name, err)
	}
	return aws.ToString(out.ETag), nil
}

// wrapConditional is wrap for a conditional write: a refused condition (412 Precondition
// Failed, 409 ConditionalRequestConflict), or a missing object where If-Match expected one
// (404 NoSuchKey), wraps storage.ErrPrecondition.
func (s *Store) wrapConditional(op, name string, err error) error {
	werr := s.wrap(op, name, err)
	if errors.Is(werr, storage.ErrPrecondition) {
		return werr
	}
	var re *awshttp.ResponseError
	var apiErr smithy.APIError
	missing := op == "replace" && errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey"
	if missing || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed) {
		return &opError{msg: werr.Error(), err: errors.Join(storage.ErrPrecondition, werr)}
	}
	return werr
}
