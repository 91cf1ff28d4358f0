package ddbjson_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// rejectCases are inputs DecodeItem refuses, with the sentinel (if any), the
// attribute path and the byte offset the error must carry, and a piece of
// its message. They also seed the fuzz targets.
var rejectCases = []struct {
	name   string
	in     string
	errIs  error
	path   string
	offset int // -1: not checked
	msg    string
}{
	{"empty input", ``, nil, "", 0, "unexpected end of input"},
	{"not an object", `[]`, nil, "", 0, "unexpected '['"},
	{"trailing data", `{} {}`, nil, "", 3, "unexpected data after the item"},
	{"unknown type", `{"a":{"Q":"x"}}`, ddbjson.ErrUnknownType, "a", 6, `"Q"`},
	{"unknown type lower case", `{"a":{"s":"x"}}`, ddbjson.ErrUnknownType, "a", 6, `"s"`},
	{"unknown type deep", `{"a":{"M":{"b":{"L":[{"S":"x"},{"NN":"1"}]}}}}`, ddbjson.ErrUnknownType, "a.b[1]", 32, `"NN"`},
	{"U+0000 in name", `{"a\u0000b":{"S":"x"}}`, ddbjson.ErrNulInName, "", -1, "U+0000"},
	{"U+0000 in nested name", `{"m":{"M":{"\u0000":{"S":"x"}}}}`, ddbjson.ErrNulInName, "m", -1, "U+0000"},
	{"N 39 significant digits", `{"n":{"N":"` + n38 + `1"}}`, ddbjson.ErrInvalidNumber, "n", -1, "more than 38 significant digits"},
	{"N too large", `{"n":{"N":"1E126"}}`, ddbjson.ErrInvalidNumber, "n", -1, "out of DynamoDB's range"},
	{"N too small", `{"n":{"N":"-1E-131"}}`, ddbjson.ErrInvalidNumber, "n", -1, "out of DynamoDB's range"},
	{"N not a number", `{"n":{"N":"twelve"}}`, ddbjson.ErrInvalidNumber, "n", -1, "twelve"},
	{"N empty", `{"n":{"N":""}}`, ddbjson.ErrInvalidNumber, "n", -1, "no digits"},
	{"N NaN", `{"n":{"N":"NaN"}}`, ddbjson.ErrInvalidNumber, "n", -1, ""},
	{"N Infinity", `{"n":{"N":"-Infinity"}}`, ddbjson.ErrInvalidNumber, "n", -1, ""},
	{"N hex", `{"n":{"N":"0x10"}}`, ddbjson.ErrInvalidNumber, "n", -1, ""},
	{"N space", `{"n":{"N":" 1"}}`, ddbjson.ErrInvalidNumber, "n", -1, ""},
	{"N as JSON number", `{"n":{"N":1}}`, nil, "n", 10, "want a string"},
	{"NS bad element", `{"n":{"NS":["1","x"]}}`, ddbjson.ErrInvalidNumber, "n", -1, `"x"`},
	{"NS 39 digits", `{"n":{"NS":["` + n38 + `0.1"]}}`, ddbjson.ErrInvalidNumber, "n", -1, ""},
	{"NULL false", `{"x":{"NULL":false}}`, nil, "x", -1, "NULL must be true"},
	{"NULL string", `{"x":{"NULL":"true"}}`, nil, "x", -1, "want true or false"},
	{"BOOL string", `{"x":{"BOOL":"true"}}`, nil, "x", -1, "want true or false"},
	{"BOOL trailing letters", `{"x":{"BOOL":truex}}`, nil, "x", -1, "exactly one type tag"},
	{"two type tags", `{"x":{"S":"a","N":"1"}}`, nil, "x", -1, "exactly one type tag"},
	{"no type tag", `{"x":{}}`, nil, "x", -1, "want a string"},
	{"value not an object", `{"x":"a"}`, nil, "x", 5, "want '{'"},
	{"B invalid base64", `{"b":{"B":"!!!"}}`, nil, "b", 10, "invalid base64"},
	{"B unpadded", `{"b":{"B":"YQ"}}`, nil, "b", 10, "invalid base64"},
	{"S0 invalid base64", `{"s":{"S0":"%"}}`, nil, "s", -1, "invalid base64"},
	{"S0 invalid UTF-8", `{"s":{"S0":"/w=="}}`, nil, "s", -1, "UTF-8"},
	{"SS0 invalid UTF-8", `{"s":{"SS0":["YQA=","/w=="]}}`, nil, "s", -1, "UTF-8"},
	{"SS empty", `{"s":{"SS":[]}}`, nil, "s", -1, "set must not be empty"},
	{"NS empty", `{"s":{"NS":[]}}`, nil, "s", -1, "set must not be empty"},
	{"BS empty", `{"s":{"BS":[]}}`, nil, "s", -1, "set must not be empty"},
	{"SS number element", `{"s":{"SS":[1]}}`, nil, "s", -1, "want a string"},
	{"BS bad element", `{"s":{"BS":["AA==","*"]}}`, nil, "s", -1, "invalid base64"},
	{"L element not AttributeValue", `{"l":{"L":["a"]}}`, nil, "l[0]", -1, "want '{'"},
	{"L missing comma", `{"l":{"L":[{"S":"a"} {"S":"b"}]}}`, nil, "l", -1, "want ',' or ']'"},
	{"M missing comma", `{"m":{"S":"a"} "n":{"S":"b"}}`, nil, "", -1, "want ',' or '}'"},
	{"duplicate attribute", `{"a":{"S":"1"},"a":{"S":"2"}}`, nil, "", 15, `duplicate attribute "a"`},
	{"duplicate nested attribute", `{"m":{"M":{"k":{"S":"1"},"k":{"S":"2"}}}}`, nil, "m", 25, `duplicate attribute "k"`},
	{"invalid UTF-8", "{\"s\":{\"S\":\"\xff\"}}", nil, "s", -1, "UTF-8"},
	{"invalid UTF-8 with escape", "{\"s\":{\"S\":\"\\n\xc3\"}}", nil, "s", -1, "UTF-8"},
	{"control character", "{\"s\":{\"S\":\"a\nb\"}}", nil, "s", 12, "control character"},
	{"bad escape", `{"s":{"S":"\x"}}`, nil, "s", 12, `invalid escape \x`},
	{"bad unicode escape", `{"s":{"S":"\u12G4"}}`, nil, "s", -1, `invalid \u escape`},
	{"short unicode escape", `{"s":{"S":"\u12"}}`, nil, "s", -1, `invalid \u escape`},
	{"lone high surrogate", `{"s":{"S":"\ud83c"}}`, nil, "s", -1, "surrogate"},
	{"lone low surrogate", `{"s":{"S":"\udf89x"}}`, nil, "s", -1, "surrogate"},
	{"reversed surrogates", `{"s":{"S":"\udf89\ud83c"}}`, nil, "s", -1, "surrogate"},
	{"unterminated string", `{"s":{"S":"abc`, nil, "s", -1, "unterminated string"},
	{"unterminated escape", `{"s":{"S":"abc\`, nil, "s", -1, "unterminated string"},
	{"unterminated item", `{"s":{"S":"abc"}`, nil, "", -1, "want ',' or '}'"},
	{"error below an empty name", `{"":{"M":{"":`, nil, ".", -1, "unexpected end of input"},
	{"error below a bracketed name", `{"[0]":{"L":[{"M":{"[1]":{"X":1}}}]}}`, ddbjson.ErrUnknownType, "[0][0].[1]", -1, `"X"`},
	{"truncated after colon", `{"s":`, nil, "s", -1, "unexpected end of input"},
}

func TestDecodeItem_Rejects(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			item, err := ddbjson.DecodeItem([]byte(tc.in))
			require.Error(t, err)
			require.Nil(t, item)
			var se *ddbjson.SyntaxError
			require.ErrorAs(t, err, &se)
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
			}
			require.Equal(t, tc.path, se.Path, "attribute path")
			if tc.offset >= 0 {
				require.Equal(t, tc.offset, se.Offset, "byte offset")
			}
			require.GreaterOrEqual(t, se.Offset, 0)
			require.LessOrEqual(t, se.Offset, len(tc.in))
			require.Contains(t, err.Error(), tc.msg)
			require.Contains(t, err.Error(), "at byte ")
			if tc.path != "" {
				require.Contains(t, err.Error(), "(attribute "+tc.path+")")
			}

			// The same fault inside an export line is reported at the
			// same path, shifted by the envelope.
			_, lerr := ddbjson.DecodeExportLine([]byte(`{"Item":` + tc.in + `}`))
			require.Error(t, lerr)
			if tc.errIs != nil {
				require.ErrorIs(t, lerr, tc.errIs)
			}
		})
	}
}

func TestSyntaxError_Message(t *testing.T) {
	_, err := ddbjson.DecodeItem([]byte(`{"a":{"M":{"b":{"L":[{"S":"x"},{"Q":"y"}]}}}}`))
	require.EqualError(t, err, `at byte 32 (attribute a.b[1]): unknown AttributeValue type "Q"`)
	_, err = ddbjson.DecodeItem([]byte(`{"a":{"S":1}}`))
	require.EqualError(t, err, `at byte 10 (attribute a): unexpected '1', want a string`)
	_, err = ddbjson.DecodeItem([]byte(`x`))
	require.EqualError(t, err, `at byte 0: unexpected 'x', want '{'`)
}

func TestDecodeExportLine_Envelope(t *testing.T) {
	ok := []struct {
		name string
		line string
		want ddbjson.Item
	}{
		{"plain", `{"Item":{"id":{"S":"x"}}}`, ddbjson.Item{"id": sAV("x")}},
		{"empty item", `{"Item":{}}`, ddbjson.Item{}},
		{"spaces", " { \"Item\" : { \"id\" : { \"N\" : \"1\" } } } ", ddbjson.Item{"id": nAV("1")}},
		{"CRLF", "{\"Item\":{\"id\":{\"S\":\"x\"}}}\r\n", ddbjson.Item{"id": sAV("x")}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ddbjson.DecodeExportLine([]byte(tc.line))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	bad := []struct {
		name string
		line string
		msg  string
	}{
		{"empty", ``, "unexpected end of input"},
		{"blank", "  \n", "unexpected end of input"},
		{"not JSON", `hello`, "want '{'"},
		{"JSON array", `[{"Item":{}}]`, "want '{'"},
		{"empty object", `{}`, `no "Item"`},
		{"bare item", `{"id":{"S":"x"}}`, `unexpected member "id"`},
		{"incremental line", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"pk":{"S":"a"}}}`, `unexpected member "Metadata"`},
		{"extra member", `{"Item":{},"Other":1}`, `unexpected member "Other"`},
		{"duplicate Item", `{"Item":{},"Item":{}}`, `duplicate member "Item"`},
		{"trailing comma", `{"Item":{},}`, "want a string"},
		{"Item not an object", `{"Item":"x"}`, "want '{'"},
		{"Item null", `{"Item":null}`, "want '{'"},
		{"missing colon", `{"Item"{}}`, "want ':'"},
		{"unclosed", `{"Item":{}`, "want '}'"},
		{"trailing data", `{"Item":{}}x`, "unexpected data after the export line"},
		{"two lines", "{\"Item\":{}}\n{\"Item\":{}}", "unexpected data after the export line"},
		{"member name not a string", `{Item:{}}`, "want a string"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ddbjson.DecodeExportLine([]byte(tc.line))
			require.Error(t, err)
			require.Nil(t, got)
			var se *ddbjson.SyntaxError
			require.ErrorAs(t, err, &se)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestDecodeExportLine_LongLine(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	got, err := ddbjson.DecodeExportLine([]byte(`{"Item":{"id":{"S":"a"},"big":{"S":"` + big + `"}}}`))
	require.NoError(t, err)
	require.Equal(t, sAV(big), got["big"])
}
