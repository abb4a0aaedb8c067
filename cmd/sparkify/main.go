// Command sparkify turns Sparkify's raw song catalog and event log into an analytics-ready star
// schema of Parquet tables. See README.md.
//
// This file only wires flags to configuration, configuration to the engine, and the engine's
// outcome to a summary and an exit status; the work lives in internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sparkify/lake/internal/config"
	"github.com/sparkify/lake/internal/localengine"
	"github.com/sparkify/lake/internal/progress"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sample"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
)

// Exit statuses. Scripts can tell a bad invocation from bad data from a failure to run.
const (
	exitOK        = 0
	exitFailure   = 1 // the run failed: the output cannot be written, storage, I/O
	exitUsage     = 2 // bad flags or configuration
	exitInput     = 3 // an input is missing, empty or unreadable
	exitRejected  = 4 // too many rejected records
	exitLocked    = 5 // another run holds the output's lock, or took it over from this one
	exitInterrupt = 130
)

const usage = `sparkify turns Sparkify's song catalog and event log into Parquet star-schema tables.

Usage:
  sparkify etl [flags]      run the ETL (with no flags: the built-in sample into ./out)
  sparkify gen --out DIR    write a synthetic dataset in the real format, at any scale
  sparkify ddl --dialect D  print the statements that register the lake in athena, spark, trino or duckdb
  sparkify recover          finish an interrupted publish on an output (etl does it first too)
  sparkify unlock           release the lock of an output whose run died
  sparkify worker-pool      start Beam workers for a runner (environment_type=EXTERNAL)
  sparkify version          print the version
  sparkify help             show this help

Run "sparkify COMMAND -h" for a command's flags.
`

func main() {
	// Beam's runners start this same binary as their workers, with Beam's own flags.
	beamWorker(os.Args[1:])
	os.Exit(command(os.Args[1:], os.Stdout, os.Stderr))
}

