package pgcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCluster_StopCommandStopsAndRemovesIt(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Skipf("no throwaway cluster on this machine: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })

	cmd := c.StopCommand()
	want := filepath.Join(c.bin, "pg_ctl") + " -D " + filepath.Join(c.dir, "data") + " stop && rm -rf " + c.dir
	if os.Geteuid() == 0 {
		want = "runuser -u postgres -- " + want // as root, pg_ctl refuses to run
	}
	require.Equal(t, want, cmd)
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	require.NoError(t, err, "running %s: %s", cmd, out)
	_, err = os.Stat(c.dir)
	require.True(t, os.IsNotExist(err), "%s is still there after the stop command (stat: %v)", c.dir, err)
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/lib/postgresql/15/bin/pg_ctl", "/usr/lib/postgresql/15/bin/pg_ctl"},
		{"/tmp/my dir", "'/tmp/my dir'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, shellQuote(tc.in), tc.in)
	}
}
