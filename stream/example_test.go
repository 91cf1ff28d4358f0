package stream_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddbsync/ddbsync/stream"
)

// Example shows a follower's use of the package on a stream whose shard
// "parent" closed and rolled over into "child": list, order by lineage, read
// each ready shard to its end or until caught up, and let a [stream.Tracker]
// decide the watermark.
// Here the fake stands for *dynamodbstreams.Client.
func Example() {
	ctx := context.Background()
	parent, child := newShardSim("parent", 3), newShardSim("child", 1)
	parent.closed = true
	api := &fakeAPI{
		describeStream: func(context.Context, *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
			return describeOut("", listed("child", "parent", false), listed("parent", "", true)), nil
		},
		getShardIterator: func(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
			if aws.ToString(in.ShardId) == "child" {
				return child.getShardIterator(ctx, in)
			}
			return parent.getShardIterator(ctx, in)
		},
		getRecords: func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
			if aws.ToString(in.ShardIterator)[:5] == "child" {
				return child.getRecords(ctx, in)
			}
			return parent.getRecords(ctx, in)
		},
	}

	listedAt := time.Now() // before the call: the listing is at least this fresh
	desc, err := stream.Describe(ctx, api, testArn)
	if err != nil {
		panic(err)
	}
	if err := stream.CheckViewType(desc.ViewType); err != nil {
		panic(err)
	}
	lineage, err := stream.NewShardLineage(desc.Shards)
	if err != nil {
		panic(err)
	}
	finished := map[string]bool{} // from the checkpoints
	// The tracker decides the watermark; S is the export time minus the skew.
	tracker := stream.NewTracker(time.Now().Add(-time.Hour))
	var shards []stream.Shard
	for _, id := range lineage.Order() {
		sh, _ := lineage.Shard(id)
		shards = append(shards, sh)
	}
	tracker.Listed(listedAt, shards...)
	for ready := lineage.Ready(finished); len(ready) > 0; ready = lineage.Ready(finished) {
		id := ready[0]
		r, err := stream.NewShardReader(api, desc.StreamArn, id, stream.TrimHorizon(),
			stream.WithPollInterval(time.Millisecond), stream.WithCaughtUpRule(3, 0))
		if err != nil {
			panic(err)
		}
		for {
			page, err := r.Next(ctx)
			if err != nil {
				panic(err) // a *stream.GapError: stop and tell the operator
			}
			for _, c := range page.Changes {
				fmt.Println(id, c.EventName, c.Keys["id"].(*ddbtypes.AttributeValueMemberS).Value)
			}
			// Apply page.Changes and checkpoint page.Position in one transaction,
			// then let the reader reuse the page's memory.
			page.Release()
			tracker.Read(page.State)
			if page.Finished {
				finished[id] = true
				break
			}
			if page.CaughtUp {
				break // a real follower keeps polling; the example stops here
			}
		}
		if !finished[id] {
			break
		}
	}
	w := tracker.Watermark(time.Now())
	fmt.Println("watermark", w.Status, "held by", w.ShardID)
	// Output:
	// parent INSERT 0
	// parent INSERT 1
	// parent INSERT 2
	// child INSERT 0
	// watermark at held by child
}
