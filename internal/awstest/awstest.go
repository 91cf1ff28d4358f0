// Package awstest gives tests an external AWS endpoint to run against
// besides the in-process emulator: DDBSYNC_TEST_ENDPOINT when set (LocalStack,
// a real AWS account), else a moto server (`python3 -m moto.server`) started
// once per test binary. Tests skip, visibly, when neither is available.
package awstest

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

	"github.com/ddbsync/ddbsync/internal/emulator"
)

// EnvEndpoint names the variable that points the tests at another endpoint.
const EnvEndpoint = "DDBSYNC_TEST_ENDPOINT"

var moto struct {
	sync.Mutex
	started  bool
	cmd      *exec.Cmd
	endpoint string
	err      error
}

// External returns a configuration for the external endpoint and its name
// ("moto" or the endpoint URL), or skips the test when there is none.
func External(tb testing.TB) (aws.Config, string) {
	tb.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		if err != nil {
			tb.Fatalf("awstest: loading AWS configuration for %s: %v", ep, err)
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		cfg.BaseEndpoint = aws.String(ep)
		return cfg, ep
	}
	endpoint, err := Moto()
	if err != nil {
		tb.Skipf("moto not available: %v", err)
	}
	return emulator.ConfigFor(endpoint, "us-east-1"), "moto"
}

// Moto starts moto on a free port, once per process, and returns its URL.
func Moto() (string, error) {
	moto.Lock()
	defer moto.Unlock()
	if !moto.started {
		moto.started = true
		moto.endpoint, moto.err = startMoto()
	}
	return moto.endpoint, moto.err
}

// Main runs the tests and stops moto if it was started. Use it from
// TestMain: os.Exit(awstest.Main(m)), or call Stop after m.Run.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops moto if it was started.
func Stop() {
	moto.Lock()
	defer moto.Unlock()
	if moto.cmd != nil {
		_ = moto.cmd.Process.Kill()
		_ = moto.cmd.Wait()
		moto.cmd = nil
	}
}

func startMoto() (string, error) {
	if out, err := exec.Command("python3", "-c", "import moto").CombinedOutput(); err != nil {
		return "", fmt.Errorf("python3 -c 'import moto': %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting moto: %w", err)
	}
	moto.cmd = cmd
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, nil
		}
	}
	return "", fmt.Errorf("moto did not listen on %s within 20s", addr)
}
