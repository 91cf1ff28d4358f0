package ddbjson_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

const n38 = "12345678901234567890123456789012345678" // 38 significant digits

// roundTripCases are items in DynamoDB JSON with the value they decode to and
// their canonical lossless encoding. They also seed the fuzz targets.
var roundTripCases = []struct {
	name string
	in   string
	want ddbjson.Item
	enc  string
}{
	{"empty item", `{}`, ddbjson.Item{}, `{}`},
	{"S plain", `{"a":{"S":"Hello"}}`, ddbjson.Item{"a": sAV("Hello")}, `{"a":{"S":"Hello"}}`},
	{"S empty", `{"a":{"S":""}}`, ddbjson.Item{"a": sAV("")}, `{"a":{"S":""}}`},
	{"S unicode", `{"a":{"S":"Grüße, 世界 🎉"}}`, ddbjson.Item{"a": sAV("Grüße, 世界 🎉")}, `{"a":{"S":"Grüße, 世界 🎉"}}`},
	{"S unicode escapes", `{"a":{"S":"\u00fc\ud83c\udf89\u2028"}}`, ddbjson.Item{"a": sAV("ü🎉\u2028")}, "{\"a\":{\"S\":\"ü🎉\u2028\"}}"},
	{"S escapes", `{"a":{"S":"q\"b\\s\/n\nr\rt\tb\bf\f\u0001\u001f"}}`,
		ddbjson.Item{"a": sAV("q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f")},
		`{"a":{"S":"q\"b\\s/n\nr\rt\tb\u0008f\u000c\u0001\u001f"}}`},
	{"S with U+0000", `{"a":{"S":"a\u0000b"}}`, ddbjson.Item{"a": sAV("a\x00b")}, `{"a":{"S0":"YQBi"}}`},
	{"S only U+0000", `{"a":{"S":"\u0000"}}`, ddbjson.Item{"a": sAV("\x00")}, `{"a":{"S0":"AA=="}}`},
	{"S backslash then u0000", `{"a":{"S":"\\u0000"}}`, ddbjson.Item{"a": sAV(`\u0000`)}, `{"a":{"S":"\\u0000"}}`},
	{"S0 escape decodes", `{"a":{"S0":"YQBi"}}`, ddbjson.Item{"a": sAV("a\x00b")}, `{"a":{"S0":"YQBi"}}`},
	{"SS with U+0000 element", `{"a":{"SS":["z","a\u0000"]}}`, ddbjson.Item{"a": ssAV("z", "a\x00")}, `{"a":{"SS0":["YQA=","eg=="]}}`},
	{"SS0 escape decodes", `{"a":{"SS0":["eg==","YQA="]}}`, ddbjson.Item{"a": ssAV("z", "a\x00")}, `{"a":{"SS0":["YQA=","eg=="]}}`},
	{"N integer", `{"a":{"N":"123"}}`, ddbjson.Item{"a": nAV("123")}, `{"a":{"N":"123"}}`},
	{"N 38 digits", `{"a":{"N":"` + n38 + `"}}`, ddbjson.Item{"a": nAV(n38)}, `{"a":{"N":"` + n38 + `"}}`},
	{"N 38 digit fraction", `{"a":{"N":"-0.` + n38 + `"}}`, ddbjson.Item{"a": nAV("-0." + n38)}, `{"a":{"N":"-0.` + n38 + `"}}`},
	{"N exponent", `{"a":{"N":"1.5E2"}}`, ddbjson.Item{"a": nAV("1.5E2")}, `{"a":{"N":"1.5E2"}}`},
	{"N negative exponent", `{"a":{"N":"-2e-3"}}`, ddbjson.Item{"a": nAV("-2e-3")}, `{"a":{"N":"-2e-3"}}`},
	{"N negative", `{"a":{"N":"-42.5"}}`, ddbjson.Item{"a": nAV("-42.5")}, `{"a":{"N":"-42.5"}}`},
	{"N minus zero", `{"a":{"N":"-0"}}`, ddbjson.Item{"a": nAV("-0")}, `{"a":{"N":"-0"}}`},
	{"N leading zeros", `{"a":{"N":"00042"}}`, ddbjson.Item{"a": nAV("00042")}, `{"a":{"N":"00042"}}`},
	{"N largest", `{"a":{"N":"9.9999999999999999999999999999999999999E+125"}}`,
		ddbjson.Item{"a": nAV("9.9999999999999999999999999999999999999E+125")}, `{"a":{"N":"9.9999999999999999999999999999999999999E+125"}}`},
	{"N smallest", `{"a":{"N":"-1E-130"}}`, ddbjson.Item{"a": nAV("-1E-130")}, `{"a":{"N":"-1E-130"}}`},
	{"N long text few digits", `{"a":{"N":"1234567895171680000000000000000000000000"}}`,
		ddbjson.Item{"a": nAV("1234567895171680000000000000000000000000")}, `{"a":{"N":"1234567895171680000000000000000000000000"}}`},
	{"B", `{"a":{"B":"dGhpcyB0ZXh0IGlzIGJhc2U2NC1lbmNvZGVk"}}`, ddbjson.Item{"a": bAV([]byte("this text is base64-encoded"))}, `{"a":{"B":"dGhpcyB0ZXh0IGlzIGJhc2U2NC1lbmNvZGVk"}}`},
	{"B empty", `{"a":{"B":""}}`, ddbjson.Item{"a": bAV([]byte{})}, `{"a":{"B":""}}`},
	{"B binary", `{"a":{"B":"AP+A"}}`, ddbjson.Item{"a": bAV([]byte{0, 0xff, 0x80})}, `{"a":{"B":"AP+A"}}`},
	{"BOOL true", `{"a":{"BOOL":true}}`, ddbjson.Item{"a": boolAV(true)}, `{"a":{"BOOL":true}}`},
	{"BOOL false", `{"a":{"BOOL":false}}`, ddbjson.Item{"a": boolAV(false)}, `{"a":{"BOOL":false}}`},
	{"NULL", `{"a":{"NULL":true}}`, ddbjson.Item{"a": nullAV()}, `{"a":{"NULL":true}}`},
	{"M empty", `{"a":{"M":{}}}`, ddbjson.Item{"a": mAV(ddbjson.Item{})}, `{"a":{"M":{}}}`},
	{"M nested", `{"a":{"M":{"z":{"N":"1"},"b":{"M":{"c":{"S":"x"}}}}}}`,
		ddbjson.Item{"a": mAV(ddbjson.Item{"z": nAV("1"), "b": mAV(ddbjson.Item{"c": sAV("x")})})},
		`{"a":{"M":{"b":{"M":{"c":{"S":"x"}}},"z":{"N":"1"}}}}`},
	{"L empty", `{"a":{"L":[]}}`, ddbjson.Item{"a": lAV()}, `{"a":{"L":[]}}`},
	{"L mixed", `{"a":{"L":[{"S":"Cookies"},{"N":"3.14159"},{"NULL":true},{"L":[{"BOOL":true}]},{"M":{"k":{"B":"AA=="}}},{"SS":["b","a"]}]}}`,
		ddbjson.Item{"a": lAV(sAV("Cookies"), nAV("3.14159"), nullAV(), lAV(boolAV(true)), mAV(ddbjson.Item{"k": bAV([]byte{0})}), ssAV("b", "a"))},
		`{"a":{"L":[{"S":"Cookies"},{"N":"3.14159"},{"NULL":true},{"L":[{"BOOL":true}]},{"M":{"k":{"B":"AA=="}}},{"SS":["a","b"]}]}}`},
	{"SS sorted", `{"a":{"SS":["Hippo","Giraffe","giraffe","Ä"]}}`, ddbjson.Item{"a": ssAV("Hippo", "Giraffe", "giraffe", "Ä")}, `{"a":{"SS":["Giraffe","Hippo","giraffe","Ä"]}}`},
	{"NS sorted", `{"a":{"NS":["42.2","-19","7","1E2"]}}`, ddbjson.Item{"a": nsAV("42.2", "-19", "7", "1E2")}, `{"a":{"NS":["-19","1E2","42.2","7"]}}`},
	{"BS sorted", `{"a":{"BS":["U3Vubnk=","UmFpbnk=",""]}}`, ddbjson.Item{"a": bsAV([]byte("Sunny"), []byte("Rainy"), []byte{})}, `{"a":{"BS":["","UmFpbnk=","U3Vubnk="]}}`},
	{"attributes sorted", `{"b":{"S":"2"},"a":{"S":"1"},"":{"S":"empty name"}}`,
		ddbjson.Item{"b": sAV("2"), "a": sAV("1"), "": sAV("empty name")}, `{"":{"S":"empty name"},"a":{"S":"1"},"b":{"S":"2"}}`},
	{"name escapes", `{"a\"b\\c\u00e9\n":{"S":"v"}}`, ddbjson.Item{"a\"b\\cé\n": sAV("v")}, `{"a\"b\\cé\n":{"S":"v"}}`},
	{"whitespace", " {\n\t\"a\" : { \"L\" : [ { \"N\" : \"1\" } , { \"SS\" : [ \"x\" , \"y\" ] } ] } \r\n} ",
		ddbjson.Item{"a": lAV(nAV("1"), ssAV("x", "y"))}, `{"a":{"L":[{"N":"1"},{"SS":["x","y"]}]}}`},
	{"book from AWS docs", `{"Authors":{"SS":["Author1","Author2"]},"Dimensions":{"S":"8.5 x 11.0 x 1.5"},"ISBN":{"S":"333-3333333333"},"Id":{"N":"103"},"InPublication":{"BOOL":false},"PageCount":{"N":"600"},"Price":{"N":"2000"},"ProductCategory":{"S":"Book"},"Title":{"S":"Book 103 Title"}}`,
		ddbjson.Item{"Authors": ssAV("Author1", "Author2"), "Dimensions": sAV("8.5 x 11.0 x 1.5"), "ISBN": sAV("333-3333333333"), "Id": nAV("103"),
			"InPublication": boolAV(false), "PageCount": nAV("600"), "Price": nAV("2000"), "ProductCategory": sAV("Book"), "Title": sAV("Book 103 Title")},
		`{"Authors":{"SS":["Author1","Author2"]},"Dimensions":{"S":"8.5 x 11.0 x 1.5"},"ISBN":{"S":"333-3333333333"},"Id":{"N":"103"},"InPublication":{"BOOL":false},"PageCount":{"N":"600"},"Price":{"N":"2000"},"ProductCategory":{"S":"Book"},"Title":{"S":"Book 103 Title"}}`},
}

