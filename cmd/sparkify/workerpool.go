//go:build beam

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sparkify/lake/internal/workerpool"
)

// workerPool serves Beam's external worker pool protocol: a runner given
// environment_type=EXTERNAL and environment_config=HOST:PORT asks it to start the pipeline's
// workers, each a separate process of this binary (package workerpool).
func workerPool(args []string, stdout, stderr io.Writer) int {
	// SIGINT or SIGTERM stops the pool, which stops its workers (SIGTERM, SIGKILL 5 s later).
	// Not the run commands' handler: its second signal exits at once, which would leave the
	// workers running where no parent-death signal ends them (outside Linux).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fl := flag.NewFlagSet("sparkify worker-pool", flag.ContinueOnError)
	fl.SetOutput(stderr)
	listen := fl.String("listen", "127.0.0.1:50000", "serve on this `HOST:PORT`")
	tempDir := fl.String("temp-dir", "", "where each worker's folder goes (default: the OS temp folder)")
	quiet := fl.Bool("quiet", false, "print nothing but errors")
	commandHelp{
		usage: "sparkify worker-pool [--listen HOST:PORT]",
		about: `Start Beam workers for a runner, each as a separate sparkify process, until interrupted.
A launcher on the runner's side then submits the pipeline with
  sparkify etl --engine beam --runner universal --endpoint JOBSERVER \
    --beam-opt environment_type=EXTERNAL --beam-opt environment_config=HOST:PORT
The pool and the launcher must be the same sparkify build. Workers inherit the pool's
environment: give it the S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role)
the workers need. The protocol has no authentication: listen on loopback (the default) or
on a network only the runner reaches. See docs/BEAM.md.`,
	}.install(fl)
	if code, ok := parseFlags(fl, args, stdout, stderr); !ok {
		return code
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "sparkify worker-pool: unexpected argument %q\n", fl.Arg(0))
		return exitUsage
	}
	if *tempDir != "" {
		if fi, err := os.Stat(*tempDir); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "sparkify worker-pool: --temp-dir %q is not a folder\n", *tempDir)
			return exitUsage
		}
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	pool, err := workerpool.New(workerpool.Options{TempDir: *tempDir, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "sparkify worker-pool:", err)
		return exitFailure
	}
	l, err := workerpool.Listen(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "sparkify worker-pool: cannot listen on %s: %v\n", *listen, err)
		return exitUsage
	}
	logger.Info("worker pool listening", "addr", l.Addr().String())
	if err := pool.Serve(ctx, l); err != nil {
		fmt.Fprintln(stderr, "sparkify worker-pool:", err)
		return exitFailure
	}
	logger.Info("worker pool stopped")
	return exitOK
}
