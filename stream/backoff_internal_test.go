package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"
)

// sdkError makes one GetRecords call through the real SDK client (no SDK
// retries) against a server that answers with status and body, and returns
// the error the SDK built.
func sdkError(t *testing.T, h http.HandlerFunc) error {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return sdkErrorAt(t, srv.URL)
}

func sdkErrorAt(t *testing.T, url string) error {
	t.Helper()
	c := dynamodbstreams.New(dynamodbstreams.Options{
		Region: "eu-west-2", BaseEndpoint: aws.String(url),
		Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{},
	})
	_, err := c.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("it")})
	require.Error(t, err)
	return err
}

func answer(status int, errType string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		if errType != "" {
			fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"a message that says nothing useful"}`, errType)
		}
	}
}

func TestClassify_RealSDKErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.HandlerFunc
		want errorKind
	}{
		{"LimitExceededException is throttling", answer(400, "LimitExceededException"), kindThrottle},
		{"ProvisionedThroughputExceededException (unmodelled code) is throttling", answer(400, "ProvisionedThroughputExceededException"), kindThrottle},
		{"ThrottlingException (unmodelled code) is throttling", answer(400, "ThrottlingException"), kindThrottle},
		{"InternalServerError is a server error", answer(500, "InternalServerError"), kindServer},
		{"an unknown code with 503 is a server error", answer(503, "ServiceUnavailable"), kindServer},
		{"a bare 502 is a server error", answer(502, ""), kindServer},
		{"ExpiredIteratorException", answer(400, "ExpiredIteratorException"), kindExpired},
		{"TrimmedDataAccessException", answer(400, "TrimmedDataAccessException"), kindTrimmed},
		{"ResourceNotFoundException", answer(400, "ResourceNotFoundException"), kindNotFound},
		{"ValidationException is not retried", answer(400, "ValidationException"), kindOther},
		{"AccessDeniedException is not retried", answer(400, "AccessDeniedException"), kindOther},
		{"a connection lost mid-response is a network error", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"Records":[`))
			panic(http.ErrAbortHandler) // hang up before the promised body
		}, kindNetwork},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sdkError(t, tc.h)
			require.Equal(t, tc.want, classify(err), "%v", err)
		})
	}
}

func TestClassify_RealConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	err = sdkErrorAt(t, url)
	require.Equal(t, kindNetwork, classify(err), "%v", err)
}

func TestClassify_NotByMessage(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{"ThrottlingException", "ExpiredIteratorException", "500 Internal Server Error", "connection reset by peer"} {
		require.Equal(t, kindOther, classify(errors.New(msg)), msg)
	}
	require.Equal(t, kindOther, classify(context.Canceled))
}
