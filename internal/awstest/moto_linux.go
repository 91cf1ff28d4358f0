package awstest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child get SIGKILL when the test binary exits, even
// on a panic or timeout that skips TestMain's cleanup.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
