package ddbjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// StreamRecord is one record of a DynamoDB Streams GetRecords response, as
// [DecodeGetRecords] decodes it: the members a follower uses, with absent
// members left at their zero values.
type StreamRecord struct {
	EventID   string
	EventName string
	// HasDynamodb is false when the record has no "dynamodb" member; the
	// fields from ApproximateCreationDateTime to StreamViewType come from it.
	HasDynamodb bool
	// ApproximateCreationDateTime is the record's creation time, converted
	// from epoch seconds (possibly fractional) exactly as the AWS SDK for Go
	// converts it: to whole milliseconds, truncated, in UTC. It is only
	// meaningful when HasCreationTime is set.
	ApproximateCreationDateTime time.Time
	HasCreationTime             bool
	// Keys and NewImage are nil when absent. A verbatim new image (see
	// [VerbatimScanner]) that holds the record's Keys as they are (the same
	// type and text, Keys coming first in the record, as AWS sends them) is
	// not decoded: NewImageText holds it as sent, and NewImage is nil. A
	// follower stores most images as they came, so decoding them would be
	// wasted, and takes their keys from Keys.
	Keys, NewImage Item
	NewImageText   string
	SequenceNumber string
	SizeBytes      int64
	StreamViewType string
	// UserIdentity is the record's userIdentity; empty when absent.
	UserIdentity StreamIdentity
}

// StreamIdentity is a stream record's userIdentity: only TTL deletions
// carry one.
type StreamIdentity struct {
	PrincipalID string
	Type        string
}

// RecordError is an error in the Index'th record (from 0) of a GetRecords
// response. Err is usually a [*SyntaxError], whose Path then starts at the
// record (as in dynamodb.NewImage.name).
type RecordError struct {
	Index int
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }

func (e *RecordError) Unwrap() error { return e.Err }

// maxEpochSeconds bounds ApproximateCreationDateTime: well past any real
// date, and small enough that its milliseconds are exact in a float64 and
// its nanoseconds fit an int64.
const maxEpochSeconds = 1e11

// DecodeGetRecords decodes the body of a DynamoDB Streams GetRecords
// response, as AWS sends it ({"NextShardIterator":"…","Records":[…]}). It
// calls each for every record in order, with a record that is reused for
// the next call (the items and strings in it are not); an error from each
// stops decoding and is returned as it is. It returns the next shard
// iterator, nil if absent (the shard is closed and read to its end).
//
// Keys and images are decoded as by [DecodeItem], except that the S0 and
// SS0 tags of the lossless form are unknown types here, as they are to
// DynamoDB; a verbatim new image is kept as text instead, and the old image
// is skipped, its syntax checked. Like
// the SDK's decoder, it skips members it does not use or know and treats a
// null member as absent; unlike it, it checks that numbers are numbers
// DynamoDB accepts. Any error in a record is a [*RecordError].
//
// As with [DecodeItem], body is copied once and every string decoded shares
// that copy, NewImageText too.
func DecodeGetRecords(body []byte, each func(i int, rec *StreamRecord) error) (next *string, err error) {
	return DecodeGetRecordsText(string(body), each)
}

// DecodeGetRecordsText is [DecodeGetRecords] for a body already held as a
// string: it is not copied, every string decoded is a slice of it.
func DecodeGetRecordsText(body string, each func(i int, rec *StreamRecord) error) (next *string, err error) {
	d := newTextDecoder(body)
	defer d.release()
	d.wire = true
	d.skipSpace()
	err = d.object(func(name string) error {
		switch name {
		case "NextShardIterator":
			s, err := d.str()
			next = &s
			return err
		case "Records":
			return d.records(each)
		}
		return d.skip(0)
	})
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected data after the response")
	}
	return next, nil
}

// records decodes the Records array, calling each for every record.
func (d *decoder) records(each func(int, *StreamRecord) error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	var rec StreamRecord
	for i := 0; ; i++ {
		rec = StreamRecord{}
		if err := d.record(&rec); err != nil {
			return &RecordError{Index: i, Err: err}
		}
		if err := each(i, &rec); err != nil {
			return err
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return &RecordError{Index: i, Err: d.errorf("want ',' or ']' after a record")}
		}
	}
}