func command(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "etl":
		return etl(args[1:], stdout, stderr)
	case "gen":
		return generate(args[1:], stdout, stderr)
	case "ddl":
		return ddlCommand(args[1:], stdout, stderr)
	case "recover":
		return recoverOutput(args[1:], stdout, stderr)
	case "unlock":
		return unlock(args[1:], stdout, stderr)
	case "worker-pool":
		return workerPool(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		printVersion(stdout)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "sparkify: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

func etl(args []string, stdout, stderr io.Writer) int {
	// Signals are taken first: one that arrives while the flags are read still stops the run
	// cleanly, with a message, rather than killing the process.
	ctx, stop := interruptible(stderr, "etl")
	defer stop()
	fl := flag.NewFlagSet("sparkify etl", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cfgPath := fl.String("config", "", "read settings from this dl.cfg (INI) `FILE`; env SPARKIFY_CONFIG")
	fl.String("songs", "", "the song catalog: a folder, glob, file, .zip or s3://bucket/prefix\n(default: the built-in sample)")
	fl.String("logs", "", "the event log: a folder, glob, file, .zip or s3://bucket/prefix\n(default: the built-in sample)")
	fl.String("output", "", "where the tables go: a folder or s3://bucket/prefix (default: out)")
	fl.String("mode", "", "the section of dl.cfg that gives the locations (default: LOCAL)")
	fl.Int("workers", 0, "files read and decoded at once (default: the number of CPUs)")
	fl.Float64("max-rejected-ratio", 0, "fail, leaving the tables as they were, when a larger share of an input's\nrecords is rejected (default: 0.01)")
	fl.String("compression", "", "Parquet compression: snappy, zstd, gzip or none (default: snappy)")
	fl.Int("s3-concurrency", 0, "S3 requests in flight (default: 64)")
	fl.String("engine", "", "this machine, or Apache Beam (see --runner) (default: local)")
	fl.String("runner", "", "Beam runner: prism (in this process), dataflow, flink, spark or universal\n(default: prism)")
	endpoint := fl.String("endpoint", "", "the Beam job server of the flink, spark or universal runner")
	var beamOpts beamOptions
	fl.Var(&beamOpts, "beam-opt", "a Beam pipeline option (repeatable), e.g. project=P, region=R,\nstaging_location=gs://B/staging, environment_type=LOOPBACK")
	fl.Bool("incremental", false, "load only the input files this output has not loaded yet (a daily run);\nthe tables are those a full run would write; env SPARKIFY_INCREMENTAL")
	fl.String("memory-limit", "", memoryLimitUsage())
	fl.String("temp-dir", "", tempDirUsage())
	noRepair := fl.Bool("no-repair-text", false, "keep text as logged: do not undo mojibake (UTF-8 encoded twice or more)\nin titles, names and places")
	quiet := fl.Bool("quiet", false, "print nothing but errors")
	verbose := fl.Bool("verbose", false, "log each step (structured logs on stderr)")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile (pprof) of the run to this `FILE`")
	etlHelp.install(fl)
	if code, ok := parseFlags(fl, args, stdout, stderr); !ok {
		return code
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "sparkify etl: unexpected argument %q (inputs are given with --songs and --logs)\n", fl.Arg(0))
		return exitUsage
	}
	set := map[string]string{}
	fl.Visit(func(f *flag.Flag) {
		if f.Name != "config" && f.Name != "quiet" && f.Name != "verbose" && f.Name != "cpuprofile" && f.Name != "endpoint" && f.Name != "beam-opt" && f.Name != "no-repair-text" {
			set[f.Name] = f.Value.String()
		}
	})
	job, err := config.Load(config.Inputs{ConfigPath: *cfgPath, Flags: set, LookupEnv: os.LookupEnv})
	if err != nil {
		fmt.Fprintln(stderr, "sparkify etl:", err)
		return exitUsage
	}

	if job.Engine == "beam" && !beamBuilt {
		fmt.Fprintln(stderr, "sparkify etl: --engine beam:", errNoBeam)
		return exitUsage
	}
	if job.Engine == "beam" && job.Incremental {
		fmt.Fprintln(stderr, "sparkify etl: --incremental runs on the local engine only; the beam engine rebuilds the lake in full (drop --incremental or --engine beam)")
		return exitUsage
	}
	if job.Engine == "beam" {
		// Without a job server these runners would try to download and start one.
		if (job.Runner == "flink" || job.Runner == "spark" || job.Runner == "universal") && *endpoint == "" {
			fmt.Fprintf(stderr, "sparkify etl: --runner %s needs --endpoint HOST:PORT, the address of a Beam job server\n", job.Runner)
			return exitUsage
		}
		if *endpoint != "" {
			beamOpts = append(beamOpts, "endpoint="+*endpoint)
		}
		for _, o := range beamOpts {
			name, value, ok := strings.Cut(o, "=")
			if !ok || name == "" {
				fmt.Fprintf(stderr, "sparkify etl: --beam-opt %q: want NAME=VALUE\n", o)
				return exitUsage
			}
			if err := setBeamFlag(name, value); err != nil {
				fmt.Fprintf(stderr, "sparkify etl: --beam-opt %s: %v\n", o, err)
				return exitUsage
			}
		}
	} else if *endpoint != "" || len(beamOpts) > 0 || set["runner"] != "" {
		fmt.Fprintln(stderr, "sparkify etl: --runner, --endpoint and --beam-opt need --engine beam")
		return exitUsage
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	if *quiet {
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	logger.Debug("configuration", "job", job)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "sparkify etl: --cpuprofile:", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "sparkify etl: --cpuprofile:", err)
			return exitFailure
		}
		defer pprof.StopCPUProfile()
	}

	m, err := runJob(ctx, job, *noRepair, logger, stderr, !*quiet && !*verbose && isTerminal(stderr))
	if err != nil {
		if ie, ok := errors.AsType[*interruptedError](context.Cause(ctx)); ok {
			fmt.Fprintf(stderr, "sparkify etl: %v: nothing was published; the tables are as they were\n", ie)
		} else {
			fmt.Fprintln(stderr, "sparkify etl:", err)
		}
		return exitCode(ctx, err)
	}
	if !*quiet {
		progress.Summary(stdout, m)
	}
	return exitOK
}

func runJob(ctx context.Context, job config.Job, noRepair bool, logger *slog.Logger, stderr io.Writer, showProgress bool) (*report.Manifest, error) {
	if job.Mode == config.ModeS3 && (job.Songs == "" || job.Logs == "" || job.Output == config.DefaultOutput) {
		return nil, fmt.Errorf("MODE=S3 needs SONG_DATA, LOG_DATA and OUTPUT_DATA (in [S3] of dl.cfg, or --songs, --logs, --output): %w", config.ErrInvalid)
	}
	a := job.AWS
	remote := s3.NewOpener(s3.Config{
		Region:          a.Region,
		Endpoint:        a.Endpoint,
		PathStyle:       a.PathStyle,
		AccessKeyID:     a.AccessKeyID,
		SecretAccessKey: a.SecretAccessKey.Reveal(),
		SessionToken:    a.SessionToken.Reveal(),
		Concurrency:     job.S3Concurrency,
	})
	open := func(url string) (storage.Store, error) { return remote.Open(ctx, url) }
	songs, err := source.OpenInput(ctx, job.Songs, sample.Songs, sample.SongsName, open)
	if err != nil {
		return nil, fmt.Errorf("songs: %w", err)
	}
	defer songs.Close()
	logs, err := source.OpenInput(ctx, job.Logs, sample.Logs, sample.LogsName, open)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	defer logs.Close()
	out, err := source.OpenOutput(job.Output, open)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if job.Engine == "beam" {
		logger.Info("running on Apache Beam", "runner", job.Runner)
		return runBeam(ctx, job, noRepair, songs, logs, out, logger)
	}
	p := &report.Progress{}
	if showProgress {
		bar := progress.Start(stderr, p, 200*time.Millisecond)
		defer bar.Stop()
	}
	// The GC then collects harder as the heap nears the limit instead of growing past it; a
	// GOMEMLIMIT the user set wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(job.MemoryLimit)
	}
	return localengine.Run(ctx, localengine.Options{
		Songs:            songs,
		Logs:             logs,
		Output:           out,
		Workers:          job.Workers,
		MaxRejectedRatio: job.MaxRejectedRatio,
		Sink:             sink.Options{Compression: job.Compression, Version: version()},
		Logger:           logger,
		Progress:         p,
		Retries:          remote.Retries,
		Requests:         remote.Requests,
		NoRepairText:     noRepair,
		Incremental:      job.Incremental,
		MemoryLimit:      job.MemoryLimit,
		TempDir:          job.TempDir,
	})
}

// exitCode tells the failure's kind. An error about the output (a folder or bucket that cannot
// be written) is a failure of the run, 1, never 3: 3 says the user's input needs fixing.
func exitCode(ctx context.Context, err error) int {
	switch {
	case ctx.Err() != nil:
		return exitInterrupt
	case errors.Is(err, run.ErrLocked), errors.Is(err, run.ErrLockLost):
		return exitLocked
	case errors.Is(err, run.ErrTooManyRejected):
		return exitRejected
	case errors.Is(err, source.ErrInput):
		return exitInput
	case errors.Is(err, source.ErrUnsupported), errors.Is(err, config.ErrInvalid), errors.Is(err, s3.ErrBadURL), usageError(err):
		return exitUsage
	}
	return exitFailure
}

// beamOptions collects the repeatable --beam-opt NAME=VALUE.
type beamOptions []string

func (b *beamOptions) String() string { return strings.Join(*b, ",") }

func (b *beamOptions) Set(v string) error {
	*b = append(*b, v) // checked once the engine is known, to report it in one line
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
