package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Description is a stream as DescribeStream reports it, with the shards of
// every page.
type Description struct {
	StreamArn string
	// StreamLabel identifies the stream among the table's streams; a
	// re-enabled stream gets a new one.
	StreamLabel string
	TableName   string
	Status      types.StreamStatus
	ViewType    types.StreamViewType
	// HashKey and RangeKey name the table's key attributes (RangeKey is
	// empty without a sort key); DescribeStream does not give their types.
	HashKey, RangeKey   string
	CreationRequestTime time.Time
	// Shards lists each shard once, in the order AWS listed them (which
	// carries no meaning: build a [ShardLineage]).
	Shards []types.Shard
}

// Describe returns the stream's description and all its shards, paging
// DescribeStream with ExclusiveStartShardId until LastEvaluatedShardId is
// empty. Throttling and server errors are retried with backoff until ctx is
// done ([WithBackoff], [WithRetryHook]). It returns an error wrapping
// [ErrStreamNotFound] when the stream does not exist. DescribeStream allows
// 10 calls a second per account; call Describe every few seconds at most.
func Describe(ctx context.Context, api API, streamArn string, opts ...Option) (Description, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Description{}, fmt.Errorf("describing stream %s: %w", streamArn, err)
	}
	var d Description
	var shards shardSet
	err = describePages(ctx, api, retrier{cfg: &cfg, streamArn: streamArn},
		&dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn)},
		func(sd *types.StreamDescription) {
			if d.StreamArn == "" {
				d = descriptionFrom(sd)
			}
			shards.add(sd.Shards)
		})
	if err != nil {
		return Description{}, fmt.Errorf("describing stream %s: %w", streamArn, err)
	}
	if d.StreamArn == "" {
		d.StreamArn = streamArn
	}
	d.Shards = shards.list
	return d, nil
}

// DescribeChildren returns the children of shard parentID, asking
// DescribeStream with a CHILD_SHARDS filter; use it when a shard finishes
// instead of listing the whole stream. Shards returned that do not name
// parentID as their parent are dropped (some emulators ignore the filter).
// Errors are as for [Describe].
func DescribeChildren(ctx context.Context, api API, streamArn, parentID string, opts ...Option) ([]types.Shard, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("describing children of shard %s: %w", parentID, err)
	}
	var out shardSet
	err = describePages(ctx, api, retrier{cfg: &cfg, streamArn: streamArn},
		&dynamodbstreams.DescribeStreamInput{
			StreamArn:   aws.String(streamArn),
			ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeChildShards, ShardId: aws.String(parentID)},
		},
		func(sd *types.StreamDescription) {
			for _, s := range sd.Shards {
				if deref(s.ParentShardId) == parentID && deref(s.ShardId) != parentID {
					out.add([]types.Shard{s})
				}
			}
		})
	if err != nil {
		return nil, fmt.Errorf("describing children of shard %s of stream %s: %w", parentID, streamArn, err)
	}
	return out.list, nil
}

// describePages calls DescribeStream page by page, handing each description
// to page.
func describePages(ctx context.Context, api API, r retrier, in *dynamodbstreams.DescribeStreamInput, page func(*types.StreamDescription)) error {
	seen := map[string]bool{}
	for {
		out, err := describeOnce(ctx, api, r, in)
		if err != nil {
			return err
		}
		if out.StreamDescription == nil {
			return fmt.Errorf("DescribeStream returned no description")
		}
		page(out.StreamDescription)
		next := deref(out.StreamDescription.LastEvaluatedShardId)
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("DescribeStream returned LastEvaluatedShardId %s twice; the listing would never end", next)
		}
		seen[next] = true
		in.ExclusiveStartShardId = aws.String(next)
	}
}

// describeOnce makes one DescribeStream call, retrying transient errors.
func describeOnce(ctx context.Context, api API, r retrier, in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
	for attempt := 0; ; attempt++ {
		out, err := api.DescribeStream(ctx, in)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		kind := classify(err)
		if kind == kindNotFound {
			return nil, fmt.Errorf("%w: %w; if the stream was disabled or re-enabled, changes may be lost: "+
				"only a new export of the table can restore a complete copy", ErrStreamNotFound, err)
		}
		cause, ok := transientCause(kind)
		if !ok {
			return nil, err
		}
		if err := r.wait(ctx, r.backoffEvent("DescribeStream", deref(in.ExclusiveStartShardId), cause, attempt, err)); err != nil {
			return nil, err
		}
	}
}

func descriptionFrom(sd *types.StreamDescription) Description {
	d := Description{
		StreamArn:   deref(sd.StreamArn),
		StreamLabel: deref(sd.StreamLabel),
		TableName:   deref(sd.TableName),
		Status:      sd.StreamStatus,
		ViewType:    sd.StreamViewType,
	}
	if sd.CreationRequestDateTime != nil {
		d.CreationRequestTime = *sd.CreationRequestDateTime
	}
	for _, k := range sd.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			d.HashKey = deref(k.AttributeName)
		case types.KeyTypeRange:
			d.RangeKey = deref(k.AttributeName)
		}
	}
	return d
}

// shardSet collects shards listed over several pages, each once; a shard
// listed again replaces its earlier entry if it now says the shard is closed
// (the listing may be read while a shard closes).
type shardSet struct {
	list []types.Shard
	idx  map[string]int
}

func (ss *shardSet) add(shards []types.Shard) {
	if ss.idx == nil {
		ss.idx = map[string]int{}
	}
	for _, s := range shards {
		id := deref(s.ShardId)
		i, ok := ss.idx[id]
		switch {
		case !ok:
			ss.idx[id] = len(ss.list)
			ss.list = append(ss.list, s)
		case shardFrom(ss.list[i]).Open() && !shardFrom(s).Open():
			ss.list[i] = s
		}
	}
}

// CheckViewType returns nil for the stream view types ddbsync can replay
// (NEW_IMAGE, NEW_AND_OLD_IMAGES) and an error wrapping [ErrViewType]
// otherwise: KEYS_ONLY and OLD_IMAGE records carry no new image, so an
// insert or update could only be applied by reading the table.
func CheckViewType(vt types.StreamViewType) error {
	switch vt {
	case types.StreamViewTypeNewImage, types.StreamViewTypeNewAndOldImages:
		return nil
	}
	return fmt.Errorf("%w: the stream's view type is %q, and ddbsync needs NEW_AND_OLD_IMAGES or NEW_IMAGE",
		ErrViewType, vt)
}
