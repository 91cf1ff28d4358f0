package stream_test

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
)

// fakeAPI implements stream.API with one func field per method; calling a
// method whose field is unset panics, so a test states every call it allows.
type fakeAPI struct {
	describeStream   func(context.Context, *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error)
	getShardIterator func(context.Context, *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error)
	getRecords       func(context.Context, *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error)
}

func (f *fakeAPI) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	if f.describeStream == nil {
		panic("unexpected DescribeStream call")
	}
	return f.describeStream(ctx, in)
}

func (f *fakeAPI) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if f.getShardIterator == nil {
		panic("unexpected GetShardIterator call")
	}
	return f.getShardIterator(ctx, in)
}

func (f *fakeAPI) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	if f.getRecords == nil {
		panic("unexpected GetRecords call")
	}
	return f.getRecords(ctx, in)
}

// fakeClock is a settable wall clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testArn = "arn:aws:dynamodb:eu-west-2:111122223333:table/Tenure/stream/2025-03-01T00:00:00.000"

// shardSim simulates one shard behind GetShardIterator and GetRecords:
// records with non-contiguous sequence numbers of growing length, pages of
// pageSize, a trim horizon, a closed flag, and injected faults.
type shardSim struct {
	mu       sync.Mutex
	shardID  string
	records  []types.Record
	pageSize int
	closed   bool
	trimmed  int // records [0, trimmed) are gone
	// emptyFirst makes the next GetRecords calls return empty pages without
	// moving, as AWS does over empty parts of a shard.
	emptyFirst int
	// recordFaults and iterFaults are returned, in order, before the calls
	// succeed again; a nil entry is a success.
	recordFaults []error
	iterFaults   []error
	// onGetRecords runs at the start of each GetRecords call.
	onGetRecords func()

	iters      map[string]int
	nextIter   int
	iterInputs []dynamodbstreams.GetShardIteratorInput
	calls      int
}

func newShardSim(shardID string, n int) *shardSim {
	s := &shardSim{shardID: shardID, pageSize: 2, iters: map[string]int{}}
	s.add(n, time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC))
	return s
}

// seqAt returns a sequence number for record i: they jump and grow in length,
// so string comparison would misorder them.
func seqAt(i int) string {
	n := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(20+i/3)), nil)
	n.Add(n, big.NewInt(int64(i*7919+13)))
	return n.String()
}

// add appends n INSERT records created one second apart from at.
func (s *shardSim) add(n int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		i := len(s.records)
		created := at.Add(time.Duration(i) * time.Second)
		s.records = append(s.records, types.Record{
			EventID:   aws.String(fmt.Sprintf("ev-%d", i)),
			EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{
				ApproximateCreationDateTime: &created,
				SequenceNumber:              aws.String(seqAt(i)),
				Keys:                        map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}},
				NewImage:                    map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}},
			},
		})
	}
}

func (s *shardSim) api() *fakeAPI {
	return &fakeAPI{getShardIterator: s.getShardIterator, getRecords: s.getRecords}
}

func (s *shardSim) newIter(pos int) *string {
	s.nextIter++
	id := fmt.Sprintf("%s|it-%d", s.shardID, s.nextIter)
	s.iters[id] = pos
	return &id
}

func (s *shardSim) getShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iterInputs = append(s.iterInputs, *in)
	if len(s.iterFaults) > 0 {
		err := s.iterFaults[0]
		s.iterFaults = s.iterFaults[1:]
		if err != nil {
			return nil, err
		}
	}
	if aws.ToString(in.ShardId) != s.shardID {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found: Shard does not exist")}
	}
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
		return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: s.newIter(s.trimmed)}, nil
	case types.ShardIteratorTypeAfterSequenceNumber:
		pos := len(s.records)
		for i, r := range s.records {
			if seqLess(aws.ToString(in.SequenceNumber), aws.ToString(r.Dynamodb.SequenceNumber)) {
				pos = i
				break
			}
		}
		if pos < s.trimmed {
			return nil, &types.TrimmedDataAccessException{Message: aws.String("trimmed")}
		}
		return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: s.newIter(pos)}, nil
	}
	return nil, fmt.Errorf("shardSim: iterator type %s not simulated", in.ShardIteratorType)
}

func seqLess(a, b string) bool {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	return x.Cmp(y) < 0
}

func (s *shardSim) getRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
	if s.onGetRecords != nil {
		s.onGetRecords()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.recordFaults) > 0 {
		err := s.recordFaults[0]
		s.recordFaults = s.recordFaults[1:]
		if err != nil {
			return nil, err
		}
	}
	pos, ok := s.iters[aws.ToString(in.ShardIterator)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Invalid ShardId in ShardIterator")}
	}
	if pos < s.trimmed {
		return nil, &types.TrimmedDataAccessException{Message: aws.String("trimmed")}
	}
	if s.emptyFirst > 0 {
		s.emptyFirst--
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: s.newIter(pos)}, nil
	}
	end := min(pos+s.pageSize, len(s.records))
	out := &dynamodbstreams.GetRecordsOutput{Records: s.records[pos:end]}
	if !s.closed || end < len(s.records) {
		out.NextShardIterator = s.newIter(end)
	}
	return out, nil
}

// apiErr is an AWS error known only by its code, as an emulator may send.
func apiErr(code string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: "injected", Fault: fault}
}
