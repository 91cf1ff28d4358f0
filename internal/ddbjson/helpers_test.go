package ddbjson_test

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// Short constructors for AttributeValues.
func sAV(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func nAV(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func bAV(v []byte) types.AttributeValue     { return &types.AttributeValueMemberB{Value: v} }
func boolAV(v bool) types.AttributeValue    { return &types.AttributeValueMemberBOOL{Value: v} }
func nullAV() types.AttributeValue          { return &types.AttributeValueMemberNULL{Value: true} }
func ssAV(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
func nsAV(v ...string) types.AttributeValue { return &types.AttributeValueMemberNS{Value: v} }
func bsAV(v ...[]byte) types.AttributeValue { return &types.AttributeValueMemberBS{Value: v} }
func mAV(v ddbjson.Item) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: v}
}
func lAV(v ...types.AttributeValue) types.AttributeValue {
	if v == nil {
		v = []types.AttributeValue{}
	}
	return &types.AttributeValueMemberL{Value: v}
}

// deepM returns levels maps nested in each other.
func deepM(levels int) types.AttributeValue {
	v := mAV(ddbjson.Item{})
	for range levels - 1 {
		v = mAV(ddbjson.Item{"d": v})
	}
	return v
}

// hasNulEscape reports whether JSON text b holds the escape \u0000 (which
// jsonb refuses), telling it apart from an escaped backslash followed by
// "u0000".
func hasNulEscape(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}
