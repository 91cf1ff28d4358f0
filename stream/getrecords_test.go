package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/stream"
)

// typedOnly hides the SDK client's option hook from the reader: it drops
// the optFns of GetRecords, so the SDK decodes the response into typed
// records, as it does for any API that ignores them.
type typedOnly struct{ *dynamodbstreams.Client }

func (c typedOnly) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	return c.Client.GetRecords(ctx, in)
}

// wireRec is one stream record to encode as AWS sends it.
type wireRec struct {
	eventID, eventName string
	seq                string
	created            string // ApproximateCreationDateTime, JSON number text
	keys, img, old     ddbjson.Item
	size               int // 0: no SizeBytes member
	viewType           string
	ttl                bool
}

// appendJSON appends the record as a GetRecords response holds it.
func (r wireRec) appendJSON(t testing.TB, dst []byte) []byte {
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	dst = fmt.Appendf(dst, `{"awsRegion":"eu-west-2","eventID":%s,"eventName":%s,"eventSource":"aws:dynamodb","eventVersion":"1.1",`,
		str(r.eventID), str(r.eventName))
	if r.ttl {
		dst = append(dst, `"userIdentity":{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"},`...)
	}
	dst = fmt.Appendf(dst, `"dynamodb":{"ApproximateCreationDateTime":%s`, r.created)
	for _, im := range []struct {
		name string
		item ddbjson.Item
	}{{"Keys", r.keys}, {"NewImage", r.img}, {"OldImage", r.old}} {
		if im.item == nil {
			continue
		}
		dst = fmt.Appendf(dst, `,%q:`, im.name)
		var err error
		dst, err = ddbjson.AppendWire(dst, im.item)
		require.NoError(t, err)
	}
	dst = fmt.Appendf(dst, `,"SequenceNumber":%s`, str(r.seq))
	if r.size > 0 {
		dst = fmt.Appendf(dst, `,"SizeBytes":%d`, r.size)
	}
	if r.viewType == "" {
		r.viewType = "NEW_AND_OLD_IMAGES"
	}
	return fmt.Appendf(dst, `,"StreamViewType":%s}}`, str(r.viewType))
}

// responseBody is a GetRecords response of raw records (JSON), with next
// as NextShardIterator unless it is "".
func responseBody(next string, records ...[]byte) []byte {
	b := []byte(`{"Records":[`)
	b = append(b, bytes.Join(records, []byte(","))...)
	b = append(b, ']')
	if next != "" {
		b = fmt.Appendf(b, `,"NextShardIterator":%q`, next)
	}
	return append(b, '}')
}

// pagedShard answers GetShardIterator and GetRecords as an http.RoundTripper,
// with canned GetRecords bodies: iterator "it-N" reads page N, the last
// page has no next iterator. GetRecords errors are scripted as in
// wireServer. The SDK client sends its requests straight to it.
type pagedShard struct {
	mu    sync.Mutex
	pages [][]byte
	errs  []wireErr
	// cut, when set, makes the next GetRecords body fail with
	// io.ErrUnexpectedEOF half way, as a dropped connection does.
	cut bool
}

