package emulator_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

func startEmulator(t *testing.T, opts ...emulator.Option) *emulator.Server {
	t.Helper()
	return emulator.StartForTest(t, opts...)
}
