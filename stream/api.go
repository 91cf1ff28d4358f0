package stream

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// API is the part of the DynamoDB Streams API this package calls: nothing
// more, so a test fake has three methods to provide. *dynamodbstreams.Client
// satisfies it.
//
// The client's own retryer still runs underneath; the retry loops here sit on
// top of it and never give up on throttling or server errors, which the SDK
// default (3 attempts) does.
//
// A reader passes GetRecords an option that makes an SDK client hand over
// the body of a successful response for the reader to decode itself, much
// faster than the SDK does (see fetchRecords); the typed output is then
// empty and unused. An implementation wrapping a client should pass optFns
// on, and not alter the output; one that ignores them still works, with the
// SDK's typed records.
type API interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ API = (*dynamodbstreams.Client)(nil)
