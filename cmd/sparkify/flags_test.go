package main

import (
	"strings"
	"testing"
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
