package stream

import (
	"fmt"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// EventName is what a [Change] did to its item, relative to the item's prior
// state: a PutItem on an existing key is a Modify, not an Insert.
type EventName string

// The event names of DynamoDB Streams records.
const (
	EventInsert EventName = "INSERT"
	EventModify EventName = "MODIFY"
	EventRemove EventName = "REMOVE"
)

// ttlPrincipal and ttlIdentityType mark a record as a TTL deletion: only
// those carry a userIdentity, with these values
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).
const (
	ttlPrincipal    = "dynamodb.amazonaws.com"
	ttlIdentityType = "Service"
)

// Change is one stream record, decoded: what happened to which key, with the
// item images the stream's view type carries.
type Change struct {
	ShardID string
	// SequenceNumber is decimal text, comparable only within ShardID and only
	// with [CompareSequenceNumbers].
	SequenceNumber string
	EventName      EventName
	// EventID is globally unique; it identifies a record delivered twice.
	EventID string
	// Keys holds the key attributes; always present.
	Keys map[string]ddbtypes.AttributeValue
	// NewImage is the item after an Insert or Modify; nil for Remove. A
	// record read from the wire whose image is verbatim (its DynamoDB JSON
	// already the lossless form: [ddbjson.VerbatimScanner]) and holds Keys
	// as they are is not decoded: NewImageText holds it, and NewImage is
	// nil. [Change.Image] gives either. (The old image, which nothing here
	// uses, is not kept.)
	NewImage     map[string]ddbtypes.AttributeValue
	NewImageText string
	// ApproximateCreationTime is when the change happened, rounded down to
	// the second by AWS (emulators may be finer). Approximate: never use it
	// to order changes; the sequence number does that.
	ApproximateCreationTime time.Time
	// TTL marks a Remove done by DynamoDB's time-to-live sweeper rather than
	// by a client.
	TTL bool
	// SizeBytes is the record's size as DynamoDB reports it; 0 if absent.
	SizeBytes int64
}

// ChangeFromRecord decodes a GetRecords record of shard shardID. It returns
// an error wrapping [ErrBadRecord] or [ErrBadSequenceNumber] for a record
// without the fields a follower relies on: a valid sequence number, keys, a
// creation time and a known event name. An Insert or Modify without a new
// image (a KEYS_ONLY or OLD_IMAGE stream, which [CheckViewType] refuses up
// front) gives an error wrapping [ErrViewType].
func ChangeFromRecord(shardID string, rec types.Record) (Change, error) {
	sr := rec.Dynamodb
	if sr == nil {
		return Change{}, fmt.Errorf("%w: shard %s event %s has no dynamodb field", ErrBadRecord, shardID, deref(rec.EventID))
	}
	seq := deref(sr.SequenceNumber)
	if err := CheckSequenceNumber(seq); err != nil {
		return Change{}, fmt.Errorf("shard %s event %s: %w", shardID, deref(rec.EventID), err)
	}
	c := Change{
		ShardID:        shardID,
		SequenceNumber: seq,
		EventName:      EventName(rec.EventName),
		EventID:        deref(rec.EventID),
		TTL:            isTTL(rec.UserIdentity),
	}
	switch c.EventName {
	case EventInsert, EventModify, EventRemove:
	default:
		return Change{}, fmt.Errorf("%w: shard %s seq %s has event name %q", ErrBadRecord, shardID, seq, rec.EventName)
	}
	if sr.ApproximateCreationDateTime == nil {
		return Change{}, fmt.Errorf("%w: shard %s seq %s has no ApproximateCreationDateTime", ErrBadRecord, shardID, seq)
	}
	c.ApproximateCreationTime = *sr.ApproximateCreationDateTime
	if sr.SizeBytes != nil {
		c.SizeBytes = *sr.SizeBytes
	}
	if len(sr.Keys) == 0 {
		return Change{}, fmt.Errorf("%w: shard %s seq %s has no keys", ErrBadRecord, shardID, seq)
	}
	var err error
	if c.Keys, err = ddbjson.FromStreams(sr.Keys); err != nil {
		return Change{}, fmt.Errorf("%w: shard %s seq %s keys: %w", ErrBadRecord, shardID, seq, err)
	}
	if c.NewImage, err = ddbjson.FromStreams(sr.NewImage); err != nil {
		return Change{}, fmt.Errorf("%w: shard %s seq %s new image: %w", ErrBadRecord, shardID, seq, err)
	}
	if c.NewImage == nil && c.EventName != EventRemove {
		return Change{}, fmt.Errorf("%w: shard %s seq %s is an %s without a new image (record view type %q)",
			ErrViewType, shardID, seq, c.EventName, sr.StreamViewType)
	}
	return c, nil
}

// Image is the item after an Insert or Modify (nil for Remove), decoding
// NewImageText when that is how the record came.
func (c Change) Image() (map[string]ddbtypes.AttributeValue, error) {
	if c.NewImage != nil || c.NewImageText == "" {
		return c.NewImage, nil
	}
	img, err := ddbjson.DecodeItem([]byte(c.NewImageText))
	if err != nil {
		return nil, fmt.Errorf("%w: shard %s seq %s new image: %w", ErrBadRecord, c.ShardID, c.SequenceNumber, err)
	}
	return img, nil
}

func isTTL(id *types.Identity) bool {
	return id != nil && deref(id.Type) == ttlIdentityType && deref(id.PrincipalId) == ttlPrincipal
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
