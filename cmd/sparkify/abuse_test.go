package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/storage"
)

// TestMain lets a test start this binary as the sparkify command in a child process, for what
// only a process shows: signals, kill -9, two runs at once.
func TestMain(m *testing.M) {
	// The workers that sparkify worker-pool (a child) starts are this binary too.
	beamWorker(os.Args[1:])
	switch os.Getenv("SPARKIFY_TEST_CHILD") {
	case "run":
		os.Exit(command(os.Args[1:], os.Stdout, os.Stderr))
	case "stuck":
		// A run whose clean-up never ends: only a second signal can stop it. It says when its
		// handler is in place: before that, a signal kills it the default way.
		ctx, _ := interruptible(os.Stderr, "etl")
		fmt.Println("ready")
		<-ctx.Done()
		select {}
	}
	os.Exit(m.Run())
}

// child is a sparkify process started by a test.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
	ended          time.Time
}

func startChild(t *testing.T, mode string, args ...string) *child {
	t.Helper()
	c := &child{done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "SPARKIFY_TEST_CHILD="+mode)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		c.code, c.ended = c.cmd.ProcessState.ExitCode(), time.Now()
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			c.code = 128 + int(ws.Signal())
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(limit):
		t.Fatalf("the process did not exit within %v; stderr: %s", limit, c.stderr.String())
	}
}

// waitFor polls until cond holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// staging reports whether a run has started writing its tables under out.
func staging(out string) bool {
	entries, _ := os.ReadDir(filepath.Join(out, commit.StagingDir))
	for _, e := range entries {
		if sub, _ := os.ReadDir(filepath.Join(out, commit.StagingDir, e.Name())); len(sub) > 0 {
			return true
		}
	}
	return false
}

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigInput is a generated dataset large enough that a run takes seconds (8,000 song files and
// 200,000 events), made once per test binary.
func bigInput(t *testing.T) (songs, logs string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a dataset of seconds of work; not with -short")
	}
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "sparkify-abuse-")
		if bigErr == nil {
			_, bigErr = gen.WriteDir(context.Background(), bigDir, gen.Options{Songs: 8000, Events: 200_000, Users: 300, Days: 10, Seed: 9})
		}
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return filepath.Join(bigDir, "song_data"), filepath.Join(bigDir, "log_data")
}

// publishedLake returns an output folder holding the fixture tables.
func publishedLake(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "lake")
	if code, _, stderr := sparkify(t, "etl", "--quiet", "--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs"), "--output", out); code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	return out
}

// TestSignalStopsTheRun: SIGINT or SIGTERM in the middle of a run stops it within a second or
// two, with exit 130, one line saying so, the staging removed and the tables as they were.
func TestSignalStopsTheRun(t *testing.T) {
	songs, logs := bigInput(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := publishedLake(t)
			before := lakecheck.Snapshot(t, out, false)
			c := startChild(t, "run", "etl", "--songs", songs, "--logs", logs, "--output", out)
			waitFor(t, time.Minute, "the run to stage files", func() bool { return staging(out) })
			time.Sleep(300 * time.Millisecond)
			sent := time.Now()
			c.cmd.Process.Signal(sig)
			c.wait(t, 30*time.Second)
			took := c.ended.Sub(sent)
			t.Logf("%v: exited %d after %v", sig, c.code, took)
			if c.code != exitInterrupt {
				t.Errorf("exit %d, want %d; stderr %q", c.code, exitInterrupt, c.stderr.String())
			}
			// Race-detector builds on two shared cores run several times slower than the real
			// binary (which stops in a fraction of a second): the bound leaves room for that.
			if took > 3*time.Second {
				t.Errorf("took %v to stop after %v", took, sig)
			}
			lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "interrupted") || !strings.Contains(lines[0], "tables are as they were") {
				t.Errorf("want one line saying the run was interrupted and the tables are untouched, got %q", c.stderr.String())
			}
			lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)
			if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("staging left behind: %v", err)
			}
		})
	}
}

// TestSecondSignalExitsAtOnce: when the first signal's clean-up does not end, a second exits.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SPARKIFY_TEST_CHILD=stuck")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait must come after the reads from the pipe.
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child did not get ready: %q %v", line, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		close(c.done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-c.done })
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		t.Fatalf("the stuck child exited on the first signal: %q", stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	c.wait(t, 5*time.Second)
	if c.code != exitInterrupt || !strings.Contains(stderr.String(), "again: exiting now") {
		t.Errorf("exit %d, stderr %q; want %d and the exit message", c.code, stderr.String(), exitInterrupt)
	}
}

