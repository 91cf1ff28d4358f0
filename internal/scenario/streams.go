package scenario

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddbsync/ddbsync/stream"
)

// countingStreams is the follower's Streams client. GetRecords and
// GetShardIterator go to a client without SDK retries, so every injected
// throttle, 5xx and expired iterator reaches the shard readers' own retry
// logic (and is counted here); DescribeStream goes to a client whose SDK
// retries are fast, since the follower describes with the default backoff.
type countingStreams struct {
	reads    *dynamodbstreams.Client
	describe *dynamodbstreams.Client
	errs     *atomic.Int64
}

var _ stream.API = countingStreams{}

func (c countingStreams) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, o ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return c.describe.DescribeStream(ctx, in, o...)
}

func (c countingStreams) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, o ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	out, err := c.reads.GetShardIterator(ctx, in, o...)
	if err != nil && ctx.Err() == nil {
		c.errs.Add(1)
	}
	return out, err
}

func (c countingStreams) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, o ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	out, err := c.reads.GetRecords(ctx, in, o...)
	if err != nil && ctx.Err() == nil {
		c.errs.Add(1)
	}
	return out, err
}
