package emulator

import (
	"encoding/json"
	"hash/fnv"
	"sort"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

type itemRequest struct {
	TableName                 string            `json:"TableName"`
	Item                      rawItem           `json:"Item"`
	Key                       rawItem           `json:"Key"`
	UpdateExpression          string            `json:"UpdateExpression"`
	ConditionExpression       string            `json:"ConditionExpression"`
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues rawItem           `json:"ExpressionAttributeValues"`
	ReturnValues              string            `json:"ReturnValues"`
	AttributeUpdates          json.RawMessage   `json:"AttributeUpdates"`
	Expected                  json.RawMessage   `json:"Expected"`
}

type itemResponse struct {
	Item       wireItem `json:"Item,omitempty"`
	Attributes wireItem `json:"Attributes,omitempty"`
}

// unsupported rejects request members the emulator does not implement,
// rather than ignoring them and answering wrongly.
func (in *itemRequest) unsupported() error {
	switch {
	case in.ConditionExpression != "":
		return errValidation("emulator: ConditionExpression is not supported")
	case len(in.AttributeUpdates) > 0 || len(in.Expected) > 0:
		return errValidation("emulator: legacy AttributeUpdates/Expected parameters are not supported")
	}
	return nil
}

func (s *Server) putItem(body []byte) (any, error) {
	var in itemRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := in.unsupported(); err != nil {
		return nil, err
	}
	item, err := decodeItemField(in.Item, "Item")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	key, keyStr, err := t.keyOf(item, "Item")
	if err != nil {
		return nil, err
	}
	old := s.writeLocked(t, key, keyStr, item, writeUser)
	if in.ReturnValues == "ALL_OLD" {
		return itemResponse{Attributes: wireItem(old)}, nil
	}
	return itemResponse{}, nil
}

func (s *Server) getItem(body []byte) (any, error) {
	var in itemRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	k, err := decodeItemField(in.Key, "Key")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	if len(k) != len(t.keys.Attributes()) {
		return nil, errValidation("The provided key element does not match the schema")
	}
	_, keyStr, err := t.keyOf(k, "Key")
	if err != nil {
		return nil, err
	}
	return itemResponse{Item: wireItem(t.get(keyStr))}, nil
}

func (s *Server) deleteItem(body []byte) (any, error) {
	var in itemRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := in.unsupported(); err != nil {
		return nil, err
	}
	k, err := decodeItemField(in.Key, "Key")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	key, keyStr, err := t.keyOf(k, "Key")
	if err != nil {
		return nil, err
	}
	old := s.writeLocked(t, key, keyStr, nil, writeUser)
	if in.ReturnValues == "ALL_OLD" {
		return itemResponse{Attributes: wireItem(old)}, nil
	}
	return itemResponse{}, nil
}

func (s *Server) updateItem(body []byte) (any, error) {
	var in itemRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := in.unsupported(); err != nil {
		return nil, err
	}
	k, err := decodeItemField(in.Key, "Key")
	if err != nil {
		return nil, err
	}
	values, err := decodeItemField(in.ExpressionAttributeValues, "ExpressionAttributeValues")
	if err != nil {
		return nil, err
	}
	actions, err := parseUpdate(in.UpdateExpression, in.ExpressionAttributeNames, values, s.reserved)
	if err != nil {
		return nil, errValidation("Invalid UpdateExpression: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	key, keyStr, err := t.keyOf(k, "Key")
	if err != nil {
		return nil, err
	}
	old := t.get(keyStr)
	item, touched, err := applyUpdate(old, key, actions)
	if err != nil {
		return nil, err
	}
	s.writeLocked(t, key, keyStr, item, writeUser)
	var ret ddbjson.Item
	switch in.ReturnValues {
	case "", "NONE":
	case "ALL_OLD":
		ret = old
	case "ALL_NEW":
		ret = item
	case "UPDATED_OLD", "UPDATED_NEW":
		src := item
		if in.ReturnValues == "UPDATED_OLD" {
			src = old
		}
		ret = ddbjson.Item{}
		for _, name := range touched {
			if v, ok := src[name]; ok {
				ret[name] = v
			}
		}
	default:
		return nil, errValidation("invalid ReturnValues %q", in.ReturnValues)
	}
	if len(ret) == 0 {
		ret = nil
	}
	return itemResponse{Attributes: wireItem(ret)}, nil
}

func (s *Server) batchGetItem(body []byte) (any, error) {
	var in struct {
		RequestItems map[string]struct {
			Keys []rawItem `json:"Keys"`
		} `json:"RequestItems"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	out := struct {
		Responses       map[string][]wireItem `json:"Responses"`
		UnprocessedKeys map[string]any        `json:"UnprocessedKeys"`
	}{Responses: map[string][]wireItem{}, UnprocessedKeys: map[string]any{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for name, req := range in.RequestItems {
		t, err := s.tableLocked(name)
		if err != nil {
			return nil, err
		}
		items := []wireItem{}
		for _, raw := range req.Keys {
			if n++; n > 100 {
				return nil, errValidation("Too many items requested for the BatchGetItem call")
			}
			k, err := decodeItemField(raw, "Keys")
			if err != nil {
				return nil, err
			}
			_, keyStr, err := t.keyOf(k, "Keys")
			if err != nil {
				return nil, err
			}
			if it := t.get(keyStr); it != nil {
				items = append(items, wireItem(it))
			}
		}
		out.Responses[name] = items
	}
	return out, nil
}

func (s *Server) batchWriteItem(body []byte) (any, error) {
	var in struct {
		RequestItems map[string][]struct {
			PutRequest *struct {
				Item rawItem `json:"Item"`
			} `json:"PutRequest"`
			DeleteRequest *struct {
				Key rawItem `json:"Key"`
			} `json:"DeleteRequest"`
		} `json:"RequestItems"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	type write struct {
		t      *table
		key    ddbjson.Item
		keyStr string
		item   ddbjson.Item
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Validate everything first: a bad request writes nothing.
	var writes []write
	for name, reqs := range in.RequestItems {
		t, err := s.tableLocked(name)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, r := range reqs {
			var w write
			w.t = t
			var raw rawItem
			switch {
			case r.PutRequest != nil:
				raw = r.PutRequest.Item
			case r.DeleteRequest != nil:
				raw = r.DeleteRequest.Key
			default:
				return nil, errValidation("a WriteRequest needs PutRequest or DeleteRequest")
			}
			it, err := decodeItemField(raw, "WriteRequest")
			if err != nil {
				return nil, err
			}
			if w.key, w.keyStr, err = t.keyOf(it, "WriteRequest"); err != nil {
				return nil, err
			}
			if seen[w.keyStr] {
				return nil, errValidation("Provided list of item keys contains duplicates")
			}
			seen[w.keyStr] = true
			if r.PutRequest != nil {
				w.item = it
			}
			writes = append(writes, w)
		}
	}
	if len(writes) > 25 {
		return nil, errValidation("Too many items requested for the BatchWriteItem call")
	}
	for _, w := range writes {
		s.writeLocked(w.t, w.key, w.keyStr, w.item, writeUser)
	}
	return map[string]any{"UnprocessedItems": map[string]any{}}, nil
}

func (s *Server) scan(body []byte) (any, error) {
	var in struct {
		TableName         string  `json:"TableName"`
		Limit             int     `json:"Limit"`
		Segment           *int    `json:"Segment"`
		TotalSegments     *int    `json:"TotalSegments"`
		ExclusiveStartKey rawItem `json:"ExclusiveStartKey"`
		Select            string  `json:"Select"`
		FilterExpression  string  `json:"FilterExpression"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.FilterExpression != "" {
		return nil, errValidation("emulator: FilterExpression is not supported")
	}
	seg, total := 0, 1
	if in.TotalSegments != nil || in.Segment != nil {
		if in.TotalSegments == nil || in.Segment == nil || *in.TotalSegments < 1 || *in.TotalSegments > 1000000 ||
			*in.Segment < 0 || *in.Segment >= *in.TotalSegments {
			return nil, errValidation("Segment and TotalSegments must be given together, 0 <= Segment < TotalSegments")
		}
		seg, total = *in.Segment, *in.TotalSegments
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	start, err := decodeItemField(in.ExclusiveStartKey, "ExclusiveStartKey")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	keys := t.sortedKeysLocked()
	i := 0
	if len(start) > 0 {
		_, startStr, err := t.keyOf(start, "ExclusiveStartKey")
		if err != nil {
			return nil, err
		}
		i = sort.SearchStrings(keys, startStr)
		if i < len(keys) && keys[i] == startStr {
			i++
		}
	}
	out := struct {
		Items            []wireItem `json:"Items"`
		Count            int        `json:"Count"`
		ScannedCount     int        `json:"ScannedCount"`
		LastEvaluatedKey wireItem   `json:"LastEvaluatedKey,omitempty"`
	}{Items: []wireItem{}}
	const maxBytes = 1 << 20 // a Scan page holds at most 1 MB
	var size int64
	for ; i < len(keys); i++ {
		if total > 1 && segmentOf(keys[i], total) != seg {
			continue
		}
		h := t.items[keys[i]]
		item := h.current()
		out.Items = append(out.Items, wireItem(item))
		size += itemSize(item)
		if len(out.Items) == limit || size >= maxBytes {
			if i+1 < len(keys) {
				out.LastEvaluatedKey = wireItem(h.key)
			}
			break
		}
	}
	out.Count = len(out.Items)
	out.ScannedCount = out.Count
	if in.Select == "COUNT" {
		out.Items = nil
	}
	return out, nil
}

// segmentOf assigns a key to one of total parallel-scan segments.
func segmentOf(keyStr string, total int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(keyStr))
	return int(h.Sum32() % uint32(total))
}
