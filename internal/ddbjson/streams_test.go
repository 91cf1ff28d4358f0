package ddbjson_test

import (
	"testing"

	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func TestFromStreams_AllTypes(t *testing.T) {
	in := map[string]streamtypes.AttributeValue{
		"s":    &streamtypes.AttributeValueMemberS{Value: "x"},
		"n":    &streamtypes.AttributeValueMemberN{Value: n38},
		"b":    &streamtypes.AttributeValueMemberB{Value: []byte{1}},
		"t":    &streamtypes.AttributeValueMemberBOOL{Value: true},
		"null": &streamtypes.AttributeValueMemberNULL{Value: true},
		"ss":   &streamtypes.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"ns":   &streamtypes.AttributeValueMemberNS{Value: []string{"2", "1"}},
		"bs":   &streamtypes.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}},
		"m": &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{
			"inner": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberS{Value: "y"}}},
		}},
		"emptyM": &streamtypes.AttributeValueMemberM{},
		"emptyL": &streamtypes.AttributeValueMemberL{},
	}
	got, err := ddbjson.FromStreams(in)
	require.NoError(t, err)
	want := ddbjson.Item{
		"s": sAV("x"), "n": nAV(n38), "b": bAV([]byte{1}), "t": boolAV(true), "null": nullAV(),
		"ss": ssAV("b", "a"), "ns": nsAV("2", "1"), "bs": bsAV([]byte{2}, []byte{1}),
		"m":      mAV(ddbjson.Item{"inner": lAV(sAV("y"))}),
		"emptyM": mAV(ddbjson.Item{}),
		"emptyL": lAV(),
	}
	require.Equal(t, want, got)
	enc, err := ddbjson.EncodeItem(got)
	require.NoError(t, err)
	require.Contains(t, string(enc), `"emptyM":{"M":{}}`)
	require.Contains(t, string(enc), `"emptyL":{"L":[]}`)
}

func TestFromStreams_NilAndUnknown(t *testing.T) {
	got, err := ddbjson.FromStreams(nil)
	require.NoError(t, err)
	require.Nil(t, got)

	_, err = ddbjson.FromStreams(map[string]streamtypes.AttributeValue{
		"l": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.UnknownUnionMember{Tag: "Q"}}},
	})
	require.ErrorIs(t, err, ddbjson.ErrUnknownType)
	require.Contains(t, err.Error(), "attribute l: [0]")
}
