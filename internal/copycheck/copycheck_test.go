package copycheck

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func TestCompare_ListsEachKindOfDifference(t *testing.T) {
	key, err := ddbjson.ParseKeySchema("id:S")
	require.NoError(t, err)
	item := func(id, v string) ddbjson.Item {
		return ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}, "v": &types.AttributeValueMemberN{Value: v}}
	}
	table, copy := Items{}, Items{}
	for _, it := range []ddbjson.Item{item("same", "1"), item("changed", "2"), item("gone", "3")} {
		require.NoError(t, table.add(key, it))
	}
	for _, it := range []ddbjson.Item{item("same", "1"), item("changed", "2.5"), item("new", "4")} {
		require.NoError(t, copy.add(key, it))
	}
	r := Compare(table, copy)
	require.False(t, r.Exact())
	require.Equal(t, 1, r.Same)
	require.Equal(t, []string{`{"id":{"S":"changed"}}`}, r.Different)
	require.Equal(t, []string{`{"id":{"S":"new"}}`}, r.Extra)
	require.Equal(t, []string{`{"id":{"S":"gone"}}`}, r.Missing)
	require.Contains(t, r.String(), "1 different")
	require.True(t, Compare(table, table).Exact())
}
