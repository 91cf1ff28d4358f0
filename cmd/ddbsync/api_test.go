package main_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// internalRef is a reference to a package under internal/ in go doc output:
// ddbjson.Item, or a path mentioning /internal/.
var internalRef = regexp.MustCompile(`\b(ddbjson|emulator|pgtest|awstest|copycheck|metrics|pgcluster|scenario|tenure|cli)\.[A-Z]|/internal/`)

// apiLeaksKnown are exported declarations that still mention an internal
// type; the list may only shrink. It is empty: keep it so.
var apiLeaksKnown = map[string]bool{}

// TestAPI_NoInternalTypes fails when an exported identifier of a public
// package mentions a type of an internal package: code outside the module
// could not name it, so the package could not be used from there.
func TestAPI_NoInternalTypes(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	root := filepath.Join("..", "..")
	for _, pkg := range []string{"stream", "snapshot", "reconcile", "reconcile/store", "reconcile/report", "reconcile/load", "reconcile/follow", "reconcile/diff", "reconcile/heal"} {
		cmd := exec.CommandContext(t.Context(), gobin, "doc", "-all", "./"+pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go doc -all ./%s: %v", pkg, err)
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			code := strings.TrimSpace(line)
			if i := strings.Index(code, "//"); i >= 0 {
				code = strings.TrimSpace(code[:i])
			}
			if !internalRef.MatchString(code) || strings.HasPrefix(line, "    ") {
				continue // not a reference, or doc text (indented by 4)
			}
			if apiLeaksKnown[pkg+":"+code] {
				continue
			}
			t.Errorf("%s exports an internal type: %s", pkg, code)
		}
	}
}
