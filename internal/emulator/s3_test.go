package emulator_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

func TestS3_PutGetListHead(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	c := srv.S3()
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	for _, k := range []string{"a/1.json", "a/2.json", "b/3.json"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k), Body: strings.NewReader("data:" + k)})
		require.NoError(t, err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a/")})
	require.NoError(t, err)
	require.Len(t, list.Contents, 2)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("b/3.json")})
	require.NoError(t, err)
	require.EqualValues(t, len("data:b/3.json"), aws.ToInt64(head.ContentLength))
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("a/2.json")})
	require.NoError(t, err)
	b, err := io.ReadAll(obj.Body)
	require.NoError(t, err)
	require.Equal(t, "data:a/2.json", string(b))
}
