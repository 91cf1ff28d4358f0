package ddbjson_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	smithytime "github.com/aws/smithy-go/time"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// decodeAll decodes a GetRecords body into a slice of its records.
func decodeAll(body string) ([]ddbjson.StreamRecord, *string, error) {
	var recs []ddbjson.StreamRecord
	next, err := ddbjson.DecodeGetRecords([]byte(body), func(i int, rec *ddbjson.StreamRecord) error {
		if i != len(recs) {
			return errors.New("index out of order")
		}
		recs = append(recs, *rec)
		return nil
	})
	return recs, next, err
}

func TestDecodeGetRecords(t *testing.T) {
	body := `{"Records":[
	  {"awsRegion":"eu-west-2","dynamodb":{"ApproximateCreationDateTime":1.7E9,"Keys":{"id":{"S":"a"}},
	    "NewImage":{"id":{"S":"a"},"n":{"N":"12345678901234567890123456789012345678"},"e":{"S":""},"a\u0000b":{"S":"x\u0000y"}},
	    "SequenceNumber":"100","SizeBytes":42,"StreamViewType":"NEW_AND_OLD_IMAGES","Future":{"x":[1,2.5e3,true,null,"s"]}},
	   "eventID":"e1","eventName":"INSERT","eventSource":"aws:dynamodb","eventVersion":"1.1"},
	  {"eventID":"e2","eventName":"REMOVE","userIdentity":{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"},
	   "dynamodb":{"ApproximateCreationDateTime":1700000000.1239,"Keys":{"id":{"S":"b"}},"NewImage":null,
	    "OldImage":{"id":{"S":"b"}},"SequenceNumber":"200","StreamViewType":"NEW_AND_OLD_IMAGES"}},
	  {"eventID":"e3","dynamodb":null}
	],"NextShardIterator":"it-2"}`
	recs, next, err := decodeAll(body)
	require.NoError(t, err)
	require.Equal(t, "it-2", *next)
	require.Len(t, recs, 3)

	r := recs[0]
	require.Equal(t, "e1", r.EventID)
	require.Equal(t, "INSERT", r.EventName)
	require.True(t, r.HasDynamodb)
	require.True(t, r.HasCreationTime)
	require.Equal(t, time.Unix(1_700_000_000, 0).UTC(), r.ApproximateCreationDateTime)
	require.Equal(t, ddbjson.Item{"id": sAV("a")}, r.Keys)
	require.Equal(t, ddbjson.Item{
		"id": sAV("a"), "n": nAV("12345678901234567890123456789012345678"), "e": sAV(""), "a\x00b": sAV("x\x00y"),
	}, r.NewImage, "the wire form keeps U+0000 in names and strings")
	require.Empty(t, r.NewImageText, "an image with escapes is decoded")
	require.Equal(t, "100", r.SequenceNumber)
	require.Equal(t, int64(42), r.SizeBytes)
	require.Equal(t, "NEW_AND_OLD_IMAGES", r.StreamViewType)
	require.Equal(t, ddbjson.StreamIdentity{}, r.UserIdentity)

	r = recs[1]
	require.Equal(t, "REMOVE", r.EventName)
	require.Equal(t, ddbjson.StreamIdentity{PrincipalID: "dynamodb.amazonaws.com", Type: "Service"}, r.UserIdentity)
	require.Equal(t, time.UnixMilli(1_700_000_000_123).UTC(), r.ApproximateCreationDateTime)
	require.Nil(t, r.NewImage, "null is absent")
	require.Empty(t, r.NewImageText, "null is absent")
	require.Zero(t, r.SizeBytes)

	r = recs[2]
	require.False(t, r.HasDynamodb, "null is absent")
	require.False(t, r.HasCreationTime)
}

