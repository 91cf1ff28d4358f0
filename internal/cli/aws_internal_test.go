package cli

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"
)

// failingEndpoint answers every request with a 500 InternalServerError and
// counts the requests.
func failingEndpoint(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func testAWSConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

func TestStreamsClient_LeavesRetriesToPackageStream(t *testing.T) {
	url, requests := failingEndpoint(t)
	g := &globals{endpointURL: url}
	c := g.streamsClient(testAWSConfig())
	require.Equal(t, 1, c.Options().Retryer.MaxAttempts())
	_, err := c.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String("arn:aws:dynamodb:us-east-1:1:table/t/stream/x")})
	require.Error(t, err)
	require.EqualValues(t, 1, requests.Load(), "one request: package stream does the retrying")
}

func TestDynamoDBClient_KeepsSDKRetries(t *testing.T) {
	url, requests := failingEndpoint(t)
	g := &globals{endpointURL: url}
	c := g.dynamodbClient(testAWSConfig())
	_, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("t")})
	require.Error(t, err)
	require.Greater(t, requests.Load(), int64(1), "ddbsync does not retry DynamoDB calls itself")
}