func TestDecodeItem_RoundTrip(t *testing.T) {
	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ddbjson.DecodeItem([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)

			enc, err := ddbjson.EncodeItem(got)
			require.NoError(t, err)
			require.Equal(t, tc.enc, string(enc))
			require.False(t, hasNulEscape(enc), "the lossless form must fit in jsonb")

			again, err := ddbjson.DecodeItem(enc)
			require.NoError(t, err)
			require.Equal(t, canonical(t, tc.want), canonical(t, again))

			// The same item as an export line decodes alike.
			line, err := ddbjson.DecodeExportLine([]byte(`{"Item":` + tc.in + "}"))
			require.NoError(t, err)
			require.Equal(t, tc.want, line)
		})
	}
}

// canonical re-encodes an item, to compare items whose sets may differ in order.
func canonical(t testing.TB, item ddbjson.Item) string {
	t.Helper()
	enc, err := ddbjson.EncodeItem(item)
	require.NoError(t, err)
	return string(enc)
}

func TestEncodeItem_SetOrderDoesNotMatter(t *testing.T) {
	tests := []struct {
		name string
		a, b types.AttributeValue
	}{
		{"SS", ssAV("c", "a", "b"), ssAV("b", "c", "a")},
		{"SS with U+0000", ssAV("x\x00", "a", "\x00"), ssAV("\x00", "x\x00", "a")},
		{"NS", nsAV("10", "9", "-1", "0.5", n38), nsAV(n38, "0.5", "9", "-1", "10")},
		{"NS equal values", nsAV("1.0", "1", "2"), nsAV("2", "1", "1.0")},
		{"BS", bsAV([]byte{2}, []byte{1}, []byte{}), bsAV([]byte{}, []byte{2}, []byte{1})},
		{"nested in L and M", lAV(mAV(ddbjson.Item{"s": ssAV("y", "x")})), lAV(mAV(ddbjson.Item{"s": ssAV("x", "y")}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ea, err := ddbjson.EncodeItem(ddbjson.Item{"v": tc.a})
			require.NoError(t, err)
			eb, err := ddbjson.EncodeItem(ddbjson.Item{"v": tc.b})
			require.NoError(t, err)
			require.Equal(t, string(ea), string(eb))

			pa, err := ddbjson.AppendPlain(nil, ddbjson.Item{"v": tc.a})
			require.NoError(t, err)
			pb, err := ddbjson.AppendPlain(nil, ddbjson.Item{"v": tc.b})
			require.NoError(t, err)
			require.Equal(t, string(pa), string(pb))
		})
	}
}

func TestEncodeItem_SetInputNotModified(t *testing.T) {
	ss := []string{"b", "a"}
	ns := []string{"2", "1"}
	bs := [][]byte{{2}, {1}}
	_, err := ddbjson.EncodeItem(ddbjson.Item{"s": ssAV(ss...), "n": nsAV(ns...), "b": bsAV(bs...)})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a"}, ss)
	require.Equal(t, []string{"2", "1"}, ns)
	require.Equal(t, [][]byte{{2}, {1}}, bs)
}

func TestEncodeItem_DifferentValuesDiffer(t *testing.T) {
	last9 := n38[:37] + "9"
	tests := []struct {
		name string
		a, b types.AttributeValue
	}{
		{"N 38th digit", nAV(n38), nAV(last9)},
		{"N 38th digit fraction", nAV("0." + n38), nAV("0." + last9)},
		{"NS 38th digit", nsAV("1", n38), nsAV("1", last9)},
		{"S vs N", sAV("1"), nAV("1")},
		{"SS vs L", ssAV("a"), lAV(sAV("a"))},
		{"S U+0000 position", sAV("a\x00"), sAV("\x00a")},
		{"B vs S", bAV([]byte("a")), sAV("a")},
		{"empty M vs empty L", mAV(ddbjson.Item{}), lAV()},
		{"BOOL false vs NULL", boolAV(false), nullAV()},
		{"L order", lAV(sAV("a"), sAV("b")), lAV(sAV("b"), sAV("a"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ea, err := ddbjson.EncodeItem(ddbjson.Item{"v": tc.a})
			require.NoError(t, err)
			eb, err := ddbjson.EncodeItem(ddbjson.Item{"v": tc.b})
			require.NoError(t, err)
			require.NotEqual(t, string(ea), string(eb))
		})
	}
}

func TestAppendItem_AppendsToDst(t *testing.T) {
	dst := []byte("prefix:")
	out, err := ddbjson.AppendItem(dst, ddbjson.Item{"a": sAV("x")})
	require.NoError(t, err)
	require.Equal(t, `prefix:{"a":{"S":"x"}}`, string(out))
}

func TestAppendItem_Rejects(t *testing.T) {
	deep := mAV(ddbjson.Item{})
	for range 100 {
		deep = mAV(ddbjson.Item{"d": deep})
	}
	deepL := lAV()
	for range 100 {
		deepL = lAV(deepL)
	}
	cyclic := ddbjson.Item{}
	cyclic["self"] = mAV(cyclic)
	tests := []struct {
		name    string
		item    ddbjson.Item
		errIs   error
		errText string
	}{
		{"U+0000 in name", ddbjson.Item{"a\x00": sAV("x")}, ddbjson.ErrNulInName, ""},
		{"U+0000 in nested name", ddbjson.Item{"m": mAV(ddbjson.Item{"\x00": nullAV()})}, ddbjson.ErrNulInName, "attribute m"},
		{"invalid N", ddbjson.Item{"n": nAV("abc")}, ddbjson.ErrInvalidNumber, "attribute n"},
		{"N 39 digits", ddbjson.Item{"n": nAV(n38 + "1")}, ddbjson.ErrInvalidNumber, ""},
		{"invalid NS element", ddbjson.Item{"n": nsAV("1", "x")}, ddbjson.ErrInvalidNumber, ""},
		{"invalid N in list", ddbjson.Item{"l": lAV(nAV("1"), nAV("--1"))}, ddbjson.ErrInvalidNumber, "attribute l: [1]"},
		{"empty SS", ddbjson.Item{"s": ssAV()}, nil, "set must not be empty"},
		{"empty NS", ddbjson.Item{"s": nsAV()}, nil, "set must not be empty"},
		{"empty BS", ddbjson.Item{"s": bsAV()}, nil, "set must not be empty"},
		{"nil value", ddbjson.Item{"x": nil}, nil, "nil AttributeValue"},
		{"unknown type", ddbjson.Item{"x": &types.UnknownUnionMember{Tag: "Q"}}, ddbjson.ErrUnknownType, ""},
		{"deep M", ddbjson.Item{"d": deep}, nil, "nesting deeper"},
		{"deep L", ddbjson.Item{"d": deepL}, nil, "nesting deeper"},
		{"cyclic M", cyclic, nil, "nesting deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ddbjson.EncodeItem(tc.item)
			require.Error(t, err)
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
			}
			require.Contains(t, err.Error(), tc.errText)
		})
	}
}

