package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestRetryable_ByCodeAndType(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("applying page: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "whatever"})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, false},
		{"08006 connection failure", pgErr("08006"), true},
		{"08P01 protocol violation", pgErr("08P01"), true},
		{"57P01 admin shutdown", pgErr("57P01"), true},
		{"57P02 crash shutdown", pgErr("57P02"), true},
		{"57P03 cannot connect now", pgErr("57P03"), true},
		{"57P04 database dropped", pgErr("57P04"), false},
		{"40001 serialization failure", pgErr("40001"), true},
		{"40P01 deadlock", pgErr("40P01"), true},
		{"40002 integrity constraint", pgErr("40002"), false},
		{"53100 disk full", pgErr("53100"), true},
		{"53300 too many connections", pgErr("53300"), true},
		{"23505 unique violation", pgErr("23505"), false},
		{"22P02 bad value", pgErr("22P02"), false},
		{"42P01 undefined table", pgErr("42P01"), false},
		// A data error whose message reads like a lost connection is still a data error.
		{"message text is not a reason", &pgconn.PgError{Code: "22023", Message: "conn closed: unexpected EOF, broken pipe"}, false},
		{"plain error saying conn closed", errors.New("conn closed"), false},
		{"pgconn.ErrConnClosed", fmt.Errorf("committing: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{"EOF", fmt.Errorf("reading: %w", io.EOF), true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"broken pipe", fmt.Errorf("failed to deallocate cached statement(s): %w", os.NewSyscallError("write", syscall.EPIPE)), true},
		{"net.ErrClosed", fmt.Errorf("x: %w", net.ErrClosed), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Retryable(tc.err), "%v", tc.err)
		})
	}
}

// TestRetryable_RealLostConnections gets its errors from pgx itself: a
// session terminated by the server, and a server that is not there.
func TestRetryable_RealLostConnections(t *testing.T) {
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Skip("TEST_DATABASE_URL is not set")
	}
	ctx := t.Context()
	victim, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer victim.Close(context.Background())
	killer, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer killer.Close(context.Background())
	_, err = killer.Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", victim.PgConn().PID())
	require.NoError(t, err)
	var errs []error
	for range 2 { // the first use reads the termination, the second finds the connection closed
		_, err := victim.Exec(ctx, "SELECT 1")
		require.Error(t, err)
		errs = append(errs, err)
	}
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.Host, cfg.Port = "127.0.0.1", uint16(ln.Addr().(*net.TCPAddr).Port)
	cfg.Fallbacks = nil // they name the real server
	require.NoError(t, ln.Close())
	_, err = pgx.ConnectConfig(ctx, cfg)
	require.Error(t, err)
	errs = append(errs, err)
	for _, err := range errs {
		require.True(t, Retryable(err), "%T: %v", err, err)
	}
}
