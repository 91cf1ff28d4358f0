package follow

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/stream"
)

type describeCounter struct {
	stream.API
	calls atomic.Int64
}

func (d *describeCounter) DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	d.calls.Add(1)
	return &dynamodbstreams.DescribeStreamOutput{}, nil
}

// Every follower of a process shares one DescribeStream limiter by default,
// within AWS's 10 calls a second.
func TestDefaults_OneDescribeLimiterPerProcess(t *testing.T) {
	t.Parallel()
	var a, b Config
	for _, c := range []*Config{&a, &b} {
		c.Streams, c.StreamArn = &describeCounter{}, "arn"
		require.NoError(t, c.defaults())
	}
	require.Same(t, a.DescribeLimiter, b.DescribeLimiter)
	require.LessOrEqual(t, float64(a.DescribeLimiter.Limit()), 10.0)
	require.Equal(t, 1, a.DescribeLimiter.Burst())
	require.Equal(t, DefaultListingInterval, a.ListingInterval)
}

// A DescribeStream call waits for the limiter, and gives up with the
// context's own error when the context ends first.
func TestPacedDescribe_WaitsForTheLimiter(t *testing.T) {
	t.Parallel()
	api := &describeCounter{}
	p := pacedDescribe{API: api, lim: rate.NewLimiter(rate.Every(time.Hour), 1)}
	_, err := p.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = p.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{})
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	require.EqualValues(t, 1, api.calls.Load(), "the second call waited for the limiter")

	_, err = pacedDescribe{API: api, lim: rate.NewLimiter(rate.Every(time.Hour), 0)}.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{})
	require.Error(t, err)
}