func TestDecodeGetRecords_Empty(t *testing.T) {
	for body, wantNext := range map[string]string{
		`{"Records":[],"NextShardIterator":"x"}`: "x",
		` { } `:                                  "",
		`{"Records":null,"NextShardIterator":null}`: "",
		`{"Records":[]}`: "",
	} {
		recs, next, err := decodeAll(body)
		require.NoError(t, err, body)
		require.Empty(t, recs, body)
		if wantNext == "" {
			require.Nil(t, next, body)
		} else {
			require.Equal(t, wantNext, *next, body)
		}
	}
}

func TestDecodeGetRecords_Rejects(t *testing.T) {
	const rec = `{"eventID":"e","dynamodb":{"Keys":{"id":{"S":"a"}},"SequenceNumber":"1"}}`
	for _, tc := range []struct {
		name  string
		body  string
		index int // -1: not in a record
		errIs error
		msg   string
	}{
		{"empty", ``, -1, nil, "unexpected end of input"},
		{"truncated", `{"Records":[` + rec, 0, nil, "after a record"},
		{"truncated in a record", `{"Records":[` + rec[:40], 0, nil, "unexpected end of input"},
		{"trailing data", `{"Records":[]}x`, -1, nil, "unexpected data after the response"},
		{"not an object", `[]`, -1, nil, "unexpected '['"},
		{"records not an array", `{"Records":{}}`, -1, nil, "want '['"},
		{"bad unknown member", `{"Records":[],"X":[1,]}`, -1, nil, "want a value"},
		{"bad number in unknown member", `{"X":01}`, -1, nil, "invalid JSON number"},
		{"second record bad", `{"Records":[` + rec + `,{"eventID":"e","dynamodb":{"NewImage":{"n":{"N":"1.2.3"}}}}]}`, 1, ddbjson.ErrInvalidNumber, "dynamodb.NewImage.n"},
		{"unknown type", `{"Records":[{"dynamodb":{"Keys":{"k":{"X":"1"}}}}]}`, 0, ddbjson.ErrUnknownType, `dynamodb.Keys.k`},
		{"lossless S0 tag", `{"Records":[{"dynamodb":{"NewImage":{"s":{"S0":"YQBi"}}}}]}`, 0, ddbjson.ErrUnknownType, `"S0"`},
		{"lossless SS0 tag", `{"Records":[{"dynamodb":{"NewImage":{"s":{"SS0":["YQBi"]}}}}]}`, 0, ddbjson.ErrUnknownType, `"SS0"`},
		{"bad base64", `{"Records":[{"dynamodb":{"NewImage":{"b":{"B":"!!"}}}}]}`, 0, nil, "invalid base64"},
		{"two type tags", `{"Records":[{"dynamodb":{"NewImage":{"b":{"S":"a","N":"1"}}}}]}`, 0, nil, "exactly one type tag"},
		{"time a string", `{"Records":[{"dynamodb":{"ApproximateCreationDateTime":"1700000000"}}]}`, 0, nil, "invalid JSON number"},
		{"time out of range", `{"Records":[{"dynamodb":{"ApproximateCreationDateTime":1e300}}]}`, 0, nil, "out of range"},
		{"time overflow", `{"Records":[{"dynamodb":{"ApproximateCreationDateTime":1e400}}]}`, 0, nil, "out of range"},
		{"size fractional", `{"Records":[{"dynamodb":{"SizeBytes":1.5}}]}`, 0, nil, "want an integer"},
		{"sequence number a number", `{"Records":[{"dynamodb":{"SequenceNumber":1}}]}`, 0, nil, "want a string"},
		{"event name not a string", `{"Records":[{"eventName":true}]}`, 0, nil, "want a string"},
		{"identity not an object", `{"Records":[{"userIdentity":"x"}]}`, 0, nil, "want '{'"},
		{"bad escape", `{"Records":[{"eventID":"\q"}]}`, 0, nil, "invalid escape"},
		{"two Records", `{"Records":[],"Records":[]}`, -1, nil, `duplicate member "Records"`},
		{"two dynamodb", `{"Records":[{"dynamodb":{"Keys":{"k":{"S":"a"}}},"dynamodb":{}}]}`, 0, nil, `duplicate member "dynamodb"`},
		{"two images, one null", `{"Records":[{"dynamodb":{"NewImage":null,"NewImage":{}}}]}`, 0, nil, `duplicate member "NewImage"`},
		{"two identity types", `{"Records":[{"userIdentity":{"Type":"a","Type":"b"}}]}`, 0, nil, `duplicate member "Type"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeAll(tc.body)
			require.Error(t, err)
			re, ok := errors.AsType[*ddbjson.RecordError](err)
			if tc.index < 0 {
				require.False(t, ok, "%v", err)
			} else {
				require.True(t, ok, "%v", err)
				require.Equal(t, tc.index, re.Index)
				require.ErrorContains(t, err, "record "+strconv.Itoa(tc.index)+":")
			}
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
			}
			require.ErrorContains(t, err, tc.msg)
			_, ok = errors.AsType[*ddbjson.SyntaxError](err)
			require.True(t, ok, "%v", err)
		})
	}
}

func TestDecodeGetRecords_CallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	_, err := ddbjson.DecodeGetRecords([]byte(`{"Records":[{},{}]}`), func(int, *ddbjson.StreamRecord) error {
		calls++
		return stop
	})
	require.Same(t, stop, err)
	require.Equal(t, 1, calls)
}

// TestDecodeGetRecords_TimeAsSDK checks the creation time against the SDK's
// own conversion, for integers, fractions and the forms AWS writes.
func TestDecodeGetRecords_TimeAsSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"0", "1.7E9", "1.700000000123E9", "1700000000.1239", "1700000000.9995", "-1.5", "-0.0001",
		"1234567890.001", "1e10", "99999999999.999", "0.1", "4.2e-7"}
	for range 2000 {
		f := rng.Float64() * 4e9
		texts = append(texts, strconv.FormatFloat(f, 'f', -1, 64), strconv.FormatFloat(f, 'E', -1, 64),
			strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64), strconv.FormatInt(int64(f), 10))
	}
	for _, s := range texts {
		recs, _, err := decodeAll(`{"Records":[{"dynamodb":{"ApproximateCreationDateTime":` + s + `}}]}`)
		require.NoError(t, err, s)
		f, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		require.Equal(t, smithytime.ParseEpochSeconds(f), recs[0].ApproximateCreationDateTime, s)
	}
}

func TestDecodeGetRecords_DeepUnknownMember(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	_, _, err := decodeAll(`{"X":` + deep + `}`)
	require.ErrorContains(t, err, "nesting deeper")
	ok := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	_, _, err = decodeAll(`{"X":` + ok + `}`)
	require.NoError(t, err)
}

func FuzzDecodeGetRecords(f *testing.F) {
	addItemSeeds(f, func(s string) string {
		return `{"Records":[{"eventID":"e","dynamodb":{"Keys":` + s + `,"NewImage":` + s + `,"SequenceNumber":"1"}}]}`
	})
	f.Add([]byte(`{"Records":[],"NextShardIterator":"x","Other":{"a":[1,-2.5e+3,true,false,null,"\u00e9"]}}`))
	f.Add([]byte(`{"Records":[{"dynamodb":{"ApproximateCreationDateTime":1.7E9,"SizeBytes":3}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n := 0
		_, err := ddbjson.DecodeGetRecords(body, func(i int, rec *ddbjson.StreamRecord) error {
			require.Equal(t, n, i)
			n++
			return nil
		})
		if err != nil {
			se, ok := errors.AsType[*ddbjson.SyntaxError](err)
			require.True(t, ok, "%v", err)
			require.GreaterOrEqual(t, se.Offset, 0)
			require.LessOrEqual(t, se.Offset, len(body))
			return
		}
		require.True(t, json.Valid(body), "accepted invalid JSON: %q", body)
	})
}

// The old image is skipped without being decoded, but its end is found
// exactly: brackets and quotes inside its strings, escaped or not, do not
// end it, and what follows it is decoded as usual.
func TestDecodeGetRecords_SkipsTheOldImageExactly(t *testing.T) {
	for _, old := range []string{
		`{}`,
		`[]`,
		`{"a":{"S":"}]"},"b":{"L":[{"S":"[{\"}"},{"M":{"c":{"S":"\\"}}}]}}`,
		`{"q":{"S":"\\\""},"e":{"S":"\\\\"},"u":{"S":"\u0022}"}}`,
		`{"k" : { "S" : "spaced" } }`,
	} {
		body := `{"Records":[{"eventID":"e","dynamodb":{"Keys":{"id":{"S":"a"}},"OldImage":` + old +
			`,"SequenceNumber":"200","StreamViewType":"NEW_AND_OLD_IMAGES"}}],"NextShardIterator":"it"}`
		require.True(t, json.Valid([]byte(body)), "the test's body is JSON: %s", body)
		recs, next, err := decodeAll(body)
		require.NoError(t, err, "old image %s", old)
		require.Len(t, recs, 1)
		require.Equal(t, "200", recs[0].SequenceNumber, "old image %s", old)
		require.Equal(t, "NEW_AND_OLD_IMAGES", recs[0].StreamViewType)
		require.Equal(t, "it", *next)
	}
	for _, old := range []string{`{"a":{"S":"unterminated}}]}`, `{"a":{"L":[[[`} {
		body := `{"Records":[{"eventID":"e","dynamodb":{"OldImage":` + old
		_, _, err := decodeAll(body)
		require.Error(t, err, "old image %s", old)
		_, ok := errors.AsType[*ddbjson.SyntaxError](err)
		require.True(t, ok, "%v", err)
	}
}

// A new image is kept verbatim only when it holds the record's Keys as
// they are; otherwise it is decoded, and its consumer finds what differs.
func TestDecodeGetRecords_VerbatimImageHoldsTheKeys(t *testing.T) {
	for _, tc := range []struct {
		name, keys, image string
		verbatim          bool
	}{
		{"string key", `{"id":{"S":"a"}}`, `{"n":{"N":"1"},"id":{"S":"a"}}`, true},
		{"two keys", `{"id":{"S":"a"},"v":{"N":"1.50"}}`, `{"v":{"N":"1.50"},"id":{"S":"a"}}`, true},
		{"key missing", `{"id":{"S":"a"}}`, `{"n":{"N":"1"}}`, false},
		{"another value", `{"id":{"S":"a"}}`, `{"id":{"S":"b"}}`, false},
		{"another type", `{"id":{"S":"1"}}`, `{"id":{"N":"1"}}`, false},
		{"another number text", `{"v":{"N":"1.5"}}`, `{"v":{"N":"1.50"}}`, false},
		{"escaped key", `{"id":{"S":"a\"b"}}`, `{"id":{"S":"a\"b"}}`, false},
		{"binary key", `{"id":{"B":"AQI="}}`, `{"id":{"B":"AQI="}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"Records":[{"dynamodb":{"Keys":` + tc.keys + `,"NewImage":` + tc.image + `,"SequenceNumber":"1"}}]}`
			recs, _, err := decodeAll(body)
			require.NoError(t, err)
			if tc.verbatim {
				require.Equal(t, tc.image, recs[0].NewImageText)
				require.Nil(t, recs[0].NewImage)
				return
			}
			require.Empty(t, recs[0].NewImageText)
			require.NotNil(t, recs[0].NewImage, "decoded instead")
		})
	}
	// Keys after the image: nothing to check the image against when it is
	// read, so it is decoded.
	recs, _, err := decodeAll(`{"Records":[{"dynamodb":{"NewImage":{"id":{"S":"a"}},"Keys":{"id":{"S":"a"}}}}]}`)
	require.NoError(t, err)
	require.Empty(t, recs[0].NewImageText)
	require.Equal(t, ddbjson.Item{"id": sAV("a")}, recs[0].NewImage)
}
