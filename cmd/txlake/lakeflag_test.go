package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Reading commands never create a lake: a missing local lake is a usage
// error (exit 2), and the directory is not made.
func TestReadCommandsDoNotCreateLakes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-lake")
	for _, args := range [][]string{
		{"query", "--lake", missing, "SELECT 1"},
		{"describe", "--lake", missing, "--table", "transactions"},
		{"drift", "--lake", "file://" + missing, "--table", "transactions", "--reference", "2026-01-01", "--current", "2026-01-02"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := cliRun(t, args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "does not exist") {
				t.Fatalf("exit %d, stderr %q; want exit %d naming the missing lake", r.code, r.stderr, exitUsage)
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Fatalf("%s created the lake directory", args[0])
			}
		})
	}
}
