package emulator_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
)

func startEmulator(t *testing.T, opts ...emulator.Option) *emulator.Server {
	t.Helper()
	return emulatortest.Start(t, opts...)
}
