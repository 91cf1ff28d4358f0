package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps_NoTestCode fails when the product binary links package testing
// or a test helper: test code belongs in _test.go files and in the
// internal/*test helper packages only tests import.
func TestDeps_NoTestCode(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	out, err := exec.CommandContext(t.Context(), gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/ddbsync/ddbsync/"
	for _, pkg := range strings.Fields(string(out)) {
		if forbiddenDep(mod, pkg) {
			t.Errorf("the ddbsync binary depends on %s, which is for tests only", pkg)
		}
	}
}

func forbiddenDep(mod, pkg string) bool {
	if pkg == "testing" || strings.HasPrefix(pkg, "testing/") {
		return true
	}
	rel, ok := strings.CutPrefix(pkg, mod)
	if !ok {
		return false
	}
	last := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasSuffix(last, "test") || rel == "internal/scenario" || strings.HasPrefix(rel, "internal/scenario/")
}

func TestForbiddenDep(t *testing.T) {
	const mod = "github.com/ddbsync/ddbsync/"
	tests := []struct {
		pkg  string
		want bool
	}{
		{"testing", true},
		{"testing/fstest", true},
		{"net/http/httptest", false},
		{mod + "internal/pgtest", true},
		{mod + "internal/awstest", true},
		{mod + "internal/emulator/emulatortest", true},
		{mod + "internal/scenario", true},
		{mod + "internal/emulator", false},
		{mod + "reconcile", false},
	}
	for _, tc := range tests {
		if got := forbiddenDep(mod, tc.pkg); got != tc.want {
			t.Errorf("forbiddenDep(%s) = %v, want %v", tc.pkg, got, tc.want)
		}
	}
}