// record decodes one element of Records.
func (d *decoder) record(rec *StreamRecord) error {
	return d.object(func(name string) error {
		var err error
		switch name {
		case "eventID":
			rec.EventID, err = d.str()
		case "eventName":
			rec.EventName, err = d.str()
		case "dynamodb":
			rec.HasDynamodb = true
			d.path = append(d.path, pathElem{name: name, index: -1})
			err = d.streamRecord(rec)
			d.path = d.path[:len(d.path)-1]
		case "userIdentity":
			err = d.object(func(name string) error {
				var err error
				switch name {
				case "PrincipalId":
					rec.UserIdentity.PrincipalID, err = d.str()
				case "Type":
					rec.UserIdentity.Type, err = d.str()
				default:
					err = d.skip(0)
				}
				return err
			})
		default:
			err = d.skip(0)
		}
		return err
	})
}

// streamRecord decodes a record's "dynamodb" member into rec.
func (d *decoder) streamRecord(rec *StreamRecord) error {
	return d.object(func(name string) error {
		var err error
		switch name {
		case "ApproximateCreationDateTime":
			rec.ApproximateCreationDateTime, err = d.epochSeconds()
			rec.HasCreationTime = err == nil
		case "Keys":
			d.path = append(d.path, pathElem{name: name, index: -1})
			rec.Keys, err = d.item(0)
			d.path = d.path[:len(d.path)-1]
		case "NewImage":
			d.skipSpace()
			if names, ok := keyNames(rec.Keys); ok {
				if end, ok := d.verbatim.Item(d.data, d.pos, names); ok && d.verbatimHolds(rec.Keys, names) {
					rec.NewImageText = d.text[d.pos:end]
					d.pos = end
					break
				}
			}
			d.path = append(d.path, pathElem{name: name, index: -1})
			rec.NewImage, err = d.item(0)
			d.path = d.path[:len(d.path)-1]
		case "OldImage":
			err = d.skipUnused() // a follower has no use for it
		case "SequenceNumber":
			rec.SequenceNumber, err = d.str()
		case "SizeBytes":
			rec.SizeBytes, err = d.int64()
		case "StreamViewType":
			rec.StreamViewType, err = d.str()
		default:
			err = d.skip(0)
		}
		return err
	})
}

// keyNames are the names of a record's key attributes, for the verbatim
// scan of its new image to note: false when there are none to note (Keys
// absent, or after the image in the record, or more than two).
func keyNames(keys Item) (names [2]string, ok bool) {
	if len(keys) == 0 || len(keys) > 2 {
		return names, false
	}
	i := 0
	for name := range keys {
		names[i] = name
		i++
	}
	return names, true
}

