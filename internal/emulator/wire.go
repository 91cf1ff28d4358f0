package emulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// appendWireItem appends item as DynamoDB JSON the way AWS sends it.
// Items are validated on the way in, so encoding cannot fail.
func appendWireItem(dst []byte, item ddbjson.Item) []byte {
	out, err := ddbjson.AppendWire(dst, item)
	if err != nil {
		panic(fmt.Sprintf("emulator: encoding a stored item: %v", err))
	}
	return out
}

// wireItem is an item in a response, encoded by appendWireItem.
type wireItem ddbjson.Item

func (w wireItem) MarshalJSON() ([]byte, error) {
	if w == nil {
		return []byte("null"), nil
	}
	return appendWireItem(nil, ddbjson.Item(w)), nil
}

// epoch is a timestamp on the JSON wire: epoch seconds, with milliseconds
// when there are any.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	var f json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp %s: want epoch seconds", b)
	}
	v, err := f.Float64()
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	sec := int64(v)
	*e = epoch(time.Unix(sec, int64((v-float64(sec))*1e9)).UTC().Round(time.Millisecond))
	return nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// decodeItemField decodes a request member holding an item or key ({} or
// absent gives an empty item). Numbers come back normalized, as DynamoDB
// stores them.
func decodeItemField(raw json.RawMessage, what string) (ddbjson.Item, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return ddbjson.Item{}, nil
	}
	item, err := ddbjson.DecodeItem(raw)
	if err != nil {
		return nil, errValidation("%s: %v", what, err)
	}
	normalizeItem(item)
	return item, nil
}

// normalizeItem rewrites every number in item, in place, to the canonical
// text DynamoDB returns ("1.50" becomes "1.5").
func normalizeItem(item ddbjson.Item) {
	for k, v := range item {
		item[k] = normalizeValue(v)
	}
}

func normalizeValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberN:
		if n, err := ddbjson.NormalizeNumber(v.Value); err == nil {
			return &types.AttributeValueMemberN{Value: n}
		}
	case *types.AttributeValueMemberNS:
		out := make([]string, len(v.Value))
		for i, s := range v.Value {
			out[i], _ = ddbjson.NormalizeNumber(s)
		}
		return &types.AttributeValueMemberNS{Value: out}
	case *types.AttributeValueMemberM:
		normalizeItem(v.Value)
	case *types.AttributeValueMemberL:
		for i, e := range v.Value {
			v.Value[i] = normalizeValue(e)
		}
	}
	return v
}

// itemSize approximates DynamoDB's item size: attribute name bytes plus
// value bytes.
func itemSize(item ddbjson.Item) int64 {
	var n int64
	for k, v := range item {
		n += int64(len(k)) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int64 {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return int64(len(v.Value))
	case *types.AttributeValueMemberN:
		return int64(len(v.Value)/2 + 1)
	case *types.AttributeValueMemberB:
		return int64(len(v.Value))
	case *types.AttributeValueMemberSS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s))
		}
		return n
	case *types.AttributeValueMemberNS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s)/2 + 1)
		}
		return n
	case *types.AttributeValueMemberBS:
		var n int64
		for _, b := range v.Value {
			n += int64(len(b))
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value)
	case *types.AttributeValueMemberL:
		n := int64(3)
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	}
	return 1
}
