//go:build beam

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/testserver"
	"github.com/sparkify/lake/internal/workerpool"
)

// TestWorkerPoolCLI runs the commands a user runs: `sparkify worker-pool` beside a standalone
// Prism job server, and a launcher that submits the built-in sample to them with the EXTERNAL
// environment. The tables must be the local engine's; the pool must have started the worker as a
// process of its own, stopped it after the job, and stop on SIGTERM.
func TestWorkerPoolCLI(t *testing.T) {
	prism := testserver.StartPrism(t)
	addr := testserver.FreeAddr(t)
	pool := startChild(t, "run", "worker-pool", "--listen", addr)
	waitFor(t, 30*time.Second, "the worker pool to listen", func() bool {
		return workerpool.Answers(addr, time.Second) == nil
	})

	local, beam := t.TempDir(), t.TempDir()
	if code, _, stderr := sparkify(t, "etl", "--quiet", "--output", local); code != exitOK {
		t.Fatalf("local: exit %d: %s", code, stderr)
	}
	launcher := startChild(t, "run", "etl", "--engine", "beam", "--runner", "universal", "--endpoint", prism.Endpoint,
		"--beam-opt", "environment_type=EXTERNAL", "--beam-opt", "environment_config="+addr, "--output", beam)
	launcher.wait(t, 3*time.Minute)
	if launcher.code != exitOK || !strings.Contains(launcher.stdout.String(), "published to") {
		t.Fatalf("launcher: exit %d\nstdout: %s\nstderr: %s", launcher.code, launcher.stdout.String(), launcher.stderr.String())
	}
	sameTables(t, local, beam)

	pool.cmd.Process.Signal(syscall.SIGTERM)
	pool.wait(t, 30*time.Second)
	log := pool.stderr.String()
	if pool.code != exitOK {
		t.Errorf("worker pool: exit %d after SIGTERM: %s", pool.code, log)
	}
	for _, want := range []string{`msg="worker pool listening" addr=` + addr, `msg="worker started"`, `msg="worker stopped"`, `msg="worker pool stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("worker pool log lacks %s:\n%s", want, log)
		}
	}
}

// TestWorkerPoolErrors: bad flags give one line and the usage status.
func TestWorkerPoolErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "no-port"},
		{"--listen", "127.0.0.1:99999"},
		{"--temp-dir", "/nonexistent/folder"},
		{"extra"},
	} {
		code, stdout, stderr := sparkify(t, append([]string{"worker-pool"}, args...)...)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "sparkify worker-pool: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and one line", args, code, stdout, stderr, exitUsage)
		}
	}
}
