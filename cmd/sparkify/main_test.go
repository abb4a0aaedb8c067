package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/run"
)

// sparkify runs the CLI in-process and returns its exit status, stdout and stderr.
func sparkify(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := command(args, &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const fixtures = "../../internal/localengine/testdata"

func TestBuiltInSample(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := sparkify(t, "etl", "--output", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"published to", "songplays", "matched to the catalog"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr not empty when it is not a terminal: %q", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Error(err)
	}
}

// needBeam skips a test of the Beam engine in a build without it (scripts/test builds it in).
func needBeam(t *testing.T) {
	t.Helper()
	if !beamBuilt {
		t.Skip("built without Apache Beam: go test -tags beam ./cmd/sparkify (as scripts/test does)")
	}
}

// TestBeamEngine runs the built-in sample on Beam (Prism, in this process) and checks that it
// publishes the same table files as the local engine.
func TestBeamEngine(t *testing.T) {
	needBeam(t)
	local, beam := t.TempDir(), t.TempDir()
	if code, _, stderr := sparkify(t, "etl", "--quiet", "--output", local); code != exitOK {
		t.Fatalf("local: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := sparkify(t, "etl", "--engine", "beam", "--output", beam)
	if code != exitOK {
		t.Fatalf("beam: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "published to") || stderr != "" {
		t.Errorf("beam: stdout %q, stderr %q", stdout, stderr)
	}
	manifest, err := os.ReadFile(filepath.Join(beam, "_manifest.json"))
	if err != nil || !strings.Contains(string(manifest), `"engine": "beam/prism"`) {
		t.Errorf("manifest does not name the Beam engine (%v): %s", err, manifest)
	}
	sameTables(t, local, beam)
}

// sameTables checks that output b holds the same files as a, byte for byte (the manifest, the
// views and the lock aside: they name the run and the location).
func sameTables(t *testing.T, a, b string) {
	t.Helper()
	var n int
	filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "_manifest.json" || d.Name() == "_views.sql" || strings.HasPrefix(d.Name(), run.LockFile) {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between the outputs (%v)", rel, err)
		}
		n++
		return nil
	})
	if n < 10 {
		t.Errorf("compared only %d files", n)
	}
}

func TestQuietPrintsNothing(t *testing.T) {
	code, stdout, stderr := sparkify(t, "etl", "--quiet", "--output", t.TempDir())
	if code != exitOK || stdout != "" || stderr != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and nothing", code, stdout, stderr)
	}
}

// TestErrors checks that each kind of bad input or configuration gives one clear line on stderr,
// the documented exit status, and leaves no table behind.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	emptyDir := filepath.Join(dir, "empty")
	os.MkdirAll(emptyDir, 0o755)
	write(t, filepath.Join(dir, "empty", "notes.txt"), "not data")
	badGz := write(t, filepath.Join(dir, "badgz", "x.json.gz"), "not gzip")
	truncated := write(t, filepath.Join(dir, "trunc", "2018-11-01-events.json"),
		`{"ts":1541030400796,"sessionId":1,"itemInSession":0,"page":"Home","userId":"7"}`+"\n"+`{"ts":1541030400796,"sessi`)
	typo := write(t, filepath.Join(dir, "typo.cfg"), "[PROJECT]\nMODE=LOCAL\nOUTPU_DATA=x\n")
	s3cfg := write(t, filepath.Join(dir, "s3.cfg"), "[PROJECT]\nMODE=S3\n")
	badMode := write(t, filepath.Join(dir, "mode.cfg"), "[PROJECT]\nMODE=HDFS\n")
	songs := filepath.Join(fixtures, "songs")
	logs := filepath.Join(fixtures, "logs")

	tests := []struct {
		name string
		args []string
		code int
		want string // in the error line
	}{
		{"missing input folder", []string{"--songs", filepath.Join(dir, "nope"), "--logs", logs}, exitInput, "nope"},
		{"empty input", []string{"--songs", songs, "--logs", emptyDir}, exitInput, "no .json or .json.gz files"},
		{"unreadable file", []string{"--songs", filepath.Dir(badGz), "--logs", logs}, exitInput, "x.json.gz"},
		{"truncated JSON line over the reject limit", []string{"--songs", songs, "--logs", filepath.Dir(truncated)}, exitRejected, "1 of 2 events rejected"},
		{"unknown dl.cfg key", []string{"--config", typo}, exitUsage, "OUTPUT_DATA"},
		{"missing dl.cfg", []string{"--config", filepath.Join(dir, "nope.cfg")}, exitUsage, "nope.cfg"},
		{"bad MODE", []string{"--config", badMode}, exitUsage, "HDFS"},
		{"S3 mode without S3 locations", []string{"--config", s3cfg}, exitUsage, "MODE=S3 needs SONG_DATA"},
		{"s3 URL without a bucket", []string{"--songs", "s3:///songs", "--logs", logs}, exitUsage, "no bucket"},
		{"unknown URL scheme", []string{"--songs", "gs://bucket/songs", "--logs", logs}, exitUsage, "gs://bucket/songs"},
		{"bad compression", []string{"--compression", "lzma"}, exitUsage, "lzma"},
		{"bad workers", []string{"--workers", "0"}, exitUsage, "workers"},
		{"stray argument", []string{"data/"}, exitUsage, "unexpected argument"},
		{"bad engine", []string{"--engine", "spark"}, exitUsage, "spark"},
		{"runner without the Beam engine", []string{"--runner", "flink"}, exitUsage, "need --engine beam"},
		{"job-server runner without endpoint", []string{"--engine", "beam", "--runner", "flink"}, exitUsage, "needs --endpoint"},
		{"unknown Beam option", []string{"--engine", "beam", "--beam-opt", "no_such_option=1"}, exitUsage, "no_such_option"},
		{"Beam option without a value", []string{"--engine", "beam", "--beam-opt", "project"}, exitUsage, "NAME=VALUE"},
		{"Beam: over the reject limit", []string{"--engine", "beam", "--songs", songs, "--logs", filepath.Dir(truncated)}, exitRejected, "1 of 2 events rejected"},
		{"Beam not built in", []string{"--engine", "beam"}, exitUsage, "built without Apache Beam: build it with `go build -tags beam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if isBeam := slices.Contains(tt.args, "beam"); isBeam && beamBuilt != !strings.Contains(tt.name, "not built") {
				t.Skipf("for a build %s Apache Beam", map[bool]string{true: "without", false: "with"}[beamBuilt])
			}
			out := filepath.Join(t.TempDir(), "lake")
			code, _, stderr := sparkify(t, append([]string{"etl", "--output", out}, tt.args...)...)
			if code != tt.code {
				t.Errorf("got exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "sparkify etl: ") {
				t.Errorf("want one error line, got %q", stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("error %q does not mention %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace: %s", stderr)
			}
			for _, table := range []string{"songplays", "users", "songs", "artists", "time"} {
				if _, err := os.Stat(filepath.Join(out, table)); err == nil {
					t.Errorf("table %s written by a failed run", table)
				}
			}
		})
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
	cfg := write(t, filepath.Join(t.TempDir(), "dl.cfg"),
		"[AWS]\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY="+secret+"\n[PROJECT]\nMODE=LOCAL\n")
	out := t.TempDir()
	code, stdout, stderr := sparkify(t, "etl", "--config", cfg, "--verbose", "--output", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "level=DEBUG") {
		t.Errorf("--verbose gave no structured logs: %q", stderr)
	}
	manifest, err := os.ReadFile(filepath.Join(out, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"stdout": stdout, "stderr": stderr, "manifest": string(manifest)} {
		if strings.Contains(s, secret) {
			t.Errorf("the secret appears in %s", name)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _, stderr := sparkify(t); code != exitUsage || !strings.Contains(stderr, "sparkify etl") {
		t.Errorf("no command: got %d %q", code, stderr)
	}
	if code, _, stderr := sparkify(t, "nope"); code != exitUsage || !strings.Contains(stderr, `unknown command "nope"`) {
		t.Errorf("unknown command: got %d %q", code, stderr)
	}
	if code, stdout, _ := sparkify(t, "version"); code != exitOK || !strings.HasPrefix(stdout, "sparkify ") ||
		!strings.Contains(stdout, "go:      "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("version: got %d %q", code, stdout)
	}
}

func TestGenThenEtl(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := sparkify(t, "gen", "--out", dir, "--songs", "50", "--events", "2000", "--users", "20", "--days", "2", "--dirty")
	if code != exitOK || !strings.Contains(stdout, "events/s") {
		t.Fatalf("gen: exit %d, %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, countsFile)); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = sparkify(t, "etl", "--songs", filepath.Join(dir, "song_data"), "--logs", filepath.Join(dir, "log_data"),
		"--output", t.TempDir(), "--max-rejected-ratio", "0.5", "--quiet")
	if code != exitOK {
		t.Fatalf("etl on generated data: exit %d: %s", code, stderr)
	}
	if code, _, stderr := sparkify(t, "gen", "--out", dir, "--days", "0"); code != exitUsage || !strings.Contains(stderr, "Days") {
		t.Errorf("bad gen options: got %d %q", code, stderr)
	}
	if code, _, _ := sparkify(t, "gen"); code != exitUsage {
		t.Errorf("gen without --out: got %d", code)
	}
}

// TestIncrementalCLI: --incremental's first run is a full load, the next one with nothing new
// says so and touches nothing; the Beam engine refuses it in one line.
func TestIncrementalCLI(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := sparkify(t, "etl", "--output", out, "--incremental")
	if code != exitOK || !strings.Contains(stdout, "incremental: full load of 80 song files and 3 log files") {
		t.Fatalf("first run: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	t.Setenv("SPARKIFY_INCREMENTAL", "true")
	code, stdout, stderr = sparkify(t, "etl", "--output", out)
	if code != exitOK || !strings.Contains(stdout, "incremental: no new input file (80 song files and 3 log files loaded before): nothing to do") {
		t.Fatalf("second run: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	if beamBuilt {
		code, stdout, stderr = sparkify(t, "etl", "--output", out, "--engine", "beam")
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "--incremental runs on the local engine only") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("beam: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	}
}
