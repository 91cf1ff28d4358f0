package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// followHarness is a DynamoDB table in the emulator with a stream, and a
// database to copy it into.
type followHarness struct {
	t     testing.TB
	emu   *emulator.Server
	ddb   *dynamodb.Client
	pool  *pgxpool.Pool
	gen   *tenure.Generator
	ids   []string
	stats *reconcile.FollowStats
}

var emuStart = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func newFollowHarness(t testing.TB, opts ...emulator.Option) *followHarness {
	t.Helper()
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithStartTime(emuStart)}, opts...)...)
	h := &followHarness{t: t, emu: emu, ddb: emu.DynamoDB(), pool: pgtest.New(t), gen: tenure.NewGenerator(42)}
	_, err := h.ddb.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(tenure.TableName),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err)
	return h
}

func (h *followHarness) now() time.Time { return h.emu.Clock().Now() }

// tick moves the fake clock on, so writes get distinct stream times.
func (h *followHarness) tick(d time.Duration) { h.emu.Clock().Advance(d) }

func (h *followHarness) put(item ddbjson.Item) {
	h.t.Helper()
	_, err := h.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tenure.TableName), Item: item})
	require.NoError(h.t, err)
}

// insert writes n new tenures, 25 to a request.
func (h *followHarness) insert(n int) {
	h.t.Helper()
	items := make([]ddbjson.Item, 0, n)
	for range n {
		id := h.gen.ID()
		h.ids = append(h.ids, id)
		items = append(items, h.gen.ItemWithID(id))
	}
	h.putAll(items)
}

// putAll writes items in order with BatchWriteItem: the same stream records
// as a PutItem each, in a twenty-fifth of the requests. The items' keys
// must differ.
func (h *followHarness) putAll(items []ddbjson.Item) {
	h.t.Helper()
	for len(items) > 0 {
		n := min(25, len(items))
		reqs := make([]types.WriteRequest, n)
		for i, it := range items[:n] {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		items = items[n:]
		for len(reqs) > 0 {
			out, err := h.ddb.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{tenure.TableName: reqs}})
			require.NoError(h.t, err)
			reqs = out.UnprocessedItems[tenure.TableName]
		}
	}
}

func (h *followHarness) get(id string) ddbjson.Item {
	h.t.Helper()
	out, err := h.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(tenure.TableName),
		Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}, ConsistentRead: aws.Bool(true)})
	require.NoError(h.t, err)
	return out.Item
}

// update saves a new version of the tenure, as the Tenure API does.
func (h *followHarness) update(id string) {
	h.t.Helper()
	cur := h.get(id)
	if cur == nil {
		cur = h.gen.ItemWithID(id)
	}
	h.put(h.gen.Update(cur))
}

// updateAll updates each tenure of ids once, in order, as update does, with
// batched reads and writes. The ids must differ.
func (h *followHarness) updateAll(ids []string) {
	h.t.Helper()
	cur := map[string]ddbjson.Item{}
	for start := 0; start < len(ids); start += 100 {
		keys := make([]map[string]types.AttributeValue, 0, 100)
		for _, id := range ids[start:min(start+100, len(ids))] {
			keys = append(keys, ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}})
		}
		for len(keys) > 0 {
			out, err := h.ddb.BatchGetItem(context.Background(), &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{tenure.TableName: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
			require.NoError(h.t, err)
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
			c = h.gen.ItemWithID(id)
		}
		items = append(items, h.gen.Update(c))
	}
	h.putAll(items)
}

func (h *followHarness) remove(id string) {
	h.t.Helper()
	_, err := h.ddb.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(tenure.TableName),
		Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}})
	require.NoError(h.t, err)
}

// exportAndLoad exports the table as of at and loads the export.
func (h *followHarness) exportAndLoad(at time.Time) {
	h.t.Helper()
	dir := h.t.TempDir()
	_, err := h.emu.ExportToDir(h.t.Context(), tenure.TableName, at, dir)
	require.NoError(h.t, err)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(h.t, err)
	exp, err := snapshot.Open(h.t.Context(), src)
	require.NoError(h.t, err)
	_, err = load.Run(h.t.Context(), h.pool, exp, load.Config{Layout: reconciletest.TenureLayout(h.t, "")})
	require.NoError(h.t, err)
}

// followConfig is a follow with test-speed timing.
func (h *followHarness) followConfig() reconcile.FollowConfig {
	h.stats = &reconcile.FollowStats{}
	return reconcile.FollowConfig{
		Table:            tenure.TableName,
		Streams:          h.emu.Streams(),
		Tables:           h.ddb,
		UntilCaughtUp:    true,
		DiscoverInterval: 50 * time.Millisecond,
		Now:              h.now,
		ApplyBackoff:     stream.Backoff{Base: 5 * time.Millisecond, Cap: 100 * time.Millisecond},
		Stats:            h.stats,
		ReaderOptions: []stream.Option{
			stream.WithPollInterval(2 * time.Millisecond),
			stream.WithCaughtUpRule(3, 10*time.Millisecond),
			stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: 20 * time.Millisecond}),
		},
	}
}

func (h *followHarness) follow() (reconcile.FollowResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), time.Minute)
	defer cancel()
	return reconcile.Follow(ctx, h.pool, h.followConfig())
}

// requireCopyEqualsTable asserts the PostgreSQL copy holds exactly the
// emulator table's items, every attribute and type.
func (h *followHarness) requireCopyEqualsTable() {
	h.t.Helper()
	l := reconciletest.TenureLayout(h.t, "")
	res, err := copycheck.Check(h.t.Context(), h.ddb, tenure.TableName, h.pool, l.Ident(), tenure.Key)
	require.NoError(h.t, err)
	require.True(h.t, res.Exact(), "the copy differs from a Scan: %s", res)
}

func (h *followHarness) rowCount() int {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.pool.QueryRow(h.t.Context(), `SELECT count(*) FROM dynamodb.tenure_information`).Scan(&n))
	return n
}
