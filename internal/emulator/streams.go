package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// dynamoDBStreams dispatches one DynamoDBStreams_20120810 operation.
func (s *Server) dynamoDBStreams(op string, body []byte, fault FaultKind) ([]byte, error) {
	switch op {
	case "ListStreams":
		return s.listStreams(body)
	case "DescribeStream":
		return s.describeStream(body)
	case "GetShardIterator":
		return s.getShardIterator(body)
	case "GetRecords":
		return s.getRecords(body, fault == FaultEmptyPage)
	}
	return nil, errUnknownOperation(streamsTarget + op)
}

type streamSummary struct {
	StreamArn   string `json:"StreamArn"`
	TableName   string `json:"TableName"`
	StreamLabel string `json:"StreamLabel"`
}

func (s *Server) listStreams(body []byte) ([]byte, error) {
	var in struct {
		TableName               string `json:"TableName"`
		Limit                   int    `json:"Limit"`
		ExclusiveStartStreamArn string `json:"ExclusiveStartStreamArn"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := struct {
		Streams                []streamSummary `json:"Streams"`
		LastEvaluatedStreamArn string          `json:"LastEvaluatedStreamArn,omitempty"`
	}{Streams: []streamSummary{}}
	started := in.ExclusiveStartStreamArn == ""
	for _, st := range s.streams {
		if !started {
			started = st.arn == in.ExclusiveStartStreamArn
			continue
		}
		if in.TableName != "" && st.table != in.TableName {
			continue
		}
		if len(out.Streams) == in.Limit {
			out.LastEvaluatedStreamArn = out.Streams[len(out.Streams)-1].StreamArn
			break
		}
		out.Streams = append(out.Streams, streamSummary{st.arn, st.table, st.label})
	}
	return encodeResponse(out)
}

func (s *Server) streamLocked(arn string) (*stream, error) {
	st := s.streamByArn[arn]
	if st == nil {
		return nil, errNotFound("Requested resource not found: Stream: %s not found", arn)
	}
	s.trimLocked(st)
	return st, nil
}

type shardJSON struct {
	ShardId             string `json:"ShardId"`
	ParentShardId       string `json:"ParentShardId,omitempty"`
	SequenceNumberRange struct {
		StartingSequenceNumber string `json:"StartingSequenceNumber"`
		EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
	} `json:"SequenceNumberRange"`
}

func (s *Server) describeStream(body []byte) ([]byte, error) {
	var in struct {
		StreamArn             string `json:"StreamArn"`
		Limit                 int    `json:"Limit"`
		ExclusiveStartShardId string `json:"ExclusiveStartShardId"`
		ShardFilter           *struct {
			Type    string `json:"Type"`
			ShardId string `json:"ShardId"`
		} `json:"ShardFilter"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 100
	}
	if f := in.ShardFilter; f != nil && f.Type != "CHILD_SHARDS" {
		return nil, errValidation("ShardFilter Type must be CHILD_SHARDS")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.streamLocked(in.StreamArn)
	if err != nil {
		return nil, err
	}
	type description struct {
		StreamArn               string             `json:"StreamArn"`
		StreamLabel             string             `json:"StreamLabel"`
		StreamStatus            string             `json:"StreamStatus"`
		StreamViewType          string             `json:"StreamViewType"`
		CreationRequestDateTime *epoch             `json:"CreationRequestDateTime"`
		TableName               string             `json:"TableName"`
		KeySchema               []keySchemaElement `json:"KeySchema"`
		Shards                  []shardJSON        `json:"Shards"`
		LastEvaluatedShardId    string             `json:"LastEvaluatedShardId,omitempty"`
	}
	d := description{
		StreamArn:               st.arn,
		StreamLabel:             st.label,
		StreamStatus:            "ENABLED",
		StreamViewType:          st.viewType,
		CreationRequestDateTime: epochPtr(st.created),
		TableName:               st.table,
		Shards:                  []shardJSON{},
	}
	if !st.enabled {
		d.StreamStatus = "DISABLED"
	}
	d.KeySchema = append(d.KeySchema, keySchemaElement{st.keys.Hash.Name, "HASH"})
	if st.keys.Range.Name != "" {
		d.KeySchema = append(d.KeySchema, keySchemaElement{st.keys.Range.Name, "RANGE"})
	}
	i := 0
	if in.ExclusiveStartShardId != "" {
		if sh := st.byID[in.ExclusiveStartShardId]; sh != nil {
			i = sh.idx + 1
		}
	}
	for ; i < len(st.shards); i++ {
		sh := st.shards[i]
		if sh.gone || (in.ShardFilter != nil && sh.parent != in.ShardFilter.ShardId) {
			continue
		}
		if len(d.Shards) == in.Limit {
			d.LastEvaluatedShardId = d.Shards[len(d.Shards)-1].ShardId
			break
		}
		var j shardJSON
		j.ShardId, j.ParentShardId = sh.id, sh.parent
		j.SequenceNumberRange.StartingSequenceNumber = sh.startSeq
		if sh.closed {
			j.SequenceNumberRange.EndingSequenceNumber = sh.endSeq
		}
		d.Shards = append(d.Shards, j)
	}
	return encodeResponse(map[string]any{"StreamDescription": d})
}

// An iterator is "<stream ARN>|1|<base64 payload>"; the payload holds the
// server nonce, the shard's index, the next offset to read, the fake time it
// was issued and its serial number, so iterators need no server-side state
// beyond two counters.
type iterator struct {
	shard  int
	pos    uint64
	issued time.Time
	serial uint64
}

const iteratorPayload = 8 + 4 + 8 + 8 + 8

// encodeIteratorLocked hands out an iterator, numbering it.
func (s *Server) encodeIteratorLocked(st *stream, it iterator) string {
	var b [iteratorPayload]byte
	copy(b[:8], s.nonce[:])
	binary.BigEndian.PutUint32(b[8:], uint32(it.shard))
	binary.BigEndian.PutUint64(b[12:], it.pos)
	binary.BigEndian.PutUint64(b[20:], uint64(it.issued.UnixNano()))
	binary.BigEndian.PutUint64(b[28:], s.iterators)
	s.iterators++
	return st.arn + "|1|" + base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) decodeIteratorLocked(raw string) (*stream, *shard, iterator, error) {
	var it iterator
	i := strings.LastIndex(raw, "|1|")
	if i < 0 {
		return nil, nil, it, errValidation("Invalid ShardIterator")
	}
	b, err := base64.RawURLEncoding.DecodeString(raw[i+3:])
	if err != nil || len(b) != iteratorPayload || string(b[:8]) != string(s.nonce[:]) {
		return nil, nil, it, errValidation("Invalid ShardIterator")
	}
	st, err := s.streamLocked(raw[:i])
	if err != nil {
		return nil, nil, it, err
	}
	it.shard = int(binary.BigEndian.Uint32(b[8:]))
	it.pos = binary.BigEndian.Uint64(b[12:])
	it.issued = time.Unix(0, int64(binary.BigEndian.Uint64(b[20:]))).UTC()
	it.serial = binary.BigEndian.Uint64(b[28:])
	if it.shard >= len(st.shards) {
		return nil, nil, it, errNotFound("Invalid ShardId in ShardIterator")
	}
	return st, st.shards[it.shard], it, nil
}

func (s *Server) getShardIterator(body []byte) ([]byte, error) {
	var in struct {
		StreamArn         string `json:"StreamArn"`
		ShardId           string `json:"ShardId"`
		ShardIteratorType string `json:"ShardIteratorType"`
		SequenceNumber    string `json:"SequenceNumber"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.streamLocked(in.StreamArn)
	if err != nil {
		return nil, err
	}
	sh := st.byID[in.ShardId]
	if sh == nil || sh.gone {
		return nil, errNotFound("Requested resource not found: Shard does not exist")
	}
	it := iterator{shard: sh.idx, issued: s.clock.Now()}
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
		if sh.trimmed {
			it.pos = sh.lastTrimmedOff + 1
		}
	case "LATEST":
		it.pos = sh.nextOff
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if in.SequenceNumber == "" {
			return nil, errValidation("SequenceNumber is required for %s", in.ShardIteratorType)
		}
		off, below, err := sh.parseOff(in.SequenceNumber)
		if err != nil {
			return nil, err
		}
		after := in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER"
		switch {
		case below && sh.trimmed:
			return nil, errTrimmed("the sequence number %s is beyond the trim horizon", in.SequenceNumber)
		case below:
			return nil, errValidation("Invalid SequenceNumber %s for shard %s", in.SequenceNumber, sh.id)
		case sh.trimmed && (off < sh.lastTrimmedOff || (!after && off == sh.lastTrimmedOff)):
			return nil, errTrimmed("the sequence number %s is beyond the trim horizon", in.SequenceNumber)
		}
		it.pos = off
		if after && off != ^uint64(0) {
			it.pos = off + 1
		}
	default:
		return nil, errValidation("invalid ShardIteratorType %q", in.ShardIteratorType)
	}
	return encodeResponse(map[string]string{"ShardIterator": s.encodeIteratorLocked(st, it)})
}

// maxPageBytes is GetRecords' 1 MB page limit.
const maxPageBytes = 1 << 20

func (s *Server) getRecords(body []byte, forceEmpty bool) ([]byte, error) {
	var in struct {
		ShardIterator string `json:"ShardIterator"`
		Limit         *int   `json:"Limit"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	limit := 1000
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 1000 {
			return nil, errValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000", *in.Limit)
		}
		limit = *in.Limit
	}
	s.mu.Lock()
	st, sh, it, err := s.decodeIteratorLocked(in.ShardIterator)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	now := s.clock.Now()
	if now.Sub(it.issued) > s.cfg.iteratorTTL {
		s.mu.Unlock()
		return nil, errExpired("Iterator expired. The iterator was created at time %s while right now it is %s.",
			it.issued.Format(time.RFC1123), now.Format(time.RFC1123))
	}
	if it.serial < s.expiredBelow {
		s.mu.Unlock()
		return nil, errExpired("Iterator expired. The iterator was created at time %s and expired by the test.",
			it.issued.Format(time.RFC1123))
	}
	if sh.trimmed && it.pos <= sh.lastTrimmedOff {
		s.mu.Unlock()
		return nil, errTrimmed("the iterator points at records beyond the trim horizon of shard %s", sh.id)
	}
	if sh.gone {
		s.mu.Unlock()
		return nil, errNotFound("Requested resource not found: Shard does not exist")
	}
	i := sh.find(it.pos)
	var page [][]byte
	size := 0
	if !forceEmpty {
		for j := i; j < len(sh.records) && len(page) < limit; j++ {
			d := sh.records[j].data
			if len(page) > 0 && size+len(d) > maxPageBytes {
				break
			}
			page = append(page, d)
			size += len(d)
		}
	}
	next := it.pos
	if len(page) > 0 {
		next = sh.records[i+len(page)-1].off + 1
	}
	end := !forceEmpty && sh.closed && i+len(page) == len(sh.records)
	var nextIt string
	if !end {
		nextIt = s.encodeIteratorLocked(st, iterator{shard: sh.idx, pos: next, issued: now})
	}
	s.mu.Unlock()

	b := responseBuffer(size + len(page) + len(nextIt) + 64) // the records, their commas, the rest
	b = append(b, `{"Records":[`...)
	for k, d := range page {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, d...)
	}
	b = append(b, ']')
	if nextIt != "" {
		b = append(b, `,"NextShardIterator":`...)
		b = strconv.AppendQuote(b, nextIt)
	}
	return append(b, '}'), nil
}
