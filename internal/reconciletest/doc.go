// Package reconciletest holds what the tests of reconcile's packages
// (load, follow, diff) share: exports written for a test, the tenure
// table's layout, a DynamoDB table in the emulator to follow. Only _test.go
// files import it; the ddbsync binary must not link it.
package reconciletest
