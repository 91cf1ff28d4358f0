package stream_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/stream"
)

func TestChangeFromRecord_DecodesTTLRemove(t *testing.T) {
	t.Parallel()
	created := time.Unix(1700000000, 0).UTC()
	rec := types.Record{
		EventID:   aws.String("c81e728d9d4c2f636f067f89cc14862c"),
		EventName: types.OperationTypeRemove,
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]types.AttributeValue{"Id": &types.AttributeValueMemberN{Value: "101"}},
			OldImage: map[string]types.AttributeValue{
				"Id":        &types.AttributeValueMemberN{Value: "101"},
				"expiresAt": &types.AttributeValueMemberN{Value: "1699990000"},
			},
			SequenceNumber: aws.String("4421584500000000017450439091"),
			SizeBytes:      aws.Int64(38),
		},
		UserIdentity: &types.Identity{PrincipalId: aws.String("dynamodb.amazonaws.com"), Type: aws.String("Service")},
	}
	c, err := stream.ChangeFromRecord("shard-1", rec)
	require.NoError(t, err)
	require.Equal(t, stream.Change{
		ShardID:                 "shard-1",
		SequenceNumber:          "4421584500000000017450439091",
		EventName:               stream.EventRemove,
		EventID:                 "c81e728d9d4c2f636f067f89cc14862c",
		Keys:                    ddbjson.Item{"Id": &ddbtypes.AttributeValueMemberN{Value: "101"}},
		ApproximateCreationTime: created,
		TTL:                     true,
		SizeBytes:               38,
	}, c)
}

func TestChangeFromRecord_TTLNeedsServiceIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   *types.Identity
		want bool
	}{
		{"no identity", nil, false},
		{"service", &types.Identity{PrincipalId: aws.String("dynamodb.amazonaws.com"), Type: aws.String("Service")}, true},
		{"other principal", &types.Identity{PrincipalId: aws.String("someone"), Type: aws.String("Service")}, false},
		{"other type", &types.Identity{PrincipalId: aws.String("dynamodb.amazonaws.com"), Type: aws.String("User")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := validRecord()
			rec.UserIdentity = tc.id
			c, err := stream.ChangeFromRecord("shard-1", rec)
			require.NoError(t, err)
			require.Equal(t, tc.want, c.TTL)
		})
	}
}

func validRecord() types.Record {
	created := time.Unix(1700000000, 0).UTC()
	return types.Record{
		EventID:   aws.String("e1"),
		EventName: types.OperationTypeModify,
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}},
			NewImage: map[string]types.AttributeValue{
				"id":  &types.AttributeValueMemberS{Value: "a"},
				"doc": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1.50"}}},
			},
			SequenceNumber: aws.String("300000000000000499659"),
		},
	}
}

func TestChangeFromRecord_RejectsIncompleteRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*types.Record)
		want   error
	}{
		{"no dynamodb field", func(r *types.Record) { r.Dynamodb = nil }, stream.ErrBadRecord},
		{"no sequence number", func(r *types.Record) { r.Dynamodb.SequenceNumber = nil }, stream.ErrBadSequenceNumber},
		{"sequence number with a sign", func(r *types.Record) { r.Dynamodb.SequenceNumber = aws.String("-1") }, stream.ErrBadSequenceNumber},
		{"unknown event", func(r *types.Record) { r.EventName = "UPSERT" }, stream.ErrBadRecord},
		{"no creation time", func(r *types.Record) { r.Dynamodb.ApproximateCreationDateTime = nil }, stream.ErrBadRecord},
		{"no keys", func(r *types.Record) { r.Dynamodb.Keys = nil }, stream.ErrBadRecord},
		{"modify without new image", func(r *types.Record) { r.Dynamodb.NewImage = nil }, stream.ErrViewType},
		{"unknown attribute type", func(r *types.Record) {
			r.Dynamodb.NewImage["x"] = &types.UnknownUnionMember{Tag: "Z"}
		}, stream.ErrBadRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := validRecord()
			tc.mutate(&rec)
			_, err := stream.ChangeFromRecord("shard-1", rec)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, "shard-1")
		})
	}
}

func TestChangeFromRecord_KeepsNumbersExact(t *testing.T) {
	t.Parallel()
	c, err := stream.ChangeFromRecord("shard-1", validRecord())
	require.NoError(t, err)
	require.Equal(t, stream.EventModify, c.EventName)
	doc := c.NewImage["doc"].(*ddbtypes.AttributeValueMemberM)
	require.Equal(t, "1.50", doc.Value["n"].(*ddbtypes.AttributeValueMemberN).Value)
}
