// Package awstest gives tests an external AWS endpoint to run against
// besides the in-process emulator: DDBSYNC_TEST_ENDPOINT when set (LocalStack,
// a real AWS account), else a moto server (`python3 -m moto.server`) started
// once per test binary. Tests skip, visibly, when neither is available.
package awstest

import (
	"context"
	"flag"
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

// Prestart starts moto in the background, unless DDBSYNC_TEST_ENDPOINT is
// set or -test.run selects some tests only, so that its start (seconds of
// Python imports) overlaps the tests that run before the first to need it.
// Call it from TestMain; flags must be parsed (it parses them if not).
func Prestart() {
	if !flag.Parsed() {
		flag.Parse()
	}
	if os.Getenv(EnvEndpoint) != "" {
		return
	}
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return
	}
	go func() { _, _ = Moto() }()
}

// Main runs the tests, starting moto early (see [Prestart]), and stops
// moto if it was started. Use it from
// TestMain: os.Exit(awstest.Main(m)), or call Stop after m.Run.
func Main(m *testing.M) int {
	Prestart()
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
	// Finding the package is enough: importing it takes seconds, and the
	// server imports it again.
	findMoto := "import importlib.util, sys; sys.exit(importlib.util.find_spec('moto') is None)"
	if out, err := exec.Command("python3", "-c", findMoto).CombinedOutput(); err != nil {
		return "", fmt.Errorf("python3 finds no moto package: %v: %s", err, out)
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
	// Starting takes a few seconds, much longer on a busy machine; a test
	// that skips for want of patience hides a regression.
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, nil
		}
	}
	return "", fmt.Errorf("moto did not listen on %s within 90s", addr)
}
