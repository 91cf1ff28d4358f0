// Package emulatortest starts the [emulator] for a test. It is the only
// part of the emulator that imports package testing, so that the product
// binary, whose demo command runs the emulator, does not link it.
package emulatortest

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

// Start is [emulator.New] and [emulator.Server.Start] for a test: it fails
// tb on error and closes the server when the test ends.
func Start(tb testing.TB, opts ...emulator.Option) *emulator.Server {
	tb.Helper()
	s, err := emulator.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}
