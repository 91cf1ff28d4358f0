package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// The GetRecords decode path. The SDK's schema-driven JSON decoder, and
// the conversion of its streams-typed images into DynamoDB ones, cost far
// more time and memory than the rest of a follower's reading. So the
// reader asks the SDK client (through the optFns every API method takes)
// to hand it the raw body of a successful GetRecords response instead, and
// decodes that with [ddbjson.DecodeGetRecords] straight into Changes. Error
// responses are untouched: the SDK's own error decoder turns them into the
// same typed errors as always, and the retry rules see no difference. An
// API that ignores the optFns (a test fake) returns typed records, which
// [ChangeFromRecord] decodes as before.

// recordPage is one GetRecords response, decoded.
type recordPage struct {
	// Records are the response's records, decoded, in shard order. (The
	// name is the SDK output's, whose place this takes in the reader.)
	Records []Change
	// NextShardIterator is nil when the shard is closed and read to its end.
	NextShardIterator *string
	// body holds the response the records' strings are slices of; none
	// for records decoded by the SDK.
	body bodyRef
}

// pageBody is the memory of a GetRecords response body, reused from page
// to page once released ([Page.Release]): reading each body into fresh
// memory cost a follower more than decoding it (the kernel maps and zeroes
// a megabyte for every page).
type pageBody struct {
	buf []byte
	// uses counts the times the body was taken and given back: odd while
	// a page holds it.
	uses atomic.Uint64
}

// pageBodies are the bodies released, for the pages to come.
var pageBodies = sync.Pool{New: func() any { return new(pageBody) }}

// bodyRef is one use of a body: the page that holds it, and its copies.
type bodyRef struct {
	body *pageBody
	use  uint64 // body.uses while this use lasts
}

// takeBody takes a body for a new page.
func takeBody() bodyRef {
	b := pageBodies.Get().(*pageBody)
	return bodyRef{body: b, use: b.uses.Add(1)}
}

// release gives the body back for reuse, once. It zeroes the body first
// (tens of microseconds a megabyte): a string of a page used after its
// release then reads NULs, which every use refuses (PostgreSQL's text and
// jsonb, the decoders), rather than another page's changes.
func (r bodyRef) release() {
	if r.end() {
		clear(r.body.buf)
		pageBodies.Put(r.body)
	}
}

// end ends this use of the body, and reports whether it did: releasing a
// page again, or a copy of it, even after the body went on to another
// page, must not give the body back a second time.
func (r bodyRef) end() bool {
	return r.body != nil && r.body.uses.CompareAndSwap(r.use, r.use+1)
}

// fetchRecords makes one GetRecords call and decodes its records. A record
// it cannot decode gives an error wrapping [ErrBadRecord] (or [ErrViewType]
// or [ErrBadSequenceNumber], as [ChangeFromRecord] says) that names the
// shard and the record's index in the response. Decoded from the body, the
// changes' strings share one copy of it (see [ddbjson.DecodeGetRecords]).
func fetchRecords(ctx context.Context, api API, shardID string, in *dynamodbstreams.GetRecordsInput) (*recordPage, error) {
	body := new(rawBody)
	out, err := api.GetRecords(ctx, in, body.capture)
	if err != nil {
		body.into.release()
		return nil, err
	}
	if !body.captured {
		body.into.release()
		return typedPage(shardID, out)
	}
	p, err := decodePage(shardID, body.text)
	if err != nil {
		// Not released: the error may hold slices of the body.
		return nil, err
	}
	p.body = body.into
	return p, nil
}

// typedPage decodes the SDK's typed output.
func typedPage(shardID string, out *dynamodbstreams.GetRecordsOutput) (*recordPage, error) {
	p := &recordPage{Records: make([]Change, 0, len(out.Records)), NextShardIterator: out.NextShardIterator}
	for _, rec := range out.Records {
		c, err := ChangeFromRecord(shardID, rec)
		if err != nil {
			return nil, err
		}
		p.Records = append(p.Records, c)
	}
	return p, nil
}

// decodePage decodes the body of a successful GetRecords response.
func decodePage(shardID string, body string) (*recordPage, error) {
	p := new(recordPage)
	next, err := ddbjson.DecodeGetRecordsText(body, func(i int, rec *ddbjson.StreamRecord) error {
		c, err := changeFromStreamRecord(shardID, rec)
		if err != nil {
			return fmt.Errorf("response record %d: %w", i, err)
		}
		p.Records = append(p.Records, c)
		return nil
	})
	if re, ok := errors.AsType[*ddbjson.RecordError](err); ok {
		return nil, fmt.Errorf("%w: shard %s: response record %d: %w", ErrBadRecord, shardID, re.Index, re.Err)
	}
	if _, ok := errors.AsType[*ddbjson.SyntaxError](err); ok {
		return nil, fmt.Errorf("%w: shard %s: response: %w", ErrBadRecord, shardID, err)
	}
	if err != nil {
		return nil, err
	}
	if next != nil {
		// The reader keeps the iterator past the page, whose body is reused.
		it := strings.Clone(*next)
		next = &it
	}
	p.NextShardIterator = next
	return p, nil
}