// verbatimHolds reports whether the item the verbatim scanner last scanned
// holds the key attributes keys, named names, as they are: a string or a
// number key with the same text (without escapes: then the text is the
// value). A new image is kept verbatim only then, so that a consumer may
// take its key from the record's Keys and not scan the image again.
func (d *decoder) verbatimHolds(keys Item, names [2]string) bool {
	for i, name := range names {
		if name == "" {
			continue
		}
		a := d.verbatim.Attr(i)
		switch v := keys[name].(type) {
		case *types.AttributeValueMemberS:
			if a.Tag != 'S' || bytes.IndexByte(a.Value, '\\') >= 0 || string(a.Value) != v.Value {
				return false
			}
		case *types.AttributeValueMemberN:
			if a.Tag != 'N' || string(a.Value) != v.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// object decodes a JSON object, calling member for each member whose value
// is not null, with d positioned at the value; member must consume it.
// Members whose value is null are skipped, as the SDK skips them. A name
// given twice is an error: the SDK would keep the second value, and we
// might mix the two.
func (d *decoder) object(member func(name string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	var buf [8]string
	seen := buf[:0]
	for {
		d.skipSpace()
		namePos := d.pos
		name, err := d.str()
		if err != nil {
			return err
		}
		if slices.Contains(seen, name) {
			d.pos = namePos
			return d.errorf("duplicate member %q", name)
		}
		seen = append(seen, name)
		if err := d.colon(); err != nil {
			return err
		}
		d.skipSpace()
		if !d.null() {
			if err := member(name); err != nil {
				return err
			}
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errorf("want ',' or '}' after member %q", name)
		}
	}
}

// null consumes a JSON null, if that is what comes next.
func (d *decoder) null() bool {
	if len(d.data)-d.pos >= 4 && d.text[d.pos:d.pos+4] == "null" {
		d.pos += 4
		return true
	}
	return false
}

// skip consumes any one JSON value, checking its syntax.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	d.skipSpace()
	switch c := d.peek(); {
	case c == '{':
		d.pos++
		d.skipSpace()
		if d.peek() == '}' {
			d.pos++
			return nil
		}
		for {
			if _, err := d.str(); err != nil {
				return err
			}
			if err := d.colon(); err != nil {
				return err
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.skipSpace()
			switch d.peek() {
			case ',':
				d.pos++
				d.skipSpace()
			case '}':
				d.pos++
				return nil
			default:
				return d.errorf("want ',' or '}' in an object")
			}
		}
	case c == '[':
		d.pos++
		d.skipSpace()
		if d.peek() == ']' {
			d.pos++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.skipSpace()
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return nil
			default:
				return d.errorf("want ',' or ']' in an array")
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == 't' || c == 'f':
		_, err := d.boolean()
		return err
	case c == 'n':
		if d.null() {
			return nil
		}
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	}
	if d.pos >= len(d.data) {
		return d.errorf("unexpected end of input, want a value")
	}
	return d.errorf("unexpected %q, want a value", d.data[d.pos])
}

// skipUnused consumes an object or array whose contents nobody reads (a
// record's old image): it finds where the value ends, matching brackets
// outside strings and finding each string's end by its quote, but checks
// neither the strings nor the scalars in between, as [decoder.skip] does
// at several times the cost. Any other value goes to [decoder.skip].
func (d *decoder) skipUnused() error {
	d.skipSpace()
	if c := d.peek(); c != '{' && c != '[' {
		return d.skip(0)
	}
	depth := 0
	for i := d.pos; i < len(d.data); i++ {
		switch d.data[i] {
		case '"':
			end, ok := stringEnd(d.data, i+1)
			if !ok {
				d.pos = i
				return d.errorf("unterminated string")
			}
			i = end
		case '{', '[':
			if depth++; depth > maxDepth {
				d.pos = i
				return d.errorf("nesting deeper than %d levels", maxDepth)
			}
		case '}', ']':
			if depth--; depth == 0 {
				d.pos = i + 1
				return nil
			}
		}
	}
	d.pos = len(d.data)
	return d.errorf("unexpected end of input in a value")
}

// stringEnd is the index of the quote that ends the string whose contents
// start at from: the first quote not escaped by an odd run of backslashes.
func stringEnd(data []byte, from int) (int, bool) {
	for j := from; ; {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, false
		}
		j += k
		escapes := 0
		for b := j - 1; b >= from && data[b] == '\\'; b-- {
			escapes++
		}
		if escapes%2 == 0 {
			return j, true
		}
		j++
	}
}

// number consumes a JSON number and returns its text.
func (d *decoder) number() (string, error) {
	d.skipSpace()
	start, i := d.pos, d.pos
	digits := func() bool {
		from := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		return i > from
	}
	bad := func() (string, error) {
		d.pos = start
		return "", d.errorf("invalid JSON number")
	}
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case !digits():
		return bad()
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		if !digits() {
			return bad()
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if !digits() {
			return bad()
		}
	}
	if i < len(d.data) && (d.data[i] >= '0' && d.data[i] <= '9' || d.data[i] == '.') {
		return bad() // a leading zero followed by more digits, or a second point
	}
	d.pos = i
	return d.text[start:i], nil
}

// int64 decodes a JSON number that must be an integer.
func (d *decoder) int64() (int64, error) {
	start := d.pos
	s, err := d.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.pos = start
		return 0, d.errorf("want an integer, got %s", s)
	}
	return n, nil
}

// epochSeconds decodes a timestamp in epoch seconds, as the AWS SDK for Go
// does (smithy-go's time.ParseEpochSeconds): the number as a float64, times
// 1000 rounded to a float64, truncated to whole milliseconds, in UTC.
// big.Float at 53 bits of precision, which the SDK uses, rounds exactly as
// float64 multiplication does.
func (d *decoder) epochSeconds() (time.Time, error) {
	start := d.pos
	s, err := d.number()
	if err != nil {
		return time.Time{}, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(f) > maxEpochSeconds {
		d.pos = start
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return time.Time{}, d.errorf("timestamp %s is out of range", s)
		}
		return time.Time{}, d.errorf("invalid timestamp %s", s)
	}
	return time.Unix(0, int64(f*1e3)*1e6).UTC(), nil
}
