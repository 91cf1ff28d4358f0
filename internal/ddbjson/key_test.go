package ddbjson_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func TestParseKeySchema_Forms(t *testing.T) {
	tests := []struct {
		spec  string
		want  ddbjson.KeySchema
		str   string
		typed bool
	}{
		{"id", ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "id"}}, "id:", false},
		{"id:S", ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "id", Type: ddbjson.TypeS}}, "id:S", true},
		{"pk:S,sk:N", ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "pk", Type: ddbjson.TypeS}, Range: ddbjson.KeyAttribute{Name: "sk", Type: ddbjson.TypeN}}, "pk:S,sk:N", true},
		{" pk:B , sk ", ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "pk", Type: ddbjson.TypeB}, Range: ddbjson.KeyAttribute{Name: "sk"}}, "pk:B,sk:", false},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ddbjson.ParseKeySchema(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.str, got.String())
			require.Equal(t, tc.typed, got.Typed())
			again, err := ddbjson.ParseKeySchema(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func TestParseKeySchema_Rejects(t *testing.T) {
	for _, spec := range []string{"", "a,b,c", ":S", "a,", ",b", "a:X", "a:s", "a,a", "a:S,a:N"} {
		t.Run(spec, func(t *testing.T) {
			_, err := ddbjson.ParseKeySchema(spec)
			require.Error(t, err)
		})
	}
}

func TestKeySchema_KeyOf(t *testing.T) {
	hashRange := ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "pk", Type: ddbjson.TypeS}, Range: ddbjson.KeyAttribute{Name: "sk", Type: ddbjson.TypeN}}
	untyped := ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "id"}}
	item := ddbjson.Item{"pk": sAV("a"), "sk": nAV("1"), "other": sAV("x")}
	key, err := hashRange.KeyOf(item)
	require.NoError(t, err)
	require.Equal(t, ddbjson.Item{"pk": sAV("a"), "sk": nAV("1")}, key)
	require.Len(t, hashRange.Attributes(), 2)

	for _, v := range []types.AttributeValue{sAV("x"), nAV("0"), bAV([]byte{1})} {
		key, err := untyped.KeyOf(ddbjson.Item{"id": v})
		require.NoError(t, err)
		require.Equal(t, ddbjson.Item{"id": v}, key)
	}

	bad := []struct {
		name   string
		schema ddbjson.KeySchema
		item   ddbjson.Item
		msg    string
	}{
		{"missing range", hashRange, ddbjson.Item{"pk": sAV("a")}, `"sk" is missing`},
		{"missing hash", hashRange, ddbjson.Item{"sk": nAV("1")}, `"pk" is missing`},
		{"wrong type", hashRange, ddbjson.Item{"pk": sAV("a"), "sk": sAV("1")}, "has type S, want N"},
		{"not scalar", untyped, ddbjson.Item{"id": ssAV("a")}, "has type SS"},
		{"nil value", untyped, ddbjson.Item{"id": nil}, "has type ?"},
		{"empty S", untyped, ddbjson.Item{"id": sAV("")}, "is empty"},
		{"empty B", untyped, ddbjson.Item{"id": bAV(nil)}, "is empty"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.schema.KeyOf(tc.item)
			require.ErrorIs(t, err, ddbjson.ErrMissingKey)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestTypeOf_AllTypes(t *testing.T) {
	tests := []struct {
		v    types.AttributeValue
		want ddbjson.ScalarType
	}{
		{sAV(""), "S"}, {nAV("1"), "N"}, {bAV(nil), "B"}, {boolAV(true), "BOOL"}, {nullAV(), "NULL"},
		{mAV(nil), "M"}, {lAV(), "L"}, {ssAV("a"), "SS"}, {nsAV("1"), "NS"}, {bsAV([]byte{}), "BS"}, {nil, "?"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, ddbjson.TypeOf(tc.v))
	}
}