// changeFromStreamRecord is [ChangeFromRecord] for a record decoded from
// the wire: the same checks, in the same order, with the same errors.
func changeFromStreamRecord(shardID string, rec *ddbjson.StreamRecord) (Change, error) {
	if !rec.HasDynamodb {
		return Change{}, fmt.Errorf("%w: shard %s event %s has no dynamodb field", ErrBadRecord, shardID, rec.EventID)
	}
	seq := rec.SequenceNumber
	if err := CheckSequenceNumber(seq); err != nil {
		return Change{}, fmt.Errorf("shard %s event %s: %w", shardID, rec.EventID, err)
	}
	c := Change{
		ShardID:        shardID,
		SequenceNumber: seq,
		EventName:      EventName(rec.EventName),
		EventID:        rec.EventID,
		TTL:            rec.UserIdentity.Type == ttlIdentityType && rec.UserIdentity.PrincipalID == ttlPrincipal,
	}
	// The constants, not the body's bytes: a page's strings are reused
	// once it is released.
	switch c.EventName {
	case EventInsert:
		c.EventName = EventInsert
	case EventModify:
		c.EventName = EventModify
	case EventRemove:
		c.EventName = EventRemove
	default:
		return Change{}, fmt.Errorf("%w: shard %s seq %s has event name %q", ErrBadRecord, shardID, seq, rec.EventName)
	}
	if !rec.HasCreationTime {
		return Change{}, fmt.Errorf("%w: shard %s seq %s has no ApproximateCreationDateTime", ErrBadRecord, shardID, seq)
	}
	c.ApproximateCreationTime = rec.ApproximateCreationDateTime
	c.SizeBytes = rec.SizeBytes
	if len(rec.Keys) == 0 {
		return Change{}, fmt.Errorf("%w: shard %s seq %s has no keys", ErrBadRecord, shardID, seq)
	}
	c.Keys, c.NewImage, c.NewImageText = rec.Keys, rec.NewImage, rec.NewImageText
	if c.NewImage == nil && c.NewImageText == "" && c.EventName != EventRemove {
		return Change{}, fmt.Errorf("%w: shard %s seq %s is an %s without a new image (record view type %q)",
			ErrViewType, shardID, seq, c.EventName, rec.StreamViewType)
	}
	return c, nil
}

// rawBody receives the body of a successful GetRecords response from the
// SDK client, through the middleware its capture option adds. The body is
// read once, into a [pageBody] (into) taken for it, and seen as a string:
// the decoded changes' strings are slices of it, so that a page's images
// are neither copied nor allocated one by one.
type rawBody struct {
	text     string
	captured bool    // false until a response is captured
	into     bodyRef // the memory text is in; none until a response is read
}

// bodyCaptureID names the middleware in the SDK's stack.
const bodyCaptureID = "ddbsync.GetRecordsBody"

// capture is an option for GetRecords: it adds the middleware to the
// operation's stack, right inside the SDK's own deserializer, so that it
// sees each response before the SDK decodes it. A stack without that
// deserializer (an SDK that changed its layout) is left alone, and its
// typed output used.
func (b *rawBody) capture(o *dynamodbstreams.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		const sdkDeserializer = "OperationDeserializer"
		if _, ok := s.Deserialize.Get(sdkDeserializer); !ok {
			return nil
		}
		return s.Deserialize.Insert(bodyCapture{b}, sdkDeserializer, middleware.After)
	})
}

// maxPresizedBody bounds the room made for a body from its Content-Length
// before reading it. A GetRecords response carries at most 1 MB of
// records, somewhat more as JSON; a larger body grows as it is read.
const maxPresizedBody = 8 << 20

// bodyCapture is the middleware: on a 2xx response it reads the body into
// a string for the caller and leaves the SDK's deserializer an empty body,
// from which it decodes an empty output at no cost. Other responses, and
// transport errors, pass through untouched to the SDK's error handling.
type bodyCapture struct{ into *rawBody }

func (bodyCapture) ID() string { return bodyCaptureID }

func (m bodyCapture) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	// A body from an earlier attempt is no answer to this one.
	m.into.text, m.into.captured = "", false
	m.into.into.release()
	m.into.into = bodyRef{}
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 || resp.Body == nil {
		return out, md, err
	}
	body := takeBody()
	buf := body.body.buf[:0]
	if n := resp.ContentLength; n > 0 && n <= maxPresizedBody && int(n) > cap(buf) {
		buf = make([]byte, 0, n)
	}
	buf, rerr := readAll(buf, resp.Body)
	_ = resp.Body.Close() // read to EOF: the connection is reusable whatever Close says
	resp.Body = http.NoBody
	body.body.buf = buf
	if rerr != nil {
		body.release()
		// As the SDK reports a body it could not read, so that the retry
		// rules classify it the same.
		return out, md, &smithy.DeserializationError{Err: rerr}
	}
	m.into.text, m.into.captured, m.into.into = unsafe.String(unsafe.SliceData(buf), len(buf)), true, body
	return out, md, nil
}

// readAll appends r's bytes to buf up to EOF, growing it as needed.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
