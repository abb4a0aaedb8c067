package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/config"
)

// TestFlagErrors: a mistyped flag or a bad value is one line naming it, with the closest flag
// for a typo; help is on stdout with exit 0, for every command.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"etl", "--ouptut", "x"}, "sparkify etl: unknown flag --ouptut; did you mean --output?"},
		{[]string{"etl", "--workers", "abc"}, `sparkify etl: --workers: invalid value "abc" (want a whole number)`},
		{[]string{"etl", "--max-rejected-ratio", "lots"}, `--max-rejected-ratio: invalid value "lots" (want a number)`},
		{[]string{"etl", "--quiet=maybe"}, `--quiet: invalid value "maybe" (want true or false)`},
		{[]string{"etl", "--output"}, "--output needs a value"},
		{[]string{"etl", "--memory-limit", "1MiB"}, `sparkify etl: flag --memory-limit: size "1MiB" is under the minimum, 64MiB`},
		{[]string{"etl", "--memory-limit", "8 gigs"}, `sparkify etl: flag --memory-limit: invalid size "8 gigs": unknown unit "gigs"`},
		{[]string{"etl", "--temp-dir", "s3://bucket/tmp"}, `sparkify etl: flag --temp-dir: "s3://bucket/tmp" is not a local path`},
		{[]string{"etl", "--temp-dir", "/nonexistent/sparkify-tmp"}, `sparkify etl: flag --temp-dir: folder "/nonexistent/sparkify-tmp" does not exist`},
		{[]string{"etl", "--zzzzzzzz"}, "unknown flag --zzzzzzzz (see"},
		{[]string{"gen", "--songz", "3"}, "sparkify gen: unknown flag --songz; did you mean --songs?"},
		{[]string{"unlock", "--forse"}, "sparkify unlock: unknown flag --forse; did you mean --force?"},
		{[]string{"ddl", "--dialekt", "duckdb"}, "sparkify ddl: unknown flag --dialekt; did you mean --dialect?"},
	} {
		code, stdout, stderr := sparkify(t, tc.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and one line with %q", tc.args, code, stdout, stderr, exitUsage, tc.want)
		}
	}
	for _, cmd := range []string{"etl", "gen", "ddl", "unlock", "recover"} {
		code, stdout, stderr := sparkify(t, cmd, "--help")
		if code != exitOK || !strings.HasPrefix(stdout, "Usage: sparkify "+cmd) || stderr != "" {
			t.Errorf("%s --help: exit %d, stdout %.40q, stderr %q; want the usage on stdout", cmd, code, stdout, stderr)
		}
	}
}

// TestHelp: every command's help lists each flag once, with its value's kind and its text on
// the same line; etl's puts every flag in a named group and ends with examples and exit statuses.
func TestHelp(t *testing.T) {
	flagLine := regexp.MustCompile(`^  --([a-z0-9-]+)( [A-Za-z|:=-]+)? +\S`)
	for _, cmd := range []string{"etl", "gen", "ddl", "unlock", "recover"} {
		_, stdout, _ := sparkify(t, cmd, "--help")
		seen := map[string]int{}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, "  --") {
				m := flagLine.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("%s --help: flag line without its text: %q", cmd, line)
					continue
				}
				seen[m[1]]++
			}
		}
		if len(seen) < 3 {
			t.Errorf("%s --help lists %d flags:\n%s", cmd, len(seen), stdout)
		}
		for name, n := range seen {
			if n != 1 {
				t.Errorf("%s --help lists --%s %d times", cmd, name, n)
			}
		}
		if cmd != "etl" {
			continue
		}
		for _, want := range []string{"\nInput and output:\n", "\nRun:\n", "\nS3:\n", "\nBeam:\n",
			"\nLogging and diagnostics:\n", "\nExamples:\n", "\nExit status:\n", "  --output LOCATION  ", "  --workers N  ",
			"  --memory-limit SIZE  ", "  memory the local engine may use, such as 8GiB or 1.5GB (8G means 8GiB);\n", "past the limit, go through --temp-dir\n",
			"(default: half of this machine's memory, " + gib(config.DefaultMemoryLimit()) + " here)\n",
			"  --temp-dir DIR  ", "local engine's spill files\n", "(default: the OS temp folder, " + os.TempDir() + " here)\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("etl --help lacks %q", want)
			}
		}
		if strings.Contains(stdout, "Other flags") {
			t.Errorf("etl --help has flags in no group:\n%s", stdout)
		}
		for _, code := range []int{exitOK, exitFailure, exitUsage, exitInput, exitRejected, exitLocked, exitInterrupt} {
			if !regexp.MustCompile(fmt.Sprintf(`(?m)^  %d +\S`, code)).MatchString(stdout) {
				t.Errorf("etl --help does not explain exit status %d", code)
			}
		}
	}
}

// TestMemoryLimitAndTempDir: --memory-limit and --temp-dir reach the run, which sets the Go
// runtime's memory limit to it unless GOMEMLIMIT is set, and leaves no spill file behind.
func TestMemoryLimitAndTempDir(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	for _, gomemlimit := range []string{"", "3GiB"} {
		t.Setenv("GOMEMLIMIT", gomemlimit) // read by etl, not by the runtime, which read it at start
		debug.SetMemoryLimit(old)
		tmp := t.TempDir()
		code, _, stderr := sparkify(t, "etl", "--output", t.TempDir(), "--memory-limit", "1.5GiB", "--temp-dir", tmp, "--quiet")
		if code != exitOK {
			t.Fatalf("GOMEMLIMIT=%q: exit %d: %s", gomemlimit, code, stderr)
		}
		want := int64(3 << 29)
		if gomemlimit != "" {
			want = old
		}
		if got := debug.SetMemoryLimit(-1); got != want {
			t.Errorf("GOMEMLIMIT=%q: the runtime's memory limit is %d, want %d", gomemlimit, got, want)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
			t.Errorf("the run left %v in --temp-dir", left)
		}
	}
}

func TestGiB(t *testing.T) {
	for n, want := range map[int64]string{4 << 30: "4 GiB", 3 << 29: "1.5 GiB", 12638255104: "11.8 GiB", 64 << 20: "0.1 GiB"} {
		if got := gib(n); got != want {
			t.Errorf("gib(%d): got %q, want %q", n, got, want)
		}
	}
}
