package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// TestREADME_NamesEveryCommandAndFlag holds the command line and the README
// together: every command has its section, every flag of a command is named
// in that section, and every global flag in the table of flags all commands
// take.
func TestREADME_NamesEveryCommandAndFlag(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(raw)
	root := newRoot(&globals{stdout: os.Stdout, stderr: os.Stderr})

	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		require.Contains(t, readme, "| `--"+f.Name+"` |", "the README's table of global flags lacks --%s", f.Name)
	})
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		section := readmeSection(t, readme, cmd)
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			require.Contains(t, section, "--"+f.Name, "the README's section on ddbsync %s does not name --%s", cmd.Name(), f.Name)
		})
	}
}

func readmeSection(t *testing.T, readme string, cmd *cobra.Command) string {
	t.Helper()
	head := "### `ddbsync " + cmd.Name() + "`"
	i := strings.Index(readme, head)
	require.NotEqual(t, -1, i, "the README has no section %s", head)
	rest := readme[i+len(head):]
	if j := strings.Index(rest, "\n#"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