func (s *pagedShard) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	target := req.Header.Get("X-Amz-Target")
	resp := func(status int, body []byte) *http.Response {
		return &http.Response{
			StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)), Request: req,
		}
	}
	switch target[strings.LastIndex(target, ".")+1:] {
	case "GetShardIterator":
		return resp(200, []byte(`{"ShardIterator":"it-0"}`)), nil
	case "GetRecords":
		if len(s.errs) > 0 {
			e := s.errs[0]
			s.errs = s.errs[1:]
			return resp(e.status, fmt.Appendf(nil, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"scripted"}`, e.typ)), nil
		}
		var in struct{ ShardIterator string }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimPrefix(in.ShardIterator, "it-"))
		if err != nil || n >= len(s.pages) {
			return resp(400, []byte(`{"__type":"ValidationException","message":"bad iterator"}`)), nil
		}
		r := resp(200, s.pages[n])
		if s.cut {
			s.cut = false
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(s.pages[n][:len(s.pages[n])/2]), errReader{io.ErrUnexpectedEOF}))
		}
		return r, nil
	}
	return resp(400, []byte(`{"__type":"UnknownOperationException"}`)), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// newPagedShard returns a shard whose pages hold records, perPage at a time.
func newPagedShard(t testing.TB, perPage int, records []wireRec) *pagedShard {
	s := &pagedShard{}
	for i := 0; i == 0 || i < len(records); i += perPage {
		var raw [][]byte
		for _, r := range records[i:min(i+perPage, len(records))] {
			raw = append(raw, r.appendJSON(t, nil))
		}
		next := ""
		if i+perPage < len(records) {
			next = fmt.Sprintf("it-%d", len(s.pages)+1)
		}
		s.pages = append(s.pages, responseBody(next, raw...))
	}
	return s
}

func cannedClient(rt http.RoundTripper) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region:       "eu-west-2",
		BaseEndpoint: aws.String("http://streams.test"),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: rt},
	})
}

// readShard reads the shard to its end, returning its pages, or the first
// error.
func readShard(t *testing.T, api stream.API, start stream.Position) ([]stream.Page, map[stream.RetryCause]int64, error) {
	r, err := stream.NewShardReader(api, testArn, "shard-1", start, fastOpts(newClock())...)
	require.NoError(t, err)
	var pages []stream.Page
	for {
		p, err := r.Next(t.Context())
		if err != nil {
			return pages, r.Retries(), err
		}
		pages = append(pages, p)
		if p.Finished {
			return pages, r.Retries(), nil
		}
	}
}

// variedItem holds every attribute type, nesting, sets, extreme numbers,
// empty strings and binary, and strings that need escaping.
func variedItem(id string) ddbjson.Item {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
	return ddbjson.Item{
		"id":        s(id),
		"empty":     s(""),
		"escapes":   s("quote\" backslash\\ slash/ \n\t\r\b\f \u2028 \x01"),
		"unicode":   s("ünïcødé ✓ 😀 中文"),
		"nul":       s("a\x00b"),
		"a\x00name": s("U+0000 in a name"),
		"n38":       n("12345678901234567890123456789012345678"),
		"n38frac":   n("-0.12345678901234567890123456789012345678"),
		"nsmall":    n("1E-130"),
		"nbig":      n("9.9999999999999999999999999999999999999E+125"),
		"ntrail":    n("1.50"),
		"zero":      n("0"),
		"bin":       &ddbtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xfe, 0xff}},
		"binEmpty":  &ddbtypes.AttributeValueMemberB{Value: []byte{}},
		"t":         &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"f":         &ddbtypes.AttributeValueMemberBOOL{Value: false},
		"null":      &ddbtypes.AttributeValueMemberNULL{Value: true},
		"ss":        &ddbtypes.AttributeValueMemberSS{Value: []string{"", "a", "b\x00", "ü"}},
		"ns":        &ddbtypes.AttributeValueMemberNS{Value: []string{"-1", "12345678901234567890123456789012345678", "0.5"}},
		"bs":        &ddbtypes.AttributeValueMemberBS{Value: [][]byte{{}, {1}, {0xff, 0}}},
		"emptyM":    &ddbtypes.AttributeValueMemberM{Value: ddbjson.Item{}},
		"emptyL":    &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{}},
		"nested": &ddbtypes.AttributeValueMemberM{Value: ddbjson.Item{
			"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
				s("x"), n("2"), &ddbtypes.AttributeValueMemberNULL{Value: true},
				&ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
					&ddbtypes.AttributeValueMemberM{Value: ddbjson.Item{"deep": &ddbtypes.AttributeValueMemberSS{Value: []string{"z"}}}},
				}},
			}},
			"m": &ddbtypes.AttributeValueMemberM{Value: ddbjson.Item{"b": &ddbtypes.AttributeValueMemberB{Value: []byte("hi")}}},
		}},
	}
}

// variedRecords are records of every kind the reader meets.
func variedRecords() []wireRec {
	key := func(id string) ddbjson.Item { return ddbjson.Item{"id": &ddbtypes.AttributeValueMemberS{Value: id}} }
	g := tenure.NewGenerator(7)
	ten := g.Item()
	ten2 := g.Update(ten)
	tenID := ten["id"].(*ddbtypes.AttributeValueMemberS).Value
	return []wireRec{
		{eventID: "e0", eventName: "INSERT", seq: "100", created: "1700000000", keys: key("a"), img: variedItem("a"), size: 321, viewType: "NEW_IMAGE"},
		{eventID: "e1", eventName: "MODIFY", seq: "200", created: "1700000000.123456", keys: key("a"), img: variedItem("a"), old: variedItem("a"), size: 700},
		{eventID: "e2", eventName: "MODIFY", seq: "300", created: "1.7000000015E9", keys: key("b"), img: ten2, old: ten},
		{eventID: "e3", eventName: "REMOVE", seq: "400", created: "1700000002.9999", keys: key("a"), old: variedItem("a"), ttl: true, size: 90},
		{eventID: "e4", eventName: "REMOVE", seq: "500", created: "1.700000003E9", keys: key("c"), viewType: "NEW_IMAGE"},
		{eventID: "e5", eventName: "INSERT", seq: "600", created: "1700000004.5", keys: key(tenID), img: ten},
		{eventID: "e6", eventName: "INSERT", seq: "700", created: "1700000005",
			keys: ddbjson.Item{"n": &ddbtypes.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"}, "b": &ddbtypes.AttributeValueMemberB{Value: []byte{9}}},
			img:  ddbjson.Item{"n": &ddbtypes.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"}, "b": &ddbtypes.AttributeValueMemberB{Value: []byte{9}}}},
	}
}

// TestGetRecords_DecodesAsSDK is the differential test: the reader's own
// decoder and the SDK's produce identical pages of identical changes.
func TestGetRecords_DecodesAsSDK(t *testing.T) {
	t.Parallel()
	records := variedRecords()
	// And tenure-shaped traffic, several records to a page.
	g := tenure.NewGenerator(1)
	for i := range 40 {
		item := g.Item()
		rec := wireRec{eventID: fmt.Sprintf("t%d", i), eventName: "INSERT", seq: strconv.Itoa(1000 + i), created: "1700000100.25",
			keys: ddbjson.Item{"id": item["id"]}, img: item, size: 1200}
		if i%3 == 1 {
			rec.eventName, rec.old, rec.img = "MODIFY", item, g.Update(item)
		}
		records = append(records, rec)
	}
	// And records as AWS may also write them: members in another order,
	// null and unknown members, escapes the encoder does not write.
	handWritten := [][]byte{
		[]byte(`{"dynamodb":{"StreamViewType":"NEW_AND_OLD_IMAGES","SequenceNumber":"5000","SizeBytes":7,"OldImage":null,` +
			`"Keys":{"k\u00e9":{"S":"\/\u00e9\ud83d\ude00"}},"NewImage":{"k\u00e9":{"S":"\/\u00e9\ud83d\ude00"},"x":{"L":[ ]}},` +
			`"ApproximateCreationDateTime":1700000200.001,"Future":{"a":[1,{"b":null}]}},"eventName":"INSERT","eventID":"h1","userIdentity":null,` +
			`"eventVersion":null}`),
		[]byte(` { "eventID" : "h2" , "eventName" : "REMOVE" , "userIdentity" : { "Type" : "Service" , "PrincipalId" : "someone-else" } ,` +
			` "dynamodb" : { "Keys" : { "k" : { "N" : "-0.5e3" } } , "SequenceNumber" : "1234567890123456789012345678901234567890" , "ApproximateCreationDateTime" : 17.0e8 } } `),
	}

	shard := newPagedShard(t, 3, records)
	// The last page gets a next iterator, then the hand-written page ends the shard.
	last := shard.pages[len(shard.pages)-1]
	shard.pages[len(shard.pages)-1] = fmt.Appendf(last[:len(last)-1:len(last)-1], `,"NextShardIterator":"it-%d"}`, len(shard.pages))
	shard.pages = append(shard.pages, responseBody("", handWritten...))
	client := cannedClient(shard)

	direct, _, err := readShard(t, client, stream.TrimHorizon())
	require.NoError(t, err)
	typed, _, err := readShard(t, typedOnly{client}, stream.TrimHorizon())
	require.NoError(t, err)
	require.Len(t, typed, len(shard.pages))
	verbatim := 0
	for _, p := range direct {
		for _, c := range p.Changes {
			if c.NewImageText != "" {
				verbatim++
			}
		}
	}
	require.NotZero(t, verbatim, "no image came verbatim")
	require.Equal(t, typed, decodedPages(t, direct))

	var all []stream.Change
	for _, p := range direct {
		all = append(all, p.Changes...)
	}
	require.Len(t, all, len(records)+len(handWritten))
	// Spot checks that the comparison compared something.
	require.Equal(t, time.UnixMilli(1_700_000_000_123).UTC(), all[1].ApproximateCreationTime)
	require.True(t, all[3].TTL)
	require.False(t, all[len(all)-1].TTL)
	require.Nil(t, all[3].NewImage)
	require.Equal(t, "12345678901234567890123456789012345678", all[0].NewImage["n38"].(*ddbtypes.AttributeValueMemberN).Value)
	require.Equal(t, []byte{}, all[0].NewImage["binEmpty"].(*ddbtypes.AttributeValueMemberB).Value)
	require.Equal(t, "a\x00b", all[0].NewImage["nul"].(*ddbtypes.AttributeValueMemberS).Value)
	require.Equal(t, int64(321), all[0].SizeBytes)
	require.Equal(t, "-0.5e3", all[len(all)-1].Keys["k"].(*ddbtypes.AttributeValueMemberN).Value, "numbers stay their exact text")
}

// TestGetRecords_BadRecordAsSDK: a record without what a follower needs
// gives the same error by either path, plus the record's index.
func TestGetRecords_BadRecordAsSDK(t *testing.T) {
	t.Parallel()
	good := wireRec{eventID: "e", eventName: "INSERT", seq: "100", created: "1700000000",
		keys: ddbjson.Item{"id": &ddbtypes.AttributeValueMemberS{Value: "a"}}, img: ddbjson.Item{"id": &ddbtypes.AttributeValueMemberS{Value: "a"}}}
	for _, tc := range []struct {
		name  string
		rec   func(wireRec) []byte
		errIs error
	}{
		{"no dynamodb field", func(wireRec) []byte { return []byte(`{"eventID":"e","eventName":"INSERT"}`) }, stream.ErrBadRecord},
		{"bad sequence number", func(r wireRec) []byte { r.seq = "12x"; return r.appendJSON(t, nil) }, stream.ErrBadSequenceNumber},
		{"unknown event", func(r wireRec) []byte { r.eventName = "UPSERT"; return r.appendJSON(t, nil) }, stream.ErrBadRecord},
		{"no creation time", func(r wireRec) []byte { r.created = "null"; return r.appendJSON(t, nil) }, stream.ErrBadRecord},
		{"no keys", func(r wireRec) []byte { r.keys = nil; return r.appendJSON(t, nil) }, stream.ErrBadRecord},
		{"empty keys", func(r wireRec) []byte { r.keys = ddbjson.Item{}; return r.appendJSON(t, nil) }, stream.ErrBadRecord},
		{"insert without new image", func(r wireRec) []byte { r.img = nil; r.viewType = "KEYS_ONLY"; return r.appendJSON(t, nil) }, stream.ErrViewType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			second := good
			second.seq = "200"
			shard := &pagedShard{pages: [][]byte{responseBody("", good.appendJSON(t, nil), tc.rec(second))}}
			client := cannedClient(shard)
			_, _, typedErr := readShard(t, typedOnly{client}, stream.TrimHorizon())
			require.ErrorIs(t, typedErr, tc.errIs)
			_, _, err := readShard(t, client, stream.TrimHorizon())
			require.ErrorIs(t, err, tc.errIs)
			require.Equal(t, strings.Replace(typedErr.Error(), "GetRecords: ", "GetRecords: response record 1: ", 1), err.Error())
		})
	}
}

// TestGetRecords_MalformedBody: a body that is not a valid GetRecords
// response is an ErrBadRecord naming the shard, the record and the
// attribute, and the reader stays where it was.
func TestGetRecords_MalformedBody(t *testing.T) {
	t.Parallel()
	good := wireRec{eventID: "e", eventName: "INSERT", seq: "100", created: "1700000000",
		keys: ddbjson.Item{"id": &ddbtypes.AttributeValueMemberS{Value: "a"}}, img: ddbjson.Item{"id": &ddbtypes.AttributeValueMemberS{Value: "a"}}}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"bad number", `{"Records":[` + string(good.appendJSON(t, nil)) + `,{"eventID":"e2","dynamodb":{"NewImage":{"m":{"M":{"n":{"N":"1.2.3"}}}}}}]}`,
			[]string{"shard shard-1", "response record 1", "dynamodb.NewImage.m.n", `invalid DynamoDB number "1.2.3"`}},
		{"unknown type", `{"Records":[{"dynamodb":{"Keys":{"k":{"Z":"1"}}}}]}`,
			[]string{"shard shard-1", "response record 0", "dynamodb.Keys.k", "unknown AttributeValue type"}},
		{"truncated", `{"Records":[` + string(good.appendJSON(t, nil))[:60],
			[]string{"shard shard-1", "response record 0", "unexpected end of input"}},
		{"not JSON", `<html>oops</html>`, []string{"shard shard-1", "response: at byte 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shard := &pagedShard{pages: [][]byte{[]byte(tc.body)}}
			r, err := stream.NewShardReader(cannedClient(shard), testArn, "shard-1", stream.AfterSequenceNumber("50"), fastOpts(newClock())...)
			require.NoError(t, err)
			for range 2 { // and again: the same page, the same error
				_, err = r.Next(t.Context())
				require.ErrorIs(t, err, stream.ErrBadRecord)
				for _, w := range tc.want {
					require.ErrorContains(t, err, w)
				}
				require.Equal(t, stream.AfterSequenceNumber("50"), r.Position())
			}
		})
	}
}

// TestGetRecords_DirectPathInUse: with an SDK client the reader decodes the
// body itself. Its decoder checks numbers, which the SDK's does not.
func TestGetRecords_DirectPathInUse(t *testing.T) {
	t.Parallel()
	body := []byte(`{"Records":[{"eventID":"e","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1.7E9,` +
		`"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"},"n":{"N":"NaN"}},"SequenceNumber":"100"}}]}`)
	client := cannedClient(&pagedShard{pages: [][]byte{body}})
	_, _, err := readShard(t, typedOnly{client}, stream.TrimHorizon())
	require.NoError(t, err)
	_, _, err = readShard(t, client, stream.TrimHorizon())
	require.ErrorIs(t, err, ddbjson.ErrInvalidNumber)
}

// TestGetRecords_ErrorsAsSDK: error responses reach the retry rules as they
// did when the SDK decoded every response.
func TestGetRecords_ErrorsAsSDK(t *testing.T) {
	t.Parallel()
	records := variedRecords()[:4]
	for _, tc := range []struct {
		name    string
		errs    []wireErr
		cut     bool
		start   stream.Position
		retries map[stream.RetryCause]int64
		errAs   func(error) bool // nil: reads to the end
	}{
		{name: "expired iterator", errs: []wireErr{{"ExpiredIteratorException", 400}},
			retries: map[stream.RetryCause]int64{stream.CauseExpiredIterator: 1}},
		{name: "trimmed at a fresh start", errs: []wireErr{{"TrimmedDataAccessException", 400}},
			retries: map[stream.RetryCause]int64{stream.CauseTrimHorizon: 1}},
		{name: "throttled", errs: []wireErr{{"LimitExceededException", 400}, {"ProvisionedThroughputExceededException", 400}, {"ThrottlingException", 400}},
			retries: map[stream.RetryCause]int64{stream.CauseThrottle: 3}},
		{name: "server errors", errs: []wireErr{{"InternalServerError", 500}, {"ServiceUnavailable", 503}},
			retries: map[stream.RetryCause]int64{stream.CauseServer: 2}},
		{name: "connection lost reading the body", cut: true,
			retries: map[stream.RetryCause]int64{stream.CauseNetwork: 1}},
		{name: "trimmed past the checkpoint", errs: []wireErr{{"TrimmedDataAccessException", 400}}, start: stream.AfterSequenceNumber("50"),
			retries: map[stream.RetryCause]int64{},
			errAs: func(err error) bool {
				return errors.Is(err, stream.ErrGap) && errors.As(err, new(*types.TrimmedDataAccessException))
			}},
		{name: "not retryable", errs: []wireErr{{"ValidationException", 400}}, retries: map[stream.RetryCause]int64{},
			errAs: func(err error) bool {
				ae, ok := errors.AsType[smithy.APIError](err)
				return ok && ae.ErrorCode() == "ValidationException" && !errors.Is(err, stream.ErrBadRecord)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.start.Kind == 0 && tc.start.SequenceNumber == "" {
				tc.start = stream.TrimHorizon()
			}
			type result struct {
				pages   []stream.Page
				retries map[stream.RetryCause]int64
				err     error
			}
			var results []result
			for _, typed := range []bool{false, true} {
				shard := newPagedShard(t, 2, records)
				shard.errs, shard.cut = tc.errs, tc.cut
				var api stream.API = cannedClient(shard)
				if typed {
					api = typedOnly{api.(*dynamodbstreams.Client)}
				}
				pages, retries, err := readShard(t, api, tc.start)
				if tc.errAs == nil {
					require.NoError(t, err)
					require.Len(t, pages, 2)
				} else {
					require.True(t, tc.errAs(err), "%v", err)
				}
				require.Equal(t, tc.retries, retries)
				results = append(results, result{pages, retries, err})
			}
			require.Equal(t, results[1].pages, decodedPages(t, results[0].pages))
			if tc.errAs != nil {
				require.Equal(t, results[1].err.Error(), results[0].err.Error())
			}
		})
	}
}

// decodedPages is pages with every verbatim image decoded, as the typed
// path gives them.
func decodedPages(t *testing.T, pages []stream.Page) []stream.Page {
	t.Helper()
	if pages == nil {
		return nil
	}
	out := make([]stream.Page, len(pages))
	for i, p := range pages {
		// What the page says, without the memory its strings are in.
		out[i] = stream.Page{Changes: decodedChanges(t, p.Changes), Skipped: p.Skipped, Finished: p.Finished,
			CaughtUp: p.CaughtUp, CaughtUpAt: p.CaughtUpAt, Position: p.Position, FirstRecordTime: p.FirstRecordTime,
			OldestRecordTime: p.OldestRecordTime, State: p.State}
	}
	return out
}

func decodedChanges(t *testing.T, changes []stream.Change) []stream.Change {
	t.Helper()
	if changes == nil {
		return nil
	}
	out := make([]stream.Change, len(changes))
	for i, c := range changes {
		img, err := c.Image()
		require.NoError(t, err)
		c.NewImage, c.NewImageText = img, ""
		out[i] = c
	}
	return out
}
