package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/testserver"
)

// BenchmarkPublishPaths measures, on versitygw, the two ways an object store commit can put a
// staged file in place (issue 12, goal 3), per object of the size of a songs partition file:
//
//   - copy: PUT under the staging prefix, then (after the commit marker) COPY to the final key
//     and DELETE the staged one: today's commit, which moves the data twice;
//   - multipart: CreateMultipartUpload and UploadPart to the final key (invisible until
//     completed), then (after the marker) CompleteMultipartUpload: the data moves once on S3,
//     where completion is a metadata operation.
//
// Run: go test -run '^$' -bench PublishPaths -benchtime 2000x ./internal/storage/s3
func BenchmarkPublishPaths(b *testing.B) {
	srv := testserver.StartS3(b)
	srv.CreateBucket(b, "pub")
	api := awss3.New(awss3.Options{
		BaseEndpoint: aws.String(srv.Endpoint), Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
	ctx := context.Background()
	const parallel = 16
	each := func(b *testing.B, fn func(i int) error) {
		g, _ := errgroup.WithContext(ctx)
		g.SetLimit(parallel)
		for i := range b.N {
			g.Go(func() error { return fn(i) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	// A songs partition file (~9 KiB), and a larger file.
	for _, size := range []int{9 << 10, 1 << 20} {
		body := bytes.Repeat([]byte("p"), size)
		b.Run(fmt.Sprintf("copy/%dKiB", size>>10), func(b *testing.B) {
			run := fmt.Sprint("copy", b.N, size)
			each(b, func(i int) error {
				_, err := api.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String(fmt.Sprintf("%s/_staging/%d", run, i)), Body: bytes.NewReader(body)})
				return err
			})
			b.ResetTimer() // the publish alone: what the run waits for after its marker
			each(b, func(i int) error {
				_, err := api.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("pub"), Key: aws.String(fmt.Sprintf("%s/final/%d", run, i)),
					CopySource: aws.String(fmt.Sprintf("pub/%s/_staging/%d", run, i))})
				if err != nil {
					return err
				}
				_, err = api.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("pub"), Key: aws.String(fmt.Sprintf("%s/_staging/%d", run, i))})
				return err
			})
		})
		b.Run(fmt.Sprintf("multipart/%dKiB", size>>10), func(b *testing.B) {
			run := fmt.Sprint("mp", b.N, size)
			ids := make([]string, b.N)
			etags := make([]string, b.N)
			each(b, func(i int) error {
				key := aws.String(fmt.Sprintf("%s/final/%d", run, i))
				up, err := api.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("pub"), Key: key})
				if err != nil {
					return err
				}
				part, err := api.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("pub"), Key: key, UploadId: up.UploadId,
					PartNumber: aws.Int32(1), Body: bytes.NewReader(body)})
				if err != nil {
					return err
				}
				ids[i], etags[i] = *up.UploadId, *part.ETag
				return nil
			})
			b.ResetTimer()
			each(b, func(i int) error {
				_, err := api.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("pub"),
					Key: aws.String(fmt.Sprintf("%s/final/%d", run, i)), UploadId: aws.String(ids[i]),
					MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(etags[i])}}}})
				return err
			})
		})
	}
}
