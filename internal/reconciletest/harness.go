package reconciletest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// Harness is a DynamoDB table in the emulator with a stream, and a
// database to copy it into.
type Harness struct {
	T    testing.TB
	Emu  *emulator.Server
	DDB  *dynamodb.Client
	Pool *pgxpool.Pool
	Gen  *tenure.Generator
	// IDs are the tenures Insert wrote, in order.
	IDs []string
	// Stats are the last FollowConfig's.
	Stats *follow.Stats
}

// EmuStart is the emulator clock's time when a Harness starts.
var EmuStart = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// NewHarness starts an emulator with a tenure table whose stream has new
// and old images, and a fresh database.
func NewHarness(t testing.TB, opts ...emulator.Option) *Harness {
	t.Helper()
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithStartTime(EmuStart)}, opts...)...)
	h := &Harness{T: t, Emu: emu, DDB: emu.DynamoDB(), Pool: pgtest.New(t), Gen: tenure.NewGenerator(42)}
	_, err := h.DDB.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(tenure.TableName),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err)
	return h
}

// Now is the emulator's clock.
func (h *Harness) Now() time.Time { return h.Emu.Clock().Now() }

// Tick moves the fake clock on, so writes get distinct stream times.
func (h *Harness) Tick(d time.Duration) { h.Emu.Clock().Advance(d) }

// Put writes item with PutItem.
func (h *Harness) Put(item ddbjson.Item) {
	h.T.Helper()
	_, err := h.DDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tenure.TableName), Item: item})
	require.NoError(h.T, err)
}

// Insert writes n new tenures, 25 to a request.
func (h *Harness) Insert(n int) {
	h.T.Helper()
	items := make([]ddbjson.Item, 0, n)
	for range n {
		id := h.Gen.ID()
		h.IDs = append(h.IDs, id)
		items = append(items, h.Gen.ItemWithID(id))
	}
	h.PutAll(items)
}

// PutAll writes items in order with BatchWriteItem: the same stream records
// as a PutItem each, in a twenty-fifth of the requests. The items' keys
// must differ.
func (h *Harness) PutAll(items []ddbjson.Item) {
	h.T.Helper()
	for len(items) > 0 {
		n := min(25, len(items))
		reqs := make([]types.WriteRequest, n)
		for i, it := range items[:n] {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		items = items[n:]
		for len(reqs) > 0 {
			out, err := h.DDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{tenure.TableName: reqs}})
			require.NoError(h.T, err)
			reqs = out.UnprocessedItems[tenure.TableName]
		}
	}
}

// Get reads the tenure id, strongly consistent (nil when there is none).
func (h *Harness) Get(id string) ddbjson.Item {
	h.T.Helper()
	out, err := h.DDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(tenure.TableName),
		Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}, ConsistentRead: aws.Bool(true)})
	require.NoError(h.T, err)
	return out.Item
}

// Update saves a new version of the tenure, as the Tenure API does.
func (h *Harness) Update(id string) {
	h.T.Helper()
	cur := h.Get(id)
	if cur == nil {
		cur = h.Gen.ItemWithID(id)
	}
	h.Put(h.Gen.Update(cur))
}

// UpdateAll updates each tenure of ids once, in order, as Update does, with
// batched reads and writes. The ids must differ.
func (h *Harness) UpdateAll(ids []string) {
	h.T.Helper()
	cur := map[string]ddbjson.Item{}
	for start := 0; start < len(ids); start += 100 {
		keys := make([]map[string]types.AttributeValue, 0, 100)
		for _, id := range ids[start:min(start+100, len(ids))] {
			keys = append(keys, ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}})
		}
		for len(keys) > 0 {
			out, err := h.DDB.BatchGetItem(context.Background(), &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{tenure.TableName: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
			require.NoError(h.T, err)
			for _, it := range out.Responses[tenure.TableName] {
				cur[it["id"].(*types.AttributeValueMemberS).Value] = it
			}
			keys = out.UnprocessedKeys[tenure.TableName].Keys
		}
	}
	items := make([]ddbjson.Item, 0, len(ids))
	for _, id := range ids {
		c := cur[id]
		if c == nil {
			c = h.Gen.ItemWithID(id)
		}
		items = append(items, h.Gen.Update(c))
	}
	h.PutAll(items)
}

// Remove deletes the tenure id.
func (h *Harness) Remove(id string) {
	h.T.Helper()
	_, err := h.DDB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(tenure.TableName),
		Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}})
	require.NoError(h.T, err)
}

// ExportAt exports the table as of at and opens the export.
func (h *Harness) ExportAt(at time.Time) *snapshot.Export {
	h.T.Helper()
	dir := h.T.TempDir()
	_, err := h.Emu.ExportToDir(h.T.Context(), tenure.TableName, at, dir)
	require.NoError(h.T, err)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(h.T, err)
	exp, err := snapshot.Open(h.T.Context(), src)
	require.NoError(h.T, err)
	return exp
}

// ExportAndLoad exports the table as of at and loads the export.
func (h *Harness) ExportAndLoad(at time.Time) {
	h.T.Helper()
	_, err := load.Run(h.T.Context(), h.Pool, h.ExportAt(at), load.Config{Layout: TenureLayout(h.T, "")})
	require.NoError(h.T, err)
}

// FollowConfig is a follow with test-speed timing.
func (h *Harness) FollowConfig() follow.Config {
	h.Stats = &follow.Stats{}
	return follow.Config{
		Table:            tenure.TableName,
		Streams:          h.Emu.Streams(),
		Tables:           h.DDB,
		UntilCaughtUp:    true,
		DiscoverInterval: 50 * time.Millisecond,
		DescribeLimiter:  rate.NewLimiter(rate.Inf, 1), // the emulator has no call limit
		Now:              h.Now,
		ApplyBackoff:     stream.Backoff{Base: 5 * time.Millisecond, Cap: 100 * time.Millisecond},
		Stats:            h.Stats,
		ReaderOptions: []stream.Option{
			// The readers' caught-up rule runs on the wall clock, as the
			// fake one stands still unless a test moves it; the listings
			// are dated on the fake one, which W never passes.
			stream.WithClock(time.Now),
			stream.WithPollInterval(2 * time.Millisecond),
			stream.WithCaughtUpRule(3, 10*time.Millisecond),
			stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: 20 * time.Millisecond}),
		},
	}
}

// Follow follows the table until caught up, with [Harness.FollowConfig],
// for at most a minute.
func (h *Harness) Follow() (follow.Result, error) {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(h.T.Context(), time.Minute)
	defer cancel()
	return follow.Run(ctx, h.Pool, h.FollowConfig())
}

// RequireCopyEqualsTable asserts the PostgreSQL copy holds exactly the
// emulator table's items, every attribute and type.
func (h *Harness) RequireCopyEqualsTable() {
	h.T.Helper()
	l := TenureLayout(h.T, "")
	res, err := copycheck.Check(h.T.Context(), h.DDB, tenure.TableName, h.Pool, l.Ident(), tenure.Key)
	require.NoError(h.T, err)
	require.True(h.T, res.Exact(), "the copy differs from a Scan: %s", res)
}

// RowCount counts the rows of the tenure data table.
func (h *Harness) RowCount() int {
	h.T.Helper()
	var n int
	require.NoError(h.T, h.Pool.QueryRow(h.T.Context(), `SELECT count(*) FROM dynamodb.tenure_information`).Scan(&n))
	return n
}
