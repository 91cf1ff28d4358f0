package reconcile

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Retryable reports whether a database error may go away by itself: a lost
// connection, a server restarting, a serialization failure. Errors in the
// data (a constraint, a bad value) are not. It goes by SQLSTATE and error
// types, never by message text ([retryableSQLState], [lostConnection]).
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return retryableSQLState(pgErr.Code)
	}
	return pgconn.SafeToRetry(err) || lostConnection(err)
}

// retryableSQLState reports whether a SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html) says
// the transaction may succeed if run again.
func retryableSQLState(code string) bool {
	switch code {
	case "57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now
		"57P05", // idle_session_timeout: the server closed the session
		"25P03", // idle_in_transaction_session_timeout: a stalled transaction was ended
		"40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	}
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", // connection exception
		"53": // insufficient resources
		return true
	}
	return false
}

// lostConnection reports whether err is the connection to the server going
// away or not coming up: pgx wraps the underlying network error, so it is
// found by type (net.Error, syscall errnos) or sentinel (io.EOF, a closed
// connection), whatever the message.
func lostConnection(err error) bool {
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	for _, target := range []error{pgconn.ErrConnClosed, net.ErrClosed, io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNRESET, syscall.ECONNABORTED, syscall.ECONNREFUSED, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
