package cli

import (
	"bytes"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/require"
)

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

func TestConnect_GivesUpOnASilentServer(t *testing.T) {
	t.Parallel()
	addr := silentServer(t)
	g := &globals{databaseURL: "postgres://postgres@" + addr + "/x?sslmode=disable", connectTimeout: 300 * time.Millisecond,
		logger: slog.New(slog.DiscardHandler)}
	start := time.Now()
	_, err := g.connect(t.Context())
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "a URL without connect_timeout gets a default one")
	require.Contains(t, err.Error(), "no answer within 300ms (connect_timeout in the URL sets the wait)")
}

func TestConnect_ReportsEachFailureOnce(t *testing.T) {
	t.Parallel()
	// Refused twice (TLS, then plain text): one line.
	g := &globals{databaseURL: "postgres://postgres@127.0.0.1:1/x", logger: slog.New(slog.DiscardHandler)}
	_, err := g.connect(t.Context())
	require.Error(t, err)
	require.Equal(t, 1, bytes.Count([]byte(err.Error()), []byte("connection refused")), err.Error())
}

func TestAWSConfig_SDKWarningsGoToTheDebugLog(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	var info, debug bytes.Buffer
	for _, c := range []struct {
		level slog.Level
		out   *bytes.Buffer
	}{{slog.LevelInfo, &info}, {slog.LevelDebug, &debug}} {
		g := &globals{logger: slog.New(slog.NewTextHandler(c.out, &slog.HandlerOptions{Level: c.level}))}
		cfg, err := g.awsConfig(t.Context())
		require.NoError(t, err)
		cfg.Logger.Logf(logging.Warn, "failed to discard remaining HTTP response body, this may affect connection reuse")
	}
	require.Empty(t, info.String(), "the SDK's warnings are not shown at the default level")
	require.Contains(t, debug.String(), "failed to discard remaining HTTP response body")
	require.Contains(t, debug.String(), "source=aws-sdk")
}

func TestAWSConfig_SaysPlainlyWhenThereAreNoCredentials(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var log bytes.Buffer
	g := &globals{endpointURL: "http://127.0.0.1:1", logger: slog.New(slog.NewTextHandler(&log, nil))}
	_, err := g.awsConfig(t.Context())
	require.Error(t, err)
	require.Contains(t, err.Error(), "no AWS credentials")
	require.Contains(t, err.Error(), "AWS_ACCESS_KEY_ID=test", "with an emulator endpoint, the hint says any will do")
	require.Empty(t, log.String(), "no SDK warning reaches the log at info level")
}
