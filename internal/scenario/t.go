package scenario

import "context"

// T is the part of testing.TB the harness uses; *testing.T satisfies it.
// The harness takes it instead of importing package testing, so that
// package testing stays out of every non-test package.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Context() context.Context
	TempDir() string
}
