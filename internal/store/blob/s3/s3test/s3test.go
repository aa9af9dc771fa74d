// Package s3test gives tests a fresh bucket on the S3 server that
// scripts/test.sh starts (WHARF_TEST_S3_ENDPOINT), removed when the test ends.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Bucket creates a bucket named prefix-<random> and returns its
// `--blobs` URL (with prefix "wharf/"). It skips the test when no S3 server
// is configured and sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the
// store to pick up.
func Bucket(t testing.TB, prefix string) string {
	t.Helper()
	ep := os.Getenv("WHARF_TEST_S3_ENDPOINT")
	if ep == "" {
		t.Skip("WHARF_TEST_S3_ENDPOINT is not set " + `(bash scripts/s3.sh start && eval "$(bash scripts/s3.sh env)")`)
	}
	ak, sk := os.Getenv("WHARF_TEST_S3_ACCESS_KEY"), os.Getenv("WHARF_TEST_S3_SECRET_KEY")
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sk)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	bucket := prefix + "-" + hex.EncodeToString(suffix)
	ctx := context.Background()
	cli := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
	if _, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p := awss3.NewListObjectsV2Paginator(cli, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, o := range page.Contents {
				_, _ = cli.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = cli.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	return "s3://" + bucket + "/wharf/?endpoint=" + url.QueryEscape(ep) + "&region=us-east-1&path_style=true"
}
