package emulator_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
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
		srv := emulator.StartForTest(t)
		fn(t, target{name: "emulator", cfg: srv.AWSConfig(), emu: srv})
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		cfg, name := externalConfig(t)
		fn(t, target{name: name, cfg: cfg})
	})
}

var moto struct {
	once     sync.Once
	cmd      *exec.Cmd
	endpoint string
	err      error
}

func externalConfig(t *testing.T) (aws.Config, string) {
	t.Helper()
	if ep := os.Getenv("DDBSYNC_TEST_ENDPOINT"); ep != "" {
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		require.NoError(t, err)
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		cfg.BaseEndpoint = aws.String(ep)
		return cfg, ep
	}
	moto.once.Do(startMoto)
	if moto.err != nil {
		t.Skipf("moto not available: %v", moto.err)
	}
	return emulator.ConfigFor(moto.endpoint, "us-east-1"), "moto"
}

// startMoto starts `python3 -m moto.server` on a free port; TestMain stops it.
func startMoto() {
	if out, err := exec.Command("python3", "-c", "import moto").CombinedOutput(); err != nil {
		moto.err = fmt.Errorf("python3 -c 'import moto': %v: %s", err, out)
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		moto.err = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		moto.err = fmt.Errorf("starting moto: %w", err)
		return
	}
	moto.cmd = cmd
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			moto.endpoint = "http://" + addr
			return
		}
	}
	moto.err = fmt.Errorf("moto did not listen on %s within 20s", addr)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if moto.cmd != nil {
		_ = moto.cmd.Process.Kill()
		_ = moto.cmd.Wait()
	}
	os.Exit(code)
}

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
