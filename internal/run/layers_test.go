package run

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportLayers keeps the data flowing one way: a package may only import those below it, and
// no engine imports another (their shared contract is this package). It reads the real import
// graph with go list, so a new import that breaks a layer fails here.
func TestImportLayers(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	const mod = "github.com/sparkify/lake/internal/"
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"record", []string{"decode", "transform", "table", "storage", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"table", []string{"decode", "storage", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"decode", []string{"transform", "storage", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"transform", []string{"decode", "storage", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"storage", []string{"record", "decode", "transform", "table", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"source", []string{"decode", "transform", "sink", "commit", "run", "localengine", "beamengine"}},
		{"sink", []string{"decode", "transform", "source", "commit", "run", "localengine", "beamengine"}},
		{"commit", []string{"decode", "transform", "table", "source", "sink", "run", "localengine", "beamengine"}},
		{"run", []string{"decode", "transform", "source", "sink", "localengine", "beamengine"}},
		// The incremental state stores records; it knows nothing of rules, tables or commits.
		{"state", []string{"decode", "transform", "table", "source", "sink", "commit", "run", "localengine", "beamengine"}},
		{"localengine", []string{"beamengine"}},
		{"beamengine", []string{"localengine"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+r.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", r.pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, f := range r.forbidden {
			if deps[mod+f] {
				t.Errorf("%s imports %s (directly or not): it must not", r.pkg, f)
			}
		}
	}
}
