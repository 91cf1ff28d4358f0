package store_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

func TestParseKeySchema_RoundTrips(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want store.KeySchema
	}{
		{"hash only", "id:S", store.KeySchema{Hash: store.KeyAttribute{Name: "id", Type: "S"}}},
		{"hash and range", "pk:B,sk:N", store.KeySchema{
			Hash: store.KeyAttribute{Name: "pk", Type: "B"}, Range: store.KeyAttribute{Name: "sk", Type: "N"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.ParseKeySchema(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.spec, got.String())
		})
	}
}

func TestParseKeySchema_Untyped(t *testing.T) {
	k, err := store.ParseKeySchema("pk,sk")
	require.NoError(t, err)
	require.Equal(t, []store.KeyAttribute{{Name: "pk"}, {Name: "sk"}}, k.Attributes())
	_, err = store.NewLayout("T", "", k)
	require.Error(t, err, "a layout needs typed keys")
}

func TestParseKeySchema_Rejects(t *testing.T) {
	for _, spec := range []string{"", "a,b,c", "id:X", "id,id"} {
		_, err := store.ParseKeySchema(spec)
		require.Error(t, err, spec)
	}
}

func TestKeySchema_KeyOf(t *testing.T) {
	k, err := store.ParseKeySchema("pk:S,sk:N")
	require.NoError(t, err)
	require.True(t, k.Typed())
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
		"v": &types.AttributeValueMemberBOOL{Value: true},
	}
	key, err := k.KeyOf(item)
	require.NoError(t, err)
	require.Equal(t, map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}, key)
	delete(item, "sk")
	_, err = k.KeyOf(item)
	require.ErrorIs(t, err, ddbjson.ErrMissingKey)

	untyped, err := store.ParseKeySchema("pk,sk")
	require.NoError(t, err)
	require.False(t, untyped.Typed())
}
