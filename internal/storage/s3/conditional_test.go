package s3

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/testserver"
)

// TestGatewayHonoursConditionalPuts pins what the S3 server of the tests (versitygw) answers to
// PutObject with If-None-Match and If-Match, request by request, so that the conformance suite's
// conditional tests are known to exercise the server rather than pass by luck; then checks that
// the store maps each answer.
func TestGatewayHonoursConditionalPuts(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "cond")
	ctx := context.Background()
	cl, err := NewClient(ctx, Config{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	put := func(body string, mutate func(*s3.PutObjectInput)) (string, error) {
		in := &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: bytes.NewReader([]byte(body))}
		mutate(in)
		out, err := cl.api.PutObject(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	status := func(err error) (int, string) {
		var re *awshttp.ResponseError
		var ae smithy.APIError
		if !errors.As(err, &re) || !errors.As(err, &ae) {
			t.Fatalf("not an HTTP API error: %v", err)
		}
		return re.HTTPStatusCode(), ae.ErrorCode()
	}
	ifNoneMatch := func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }
	ifMatch := func(etag string) func(*s3.PutObjectInput) {
		return func(in *s3.PutObjectInput) { in.IfMatch = aws.String(etag) }
	}

	if _, err := put("x", ifMatch(`"0123456789abcdef0123456789abcdef"`)); err == nil {
		t.Error("If-Match on a missing key: accepted")
	} else if code, name := status(err); code != http.StatusNotFound || name != "NoSuchKey" {
		t.Errorf("If-Match on a missing key: got %d %s, want 404 NoSuchKey", code, name)
	}
	first, err := put("one", ifNoneMatch)
	if err != nil {
		t.Fatalf("If-None-Match: * on a missing key: %v", err)
	}
	if _, err := put("two", ifNoneMatch); err == nil {
		t.Error("If-None-Match: * on an existing key: accepted (the header is ignored)")
	} else if code, name := status(err); code != http.StatusPreconditionFailed || name != "PreconditionFailed" {
		t.Errorf("If-None-Match: * on an existing key: got %d %s, want 412 PreconditionFailed", code, name)
	}
	second, err := put("two", ifMatch(first))
	if err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
	if _, err := put("three", ifMatch(first)); err == nil {
		t.Error("If-Match with a stale ETag: accepted (the header is ignored)")
	} else if code, name := status(err); code != http.StatusPreconditionFailed || name != "PreconditionFailed" {
		t.Errorf("If-Match with a stale ETag: got %d %s, want 412 PreconditionFailed", code, name)
	}
	// The ETag is the MD5 of the content: writing the same bytes again gives the same version.
	if again, err := put("two", ifMatch(second)); err != nil || again != second {
		t.Errorf("same content again: ETag %s, %v; want %s", again, err, second)
	}

	c := cl.Store(URL{Bucket: "cond"}).Features().Conditional
	if _, err := c.CreateIfAbsent(ctx, "k", []byte("x")); !errors.Is(err, storage.ErrPrecondition) {
		t.Errorf("store: create over an object: got %v, want ErrPrecondition", err)
	}
	if _, err := c.ReplaceIfMatch(ctx, "k", []byte("x"), first); !errors.Is(err, storage.ErrPrecondition) {
		t.Errorf("store: replace with a stale version: got %v, want ErrPrecondition", err)
	}
	_, err = c.ReplaceIfMatch(ctx, "absent", []byte("x"), first)
	if !errors.Is(err, storage.ErrPrecondition) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store: replace of a missing object: got %v, want ErrPrecondition and fs.ErrNotExist", err)
	}
	t.Logf("errors read: %v", err)
}
