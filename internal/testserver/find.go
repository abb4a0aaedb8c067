package testserver

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnvRequire makes a missing binary fatal instead of skipping the test.
const EnvRequire = "SPARKIFY_REQUIRE_S3"

// binary describes how to find one external program.
type binary struct {
	what    string      // human name
	envVar  string      // explicit path
	onPath  []string    // names accepted from PATH
	inGoBin []goBinName // names accepted from the Go bin folders, in order of preference
	install string      // install command for the skip message
}

// goBinName is a file name accepted in a Go bin folder; when pkg is set the
// file must have been built from that main package (checked via build info).
type goBinName struct {
	name string
	pkg  string
}

var (
	versitygwBinary = binary{
		what:    "versitygw",
		envVar:  "SPARKIFY_VERSITYGW",
		onPath:  []string{"versitygw"},
		inGoBin: []goBinName{{name: "versitygw"}},
		install: "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0",
	}
	toxiproxyBinary = binary{
		what:   "toxiproxy server",
		envVar: "SPARKIFY_TOXIPROXY",
		onPath: []string{"toxiproxy-server"},
		inGoBin: []goBinName{
			{name: "toxiproxy-server"},
			{name: "server", pkg: "github.com/Shopify/toxiproxy/v2/cmd/server"},
		},
		install: "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0",
	}
)

// require returns the path of b, or ends the test: t.Skip when the binary is
// absent (t.Fatal if EnvRequire is set), t.Fatal when the explicit path given
// by b.envVar is unusable.
func (b binary) require(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(b.envVar); p != "" {
		if err := isExecutable(p); err != nil {
			t.Fatalf("testserver: %s=%q: %v", b.envVar, p, err)
		}
		return p
	}
	if p, ok := b.find(); ok {
		return p
	}
	msg := fmt.Sprintf("testserver: %s not found: install it with `%s` "+
		"(or set %s to its path); looked in PATH and the Go bin folders %v",
		b.what, b.install, b.envVar, goBinDirs(true))
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s (fatal because %s is set)", msg, EnvRequire)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, EnvRequire)
	return ""
}

func (b binary) find() (string, bool) {
	for _, name := range b.onPath {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	search := func(dirs []string) (string, bool) {
		for _, dir := range dirs {
			for _, n := range b.inGoBin {
				p := filepath.Join(dir, n.name+exeSuffix())
				if isExecutable(p) != nil {
					continue
				}
				if n.pkg != "" && !builtFrom(p, n.pkg) {
					continue
				}
				return p, true
			}
		}
		return "", false
	}
	if p, ok := search(goBinDirs(false)); ok {
		return p, true
	}
	// Only now ask the go command: GOPATH/GOBIN may be set in its env file.
	return search(goEnvBinDirs())
}

// goBinDirs lists $GOBIN, each $GOPATH/bin and $HOME/go/bin; with
// withGoEnv it also includes what `go env` reports.
func goBinDirs(withGoEnv bool) []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		for _, p := range filepath.SplitList(gp) {
			if p != "" {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	if withGoEnv {
		dirs = append(dirs, goEnvBinDirs()...)
	}
	return dedup(dirs)
}

// goEnvBinDirs asks `go env GOBIN GOPATH`; nil when go is unavailable.
func goEnvBinDirs() []string {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil
	}
	out, err := exec.Command(goCmd, "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n")
	var dirs []string
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			if p != "" {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	return dirs
}

func dedup(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// builtFrom reports whether the Go binary at path was built from main
// package pkg, reading its embedded build info (the file is not executed).
func builtFrom(path, pkg string) bool {
	info, err := buildinfo.ReadFile(path)
	return err == nil && info.Path == pkg
}

func isExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not executable")
	}
	return nil
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
