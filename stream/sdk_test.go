package stream_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// wireServer answers the DynamoDB Streams JSON protocol for one shard, so
// the real SDK client decodes responses and errors as it would from AWS.
// Errors are scripted per operation: each entry is an AWS error type name
// and HTTP status, consumed in order; an empty script means success.
type wireServer struct {
	mu      sync.Mutex
	records []string // JSON records
	closed  bool
	errs    map[string][]wireErr
	targets []string
}

type wireErr struct {
	typ    string
	status int
}

func (s *wireServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndex(target, ".")+1:]
	s.targets = append(s.targets, op)
	var in map[string]any
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if script := s.errs[op]; len(script) > 0 {
		s.errs[op] = script[1:]
		w.WriteHeader(script[0].status)
		// AWS names the error with the DynamoDB namespace, not the Streams one.
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"scripted"}`, script[0].typ)
		return
	}
	switch op {
	case "GetShardIterator":
		pos := 0
		if in["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER" {
			fmt.Sscan(in["SequenceNumber"].(string), &pos)
			pos = pos - 1000 + 1
		}
		fmt.Fprintf(w, `{"ShardIterator":"it-%d"}`, pos)
	case "GetRecords":
		var pos int
		fmt.Sscanf(in["ShardIterator"].(string), "it-%d", &pos)
		end := min(pos+2, len(s.records))
		next := fmt.Sprintf(`,"NextShardIterator":"it-%d"`, end)
		if s.closed && end == len(s.records) {
			next = ""
		}
		fmt.Fprintf(w, `{"Records":[%s]%s}`, strings.Join(s.records[pos:end], ","), next)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"UnknownOperationException"}`)
	}
}

func wireRecord(i int) string {
	return fmt.Sprintf(`{"eventID":"e%d","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-2",`+
		`"dynamodb":{"ApproximateCreationDateTime":1.7E9,"Keys":{"id":{"N":"%d"}},"NewImage":{"id":{"N":"%d"},"v":{"N":"1.50"}},`+
		`"SequenceNumber":"%d","SizeBytes":20,"StreamViewType":"NEW_AND_OLD_IMAGES"}}`, i, i, i, 1000+i)
}

func sdkClient(t *testing.T, h http.Handler) *dynamodbstreams.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region:       "eu-west-2",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{}, // the reader's own retries are under test
	})
}

func TestShardReader_ClassifiesRealSDKErrors(t *testing.T) {
	t.Parallel()
	srv := &wireServer{closed: true, errs: map[string][]wireErr{
		"GetShardIterator": {{"LimitExceededException", 400}},
		"GetRecords": {
			{"ExpiredIteratorException", 400},
			{"InternalServerError", 500},
			{"ProvisionedThroughputExceededException", 400},
		},
	}}
	for i := range 3 {
		srv.records = append(srv.records, wireRecord(i))
	}
	r, err := stream.NewShardReader(sdkClient(t, srv), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	var got []string
	for {
		p, err := r.Next(t.Context())
		require.NoError(t, err)
		for _, c := range p.Changes {
			got = append(got, c.SequenceNumber)
			require.Equal(t, time.Unix(1700000000, 0), c.ApproximateCreationTime.Local())
		}
		if p.Finished {
			break
		}
	}
	require.Equal(t, []string{"1000", "1001", "1002"}, got)
	require.Equal(t, map[stream.RetryCause]int64{
		stream.CauseThrottle: 2, stream.CauseServer: 1, stream.CauseExpiredIterator: 1,
	}, r.Retries())
}

func TestShardReader_RealSDKTrimmedCheckpointIsGap(t *testing.T) {
	t.Parallel()
	srv := &wireServer{errs: map[string][]wireErr{"GetShardIterator": {{"TrimmedDataAccessException", 400}}}}
	r, err := stream.NewShardReader(sdkClient(t, srv), testArn, "shard-1", stream.AfterSequenceNumber("1001"), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	var gap *stream.GapError
	require.ErrorAs(t, err, &gap)
	require.Equal(t, "1001", gap.After)
	require.True(t, errors.Is(err, stream.ErrGap))
	require.ErrorAs(t, err, new(*types.TrimmedDataAccessException), "the SDK decodes AWS's DynamoDB-namespaced error type")
}

func TestDescribe_RealSDKResourceNotFound(t *testing.T) {
	t.Parallel()
	srv := &wireServer{errs: map[string][]wireErr{"DescribeStream": {{"ResourceNotFoundException", 400}}}}
	_, err := stream.Describe(t.Context(), sdkClient(t, srv), testArn)
	require.ErrorIs(t, err, stream.ErrStreamNotFound)
	require.ErrorAs(t, err, new(*types.ResourceNotFoundException))
}