// TestOneWriterPerOutput: a second run on an output that a run is writing fails at once with exit
// 5 and one line naming the holder, touching nothing; the first run then publishes in full.
func TestOneWriterPerOutput(t *testing.T) {
	songs, logs := bigInput(t)
	out := publishedLake(t)
	a := startChild(t, "run", "etl", "--quiet", "--songs", songs, "--logs", logs, "--output", out)
	waitFor(t, time.Minute, "the first run to stage files", func() bool { return staging(out) })

	start := time.Now()
	code, _, stderr := sparkify(t, "etl", "--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs2"), "--output", out)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the second run took %v to give up", took)
	}
	if code != exitLocked {
		t.Errorf("second run: exit %d, want %d; stderr %q", code, exitLocked, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, "is locked by run") ||
		!strings.Contains(stderr, "pid "+itoa(a.cmd.Process.Pid)) {
		t.Errorf("want one line naming the holder (pid %d), got %q", a.cmd.Process.Pid, stderr)
	}
	if !staging(out) {
		t.Error("the second run removed the first run's staging")
	}
	a.wait(t, 2*time.Minute)
	if a.code != exitOK {
		t.Fatalf("first run: exit %d: %s", a.code, a.stderr.String())
	}
	checkPublishedInFull(t, out)
}

// checkPublishedInFull checks that every table folder holds exactly the files and bytes the
// manifest says the run wrote, and that the run finished (_SUCCESS): what two runs writing at
// once broke (tables missing, others partial, a manifest claiming the full counts).
func checkPublishedInFull(t *testing.T, out string) {
	t.Helper()
	var m report.Manifest
	b, err := os.ReadFile(filepath.Join(out, commit.ManifestFile))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, commit.SuccessFile)); err != nil {
		t.Error(err)
	}
	for name, want := range m.Tables {
		var files int
		var bytes int64
		filepath.WalkDir(filepath.Join(out, name), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				info, _ := d.Info()
				files++
				bytes += info.Size()
			}
			return nil
		})
		if files != want.Files || bytes != want.Bytes || files == 0 {
			t.Errorf("table %s holds %d files (%d bytes), the manifest says %d (%d bytes)", name, files, bytes, want.Files, want.Bytes)
		}
	}
}

// TestKilledRunDoesNotBlock: a run killed with kill -9 leaves its lock; the next run on this
// host sees that its holder is dead, takes the lock over, cleans up and publishes.
func TestKilledRunDoesNotBlock(t *testing.T) {
	songs, logs := bigInput(t)
	out := publishedLake(t)
	a := startChild(t, "run", "etl", "--quiet", "--songs", songs, "--logs", logs, "--output", out)
	waitFor(t, time.Minute, "the run to stage files", func() bool { return staging(out) })
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	if h, held, err := run.Inspect(context.Background(), mustLocal(t, out)); err != nil || !held || h.PID != a.cmd.Process.Pid {
		t.Fatalf("the killed run's lock: %+v held=%v err=%v", h, held, err)
	}
	code, _, stderr := sparkify(t, "etl", "--quiet", "--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs2"), "--output", out)
	if code != exitOK {
		t.Fatalf("run after kill -9: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed run's staging was not removed: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustLocal(t *testing.T, dir string) storage.Store {
	t.Helper()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUnlock: a lock held on another host (whose process this host cannot check) is kept unless
// --force; once released, runs go on.
func TestUnlock(t *testing.T) {
	out := publishedLake(t)
	now := time.Now().UTC()
	held := fmt.Sprintf(`{"run_id":"20261130T000000Z-deadbeef","command":"etl","host":"elsewhere","pid":4242,"started_at":%q,"renewed_at":%q,"expires_at":%q}`,
		now.Format(time.RFC3339), now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	write(t, filepath.Join(out, run.LockFile), held)

	code, _, stderr := sparkify(t, "etl", "--quiet", "--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs2"), "--output", out)
	if code != exitLocked || !strings.Contains(stderr, "elsewhere") || !strings.Contains(stderr, "sparkify unlock") {
		t.Fatalf("run on a locked output: exit %d, %q", code, stderr)
	}
	code, _, stderr = sparkify(t, "unlock", "--output", out)
	if code != exitLocked || !strings.Contains(stderr, "--force") {
		t.Fatalf("unlock of a live-looking lock: exit %d, %q; want %d and a hint of --force", code, stderr, exitLocked)
	}
	code, stdout, stderr := sparkify(t, "unlock", "--force", "--output", out)
	if code != exitOK || !strings.Contains(stdout, "20261130T000000Z-deadbeef") {
		t.Fatalf("unlock --force: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, _ = sparkify(t, "unlock", "--output", out)
	if code != exitOK || !strings.Contains(stdout, "not locked") {
		t.Fatalf("unlock of an unlocked output: exit %d, %q", code, stdout)
	}
	if code, _, stderr := sparkify(t, "etl", "--quiet", "--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs2"), "--output", out); code != exitOK {
		t.Fatalf("run after unlock: exit %d: %s", code, stderr)
	}
}

// TestOutputErrorsAreNotInputErrors: an output that cannot be written is a failure of the run
// (exit 1), not a bad input (exit 3).
func TestOutputErrorsAreNotInputErrors(t *testing.T) {
	file := write(t, filepath.Join(t.TempDir(), "afile"), "x")
	for _, tc := range []struct{ name, out string }{
		{"output below a file", filepath.Join(file, "lake")},
		{"output is a file", file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := sparkify(t, "etl", "--output", tc.out)
			if code != exitFailure {
				t.Errorf("exit %d, want %d; stderr %q", code, exitFailure, stderr)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, "afile") {
				t.Errorf("want one line naming the output, got %q", stderr)
			}
		})
	}
}
