package scenario

import (
	"errors"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/stream"
)

// checkShards compares each listed shard's checkpoint with its records.
func (e *env) checkShards() {
	e.t.Helper()
	ctx := e.t.Context()
	var startTime time.Time
	e.must(e.pool.QueryRow(ctx, `SELECT start_time FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&startTime), "start time")
	out, err := e.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	e.must(err, "DescribeTable")
	desc, err := stream.Describe(ctx, e.plain, aws.ToString(out.Table.LatestStreamArn))
	e.must(err, "DescribeStream")
	// Records older than the retention are gone: counts are exact only
	// while none of those the follower needed can have been trimmed.
	exactCounts := e.now().Sub(startTime) < 23*time.Hour
	var applied int64
	for _, s := range desc.Shards {
		sh := struct{ ID, EndingSequenceNumber string }{ID: aws.ToString(s.ShardId)}
		if s.SequenceNumberRange != nil {
			sh.EndingSequenceNumber = aws.ToString(s.SequenceNumberRange.EndingSequenceNumber)
		}
		n, last := e.shardRecords(desc.StreamArn, sh.ID, startTime)
		var state string
		var lastSeq *string
		var changes int64
		err := e.pool.QueryRow(ctx, `SELECT state, last_sequence::text, changes_applied FROM ddbsync.shards
			WHERE table_name = $1 AND shard_id = $2`, tableName, sh.ID).Scan(&state, &lastSeq, &changes)
		e.must(err, "checkpoint of "+sh.ID)
		applied += changes
		closed := sh.EndingSequenceNumber != ""
		if closed != (state == "finished") {
			e.fail("shard %s: closed=%v but its checkpoint state is %s", sh.ID, closed, state)
		}
		if state == "gap" {
			e.fail("shard %s is marked as a gap", sh.ID)
		}
		switch {
		case last == "" && lastSeq != nil && exactCounts:
			e.fail("shard %s has no records but its checkpoint is at %s", sh.ID, *lastSeq)
		case last != "" && (lastSeq == nil || !sameNumber(*lastSeq, last)):
			e.fail("shard %s: checkpoint at %v, its last record is %s", sh.ID, deref(lastSeq), last)
		}
		if exactCounts && changes != n {
			e.fail("shard %s: %d changes applied, the shard holds %d since the replay start %s (each must be applied once)",
				sh.ID, changes, n, startTime)
		}
	}
	e.totals.Changes.Add(applied)
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

func sameNumber(a, b string) bool {
	x, ok1 := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// shardRecords reads a shard from TRIM_HORIZON: how many records were
// created at or after since, and the last record's sequence number.
func (e *env) shardRecords(arn, shardID string, since time.Time) (int64, string) {
	n, last, _ := e.shardRecordsUpTo(arn, shardID, since, "")
	return n, last
}

// shardRecordsUpTo is shardRecords counting only records at or before
// upTo (all when ""); it also returns the sequence numbers counted.
func (e *env) shardRecordsUpTo(arn, shardID string, since time.Time, upTo string) (int64, string, []string) {
	var seqs []string
	ctx := e.t.Context()
	it, err := e.plain.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(shardID), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	e.must(err, "GetShardIterator")
	iter := it.ShardIterator
	var n int64
	last := ""
	for iter != nil {
		page, err := e.plain.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		e.must(err, "GetRecords")
		for _, r := range page.Records {
			seq := aws.ToString(r.Dynamodb.SequenceNumber)
			if upTo != "" && cmpNumber(seq, upTo) > 0 {
				continue
			}
			if !r.Dynamodb.ApproximateCreationDateTime.Before(since) {
				n++
				seqs = append(seqs, seq)
			}
			last = seq
		}
		if len(page.Records) == 0 {
			break
		}
		iter = page.NextShardIterator
	}
	return n, last, seqs
}

func cmpNumber(a, b string) int {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	if x == nil || y == nil {
		return 0
	}
	return x.Cmp(y)
}

// checkOnce asserts, for every checkpointed shard, that changes_applied is
// the number of the shard's records since the replay start up to the
// checkpoint: every change applied once, however the follower was stopped.
func (e *env) checkOnce(when string) {
	e.t.Helper()
	ctx := e.t.Context()
	var startTime time.Time
	var arn string
	err := e.pool.QueryRow(ctx, `SELECT start_time, stream_arn FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&startTime, &arn)
	if errors.Is(err, pgx.ErrNoRows) || e.now().Sub(startTime) >= 23*time.Hour || e.faultsOn {
		return // the checker's own reads would meet the faults
	}
	e.must(err, "start time")
	rows, err := e.pool.Query(ctx, `SELECT shard_id, last_sequence::text, changes_applied FROM ddbsync.shards
		WHERE table_name = $1 AND last_sequence IS NOT NULL`, tableName)
	e.must(err, "checkpoints")
	type ck struct {
		id, seq string
		n       int64
	}
	var cks []ck
	for rows.Next() {
		var c ck
		e.must(rows.Scan(&c.id, &c.seq, &c.n), "checkpoint")
		cks = append(cks, c)
	}
	e.must(rows.Err(), "checkpoints")
	for _, c := range cks {
		n, _, seqs := e.shardRecordsUpTo(arn, c.id, startTime, c.seq)
		if n != c.n {
			e.fail("%s: shard %s: %d changes applied up to its checkpoint %s, the shard holds %d since the replay start %s (each must be applied once): %v",
				when, c.id, c.n, c.seq, n, startTime, seqs)
		}
	}
}
