package ddbjson_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func TestAppendPlain_Form(t *testing.T) {
	tests := []struct {
		name string
		item ddbjson.Item
		want string
	}{
		{"empty", ddbjson.Item{}, `{}`},
		{"S", ddbjson.Item{"s": sAV("a\"b\n")}, `{"s":"a\"b\n"}`},
		{"S empty", ddbjson.Item{"s": sAV("")}, `{"s":""}`},
		{"S with U+0000 shown as U+FFFD", ddbjson.Item{"s": sAV("a\x00b")}, `{"s":"a\ufffdb"}`},
		{"N as JSON number", ddbjson.Item{"n": nAV("42")}, `{"n":42}`},
		{"N normalized", ddbjson.Item{"n": nAV("-001.50E1")}, `{"n":-15}`},
		{"N minus zero", ddbjson.Item{"n": nAV("-0")}, `{"n":0}`},
		{"N all 38 digits", ddbjson.Item{"n": nAV(n38)}, `{"n":` + n38 + `}`},
		{"N 38 digit fraction", ddbjson.Item{"n": nAV("0." + n38)}, `{"n":0.` + n38 + `}`},
		{"N exponent expanded", ddbjson.Item{"n": nAV("1E20")}, `{"n":100000000000000000000}`},
		{"B base64", ddbjson.Item{"b": bAV([]byte{0, 1, 2})}, `{"b":"AAEC"}`},
		{"B empty", ddbjson.Item{"b": bAV([]byte{})}, `{"b":""}`},
		{"BOOL", ddbjson.Item{"t": boolAV(true), "f": boolAV(false)}, `{"f":false,"t":true}`},
		{"NULL", ddbjson.Item{"x": nullAV()}, `{"x":null}`},
		{"SS sorted array", ddbjson.Item{"s": ssAV("b", "a")}, `{"s":["a","b"]}`},
		{"NS sorted numbers", ddbjson.Item{"s": nsAV("10", "2.50", "-1")}, `{"s":[-1,10,2.5]}`},
		{"BS sorted base64", ddbjson.Item{"s": bsAV([]byte{2}, []byte{1})}, `{"s":["AQ==","Ag=="]}`},
		{"M", ddbjson.Item{"m": mAV(ddbjson.Item{"z": nAV("1"), "a": mAV(ddbjson.Item{})})}, `{"m":{"a":{},"z":1}}`},
		{"L", ddbjson.Item{"l": lAV(sAV("x"), nAV("1"), nullAV(), lAV())}, `{"l":["x",1,null,[]]}`},
		{"names escaped", ddbjson.Item{"a\"\\": sAV("v")}, `{"a\"\\":"v"}`},
		{"invalid UTF-8 replaced", ddbjson.Item{"s": sAV("a\xffb")}, `{"s":"a\ufffdb"}`},
		{"control characters", ddbjson.Item{"s": sAV("\x01\x1f\x7f")}, `{"s":"\u0001\u001f` + "\x7f" + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ddbjson.AppendPlain(nil, tc.item)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			requirePlainJSON(t, got)
		})
	}
}

// requirePlainJSON asserts that b is valid JSON that jsonb can hold.
func requirePlainJSON(t testing.TB, b []byte) {
	t.Helper()
	require.True(t, json.Valid(b), "plain form is not valid JSON: %s", b)
	require.False(t, hasNulEscape(b), "jsonb cannot hold U+0000: %s", b)
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
}

func TestAppendPlain_NumbersKeepEveryDigit(t *testing.T) {
	for _, tc := range numberCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ddbjson.AppendPlain(nil, ddbjson.Item{"n": nAV(tc.in), "ns": nsAV(tc.in)})
			require.NoError(t, err)
			var v map[string]any
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&v))
			require.Equal(t, json.Number(tc.want), v["n"])
			require.Equal(t, []any{json.Number(tc.want)}, v["ns"])
		})
	}
}

func TestAppendPlain_RoundTripCasesAreValidJSON(t *testing.T) {
	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ddbjson.AppendPlain([]byte("x"), tc.want)
			require.NoError(t, err)
			require.Equal(t, byte('x'), out[0], "appends to dst")
			requirePlainJSON(t, out[1:])
		})
	}
}

func TestAppendPlain_Rejects(t *testing.T) {
	cyclic := ddbjson.Item{}
	cyclic["self"] = mAV(cyclic)
	tests := []struct {
		name  string
		item  ddbjson.Item
		errIs error
		msg   string
	}{
		{"invalid N", ddbjson.Item{"n": nAV("x")}, ddbjson.ErrInvalidNumber, "attribute n"},
		{"invalid NS", ddbjson.Item{"n": nsAV("1", "1E999")}, ddbjson.ErrInvalidNumber, "attribute n"},
		{"invalid N in list", ddbjson.Item{"l": lAV(nullAV(), nAV(""))}, ddbjson.ErrInvalidNumber, "attribute l: [1]"},
		{"nil value", ddbjson.Item{"x": nil}, nil, "nil AttributeValue"},
		{"U+0000 in name", ddbjson.Item{"a\x00": sAV("x")}, ddbjson.ErrNulInName, ""},
		{"cyclic M", cyclic, nil, "nesting deeper"},
		{"deep M", ddbjson.Item{"d": deepM(200)}, nil, "nesting deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ddbjson.AppendPlain(nil, tc.item)
			require.Error(t, err)
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
			}
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestAppendPlain_NestingAllowedByDynamoDB(t *testing.T) {
	item, err := ddbjson.DecodeItem([]byte(nested(32)))
	require.NoError(t, err)
	out, err := ddbjson.AppendPlain(nil, item)
	require.NoError(t, err)
	requirePlainJSON(t, out)
	require.Equal(t, 15, strings.Count(string(out), "["))
}
