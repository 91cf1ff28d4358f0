package emulator_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/awstest"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
)

// A target is an endpoint the conformance tests run against: always the
// emulator, and moto (or DDBSYNC_TEST_ENDPOINT) for the behaviour both honour.
type target struct {
	name string
	cfg  aws.Config
	emu  *emulator.Server // nil for an external endpoint
}

func (tg target) ddb() *dynamodb.Client { return dynamodb.NewFromConfig(tg.cfg) }

func (tg target) streams() *dynamodbstreams.Client { return dynamodbstreams.NewFromConfig(tg.cfg) }

// forEachTarget runs fn against the emulator and, as a subtest, against the
// external endpoint: DDBSYNC_TEST_ENDPOINT if set, else a moto server
// started for this test binary (skipped, visibly, when moto is missing).
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Run("emulator", func(t *testing.T) {
		t.Parallel()
		srv := emulatortest.Start(t)
		fn(t, target{name: "emulator", cfg: srv.AWSConfig(), emu: srv})
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		cfg, name := externalConfig(t)
		fn(t, target{name: name, cfg: cfg})
	})
}

func externalConfig(t *testing.T) (aws.Config, string) {
	t.Helper()
	return awstest.External(t)
}

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

var tableSeq struct {
	sync.Mutex
	n int
}

// uniqueName gives each test table its own name, since an external
// endpoint is shared by every test.
func uniqueName(prefix string) string {
	tableSeq.Lock()
	defer tableSeq.Unlock()
	tableSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, tableSeq.n)
}

// createTable creates a pk(S)/sk(N) table (sk omitted when rangeKey is
// false), optionally with a NEW_AND_OLD_IMAGES stream, waits until it is
// active and deletes it when the test ends.
func createTable(t *testing.T, db *dynamodb.Client, rangeKey bool, stream bool) string {
	t.Helper()
	ctx := context.Background()
	name := uniqueName("tbl")
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
	}
	if rangeKey {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange})
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN})
	}
	if stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	_, err := db.CreateTable(ctx, in)
	require.NoError(t, err)
	require.NoError(t, dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute))
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
