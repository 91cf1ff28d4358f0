package scenario

import (
	"bytes"
	"os/exec"
	"syscall"
	"time"
)

// sharedLease is the lease of the shared follows: short, so that a
// takeover takes about a second.
const sharedLease = 500 * time.Millisecond

// sharedFollowers runs n `ddbsync follow --shared` child processes while
// writes go on. Between rounds of writes one of them is SIGKILLed (and
// replaced), or stopped until a peer has taken each of its shards over and
// then continued (its page in flight, if any, must be fenced off), or left
// alone. The watermark is checked after each round: W, published by
// whichever process, must hold whatever the interleaving. At the end every
// child is killed; the final follow finishes from their checkpoints.
func (e *env) sharedFollowers(n int) {
	e.t.Helper()
	args := append([]string{"follow", "--table", tableName, "--shared", "--lease-duration", sharedLease.String()}, followFlags()...)
	type proc struct {
		cmd *exec.Cmd
		out *bytes.Buffer
	}
	start := func() proc { c, o := e.child(args...); return proc{c, o} }
	procs := make([]proc, n)
	for i := range procs {
		procs[i] = start()
	}
	leased := func() int64 {
		return e.count(`SELECT count(*) FROM ddbsync.leases WHERE table_name = $1`, tableName)
	}
	e.waitUntil(5*time.Second, func() bool { return leased() > 0 })
	rounds := 2 + e.r.IntN(4)
	for range rounds {
		e.writes(5 + e.r.IntN(30))
		i := e.r.IntN(n)
		switch e.r.IntN(3) {
		case 0:
			e.kill(procs[i].cmd, procs[i].out, "shared follow")
			procs[i] = start()
		case 1:
			p := procs[i]
			if exited(p.cmd) {
				break
			}
			_ = p.cmd.Process.Signal(syscall.SIGSTOP)
			// Stalled past its lease: its peers take its shards over.
			time.Sleep(sharedLease + sharedLease/2 + time.Duration(e.r.IntN(int(sharedLease/time.Millisecond)))*time.Millisecond)
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			e.totals.Stalls.Add(1)
			e.logf("shared follow %d stalled and continued", i)
		default:
			time.Sleep(time.Duration(e.r.IntN(300)) * time.Millisecond)
		}
		e.checkWatermark("during shared follows")
	}
	e.checkWatermark("after shared follows")
	for _, p := range procs {
		if !exited(p.cmd) {
			e.kill(p.cmd, p.out, "shared follow")
		}
	}
}
