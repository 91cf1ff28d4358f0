//go:build !linux

package awstest

import "os/exec"

// dieWithParent is a no-op where the OS cannot tie a child to its parent;
// TestMain still stops moto on a normal exit.
func dieWithParent(*exec.Cmd) {}