// nested returns an item whose attribute "d" nests levels deep: M inside L
// inside M... with a string at the bottom.
func nested(levels int) string {
	var b strings.Builder
	b.WriteString(`{"d":`)
	for i := range levels - 1 {
		if i%2 == 0 {
			b.WriteString(`{"M":{"d":`)
		} else {
			b.WriteString(`{"L":[`)
		}
	}
	b.WriteString(`{"S":"bottom"}`)
	for i := levels - 2; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString(`}}`)
		} else {
			b.WriteString(`]}`)
		}
	}
	b.WriteString(`}`)
	return b.String()
}

func TestDecodeItem_NestingLimit(t *testing.T) {
	// DynamoDB allows 32 levels; those must decode and encode.
	for _, levels := range []int{1, 2, 32, 33, 64} {
		item, err := ddbjson.DecodeItem([]byte(nested(levels)))
		require.NoError(t, err, "levels %d", levels)
		enc, err := ddbjson.EncodeItem(item)
		require.NoError(t, err, "levels %d", levels)
		again, err := ddbjson.DecodeItem(enc)
		require.NoError(t, err)
		require.Equal(t, item, again)
	}
	for _, levels := range []int{66, 1000, 100000} {
		_, err := ddbjson.DecodeItem([]byte(nested(levels)))
		var se *ddbjson.SyntaxError
		require.ErrorAs(t, err, &se, "levels %d", levels)
		require.Contains(t, err.Error(), "nesting deeper than")
	}
}

func TestHasNulEscape_TellsEscapedBackslashApart(t *testing.T) {
	require.True(t, hasNulEscape([]byte(`"a\u0000"`)))
	require.True(t, hasNulEscape([]byte(`"\\\u0000"`)))
	require.False(t, hasNulEscape([]byte(`"\\u0000"`)))
	require.False(t, hasNulEscape([]byte(`"\u00`)))
}
