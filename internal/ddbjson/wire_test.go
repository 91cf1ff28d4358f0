package ddbjson_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func TestAppendWire_KeepsNulAsAWSSendsIt(t *testing.T) {
	item := ddbjson.Item{
		"a\x00name": &types.AttributeValueMemberS{Value: "x\x00y"},
		"ss":        &types.AttributeValueMemberSS{Value: []string{"b", "a\x00"}},
		"n":         &types.AttributeValueMemberN{Value: "1.5"},
	}
	wire, err := ddbjson.AppendWire(nil, item)
	require.NoError(t, err)
	require.Equal(t, `{"a\u0000name":{"S":"x\u0000y"},"n":{"N":"1.5"},"ss":{"SS":["a\u0000","b"]}}`, string(wire))
	require.False(t, strings.Contains(string(wire), "S0"))

	// The lossless form of the same item refuses the name and escapes the values.
	_, err = ddbjson.EncodeItem(item)
	require.ErrorIs(t, err, ddbjson.ErrNulInName)
	delete(item, "a\x00name")
	lossless, err := ddbjson.EncodeItem(item)
	require.NoError(t, err)
	require.Contains(t, string(lossless), `"SS0"`)
}
