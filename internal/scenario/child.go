package scenario

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child starts ddbsync as a child process (this test binary, whose
// TestMain runs ddbsync when [ChildEnv] is set) against the emulator and the database.
func (e *env) child(args ...string) (*exec.Cmd, *bytes.Buffer) {
	e.t.Helper()
	args = append(args, "--endpoint-url", e.emu.URL(), "--database-url", e.dbURL, "--log-level", "error")
	raw, err := json.Marshal(args)
	e.must(err, "child args")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(raw), "AWS_ACCESS_KEY_ID=AKIDSCENARIO",
		"AWS_SECRET_ACCESS_KEY=scenario", "AWS_REGION="+e.emu.Region(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	e.must(cmd.Start(), "starting a ddbsync child")
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out
}

func exited(cmd *exec.Cmd) bool {
	return cmd.ProcessState != nil || syscall.Kill(cmd.Process.Pid, 0) != nil
}

// kill SIGKILLs a child, wherever it is.
func (e *env) kill(cmd *exec.Cmd, out *bytes.Buffer, what string) {
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	e.totals.ChildKills.Add(1)
	e.logf("child %s killed (%v): %s", what, err, strings.TrimSpace(out.String()))
}

// followFlags are a child follow's timing and assumptions: those of the
// in-process followers (follow.go), on the wall clock.
func followFlags() []string {
	return []string{"--poll-interval", "10ms", "--discover-interval", "100ms",
		"--caught-up-pages", strconv.Itoa(caughtUpPages), "--caught-up-span", caughtUpSpan.String(),
		"--propagation-margin", propagationMargin.String(), "--creation-time-tolerance", creationTimeTolerance.String()}
}

// cliFollow runs `ddbsync follow --until-caught-up` as a child to its end.
func (e *env) cliFollow() {
	e.t.Helper()
	cmd, out := e.child(append([]string{"follow", "--table", tableName, "--until-caught-up"}, followFlags()...)...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		e.logf("child follow: %v: %s", err, strings.TrimSpace(out.String()))
		if err != nil {
			msg := out.String()
			if strings.Contains(msg, "gap") || strings.Contains(msg, "new export") {
				e.fail("ddbsync follow refused in a scenario that never crossed the retention: %s", msg)
			}
			if !e.faultsOn && !strings.Contains(msg, "of this table (") {
				e.fail("ddbsync follow failed: %v: %s", err, msg)
			}
			e.transient++
		}
	case <-time.After(90 * time.Second):
		e.fail("ddbsync follow --until-caught-up did not finish in 90 s: %s", out.String())
	}
}

// cliKill runs `ddbsync follow` as a child and SIGKILLs it once it has
// applied n more changes (or after a few seconds).
func (e *env) cliKill(n int) {
	e.t.Helper()
	before := e.count(`SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards WHERE table_name = $1`, tableName)
	cmd, out := e.child(append([]string{"follow", "--table", tableName}, followFlags()...)...)
	e.waitUntil(4*time.Second, func() bool {
		return exited(cmd) || e.count(`SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards WHERE table_name = $1`, tableName) >= before+int64(n)
	})
	e.kill(cmd, out, "follow")
}
