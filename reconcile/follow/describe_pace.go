package follow

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/stream"
)

// describeLimiter paces the DescribeStream calls of every follower in this
// process that has no [Config].DescribeLimiter: AWS allows 10 a second
// ("You can call DescribeStream at a maximum rate of 10 times per second"),
// and the follower lists each table's stream up to once a second to keep W
// fresh. Half of the allowance, with no burst, leaves the rest to other
// readers of the account's streams (a Lambda trigger, another follower).
var describeLimiter = rate.NewLimiter(DefaultDescribeRate, 1)

// pacedDescribe is the Streams API handed to [stream.Describe]: its
// DescribeStream calls wait for the limiter; the other calls pass through.
type pacedDescribe struct {
	stream.API
	lim *rate.Limiter
}

func (p pacedDescribe) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	if err := wait(ctx, p.lim); err != nil {
		return nil, err
	}
	return p.API.DescribeStream(ctx, in, opts...)
}

// wait waits for lim's next token, or returns ctx's error (giving the token
// back) when ctx is done first.
func wait(ctx context.Context, lim *rate.Limiter) error {
	r := lim.Reserve()
	if !r.OK() {
		return errors.New("the DescribeStream limiter allows no call (a burst of 0)")
	}
	d := r.Delay()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}
