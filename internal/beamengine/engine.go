// Package beamengine runs the pipeline on Apache Beam, so that it can run where one machine is not
// enough: on Prism (Beam's own runner, in this process), or on Dataflow, Flink or Spark through
// their Beam runners.
//
// Like localengine it only orchestrates: decoding is package decode, every rule of the SPEC is
// package transform (applied here as keyed combines and a join), files are written by package
// sink and published by package commit. The launcher lists the inputs, runs the pipeline, which
// stages every table under the output's _staging folder, and commits only when the pipeline
// succeeded, so a failed run leaves the previous tables as they were.
package beamengine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	// The runners a user can choose with --runner.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sample"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
	"github.com/sparkify/lake/internal/table"
)

// DefaultRunner runs the pipeline in this process.
const DefaultRunner = "prism"

// Config is what every worker needs to reach the data. It travels with the pipeline (as JSON), so
// it holds no secret: workers outside this process take their S3 credentials from their own
// environment (instance role, AWS_* variables), as Beam's own S3 file system does.
type Config struct {
	RunID               string
	Songs, Logs, Output string   // as the user gave them; "" for an input is the built-in sample
	S3                  S3Config // how to reach S3, credentials aside
	Sink                sink.Options
	MaxTS               int64 // the latest ts an event may have; 0: decode.MaxTSAt(the run's start)
	NoRepairText        bool  // keep mojibake as it is (see decode.Decoder.NoRepair)
}

// S3Config is the part of the S3 settings that may travel with the pipeline.
type S3Config struct {
	Region, Endpoint string
	PathStyle        *bool
	Concurrency      int
}

// Options configure a run.
type Options struct {
	Config
	// SongsRoot, LogsRoot and OutputStore are the opened locations, with the credentials of this
	// process. Workers in this process use them; other workers reopen Config's locations.
	SongsRoot, LogsRoot *source.Root
	OutputStore         storage.Store
	Runner              string  // a Beam runner: prism (default), dataflow, flink, spark, universal
	MaxRejectedRatio    float64 // fail when rejected / read exceeds it, for either input
	Logger              *slog.Logger
	Now                 func() time.Time // nil means time.Now
	Lease               time.Duration    // the output lock's lease; <= 0 means run.DefaultLease
}

// ErrPipeline wraps a failure reported by the runner.
var ErrPipeline = errors.New("beam pipeline failed")

// pipelineError is a runner's failure reduced to its cause. Runners report a worker's error as
// text, wrapped in the plan that was running (dozens of lines); the user needs the last cause,
// and the caller needs to know its kind, which the text names.
type pipelineError struct {
	runner, cause string
	kind          error // one of causeKinds, or nil
}

func (e *pipelineError) Error() string {
	return ErrPipeline.Error() + " on " + e.runner + ": " + e.cause
}

func (e *pipelineError) Unwrap() []error {
	if e.kind == nil {
		return []error{ErrPipeline}
	}
	return []error{ErrPipeline, e.kind}
}

// causeKinds are the errors a worker may fail with that the caller tells apart.
var causeKinds = []error{source.ErrUnreadable, source.ErrNoInput, source.ErrInput, fs.ErrNotExist, fs.ErrPermission, run.ErrDuplicateID}

func pipelineFailure(runner string, err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, "caused by:"); i >= 0 {
		msg = msg[i+len("caused by:"):]
	}
	if i := strings.Index(msg, "] failed:"); i >= 0 && strings.Contains(msg[:i], "DoFn[") {
		msg = msg[i+len("] failed:"):]
	}
	e := &pipelineError{runner: runner, cause: strings.Join(strings.Fields(msg), " ")}
	for _, k := range causeKinds {
		if strings.Contains(e.cause, k.Error()) {
			e.kind = k
			break
		}
	}
	return e
}

// IsWorker reports whether args (without the program name) start this binary as a Beam worker,
// as Dataflow and portable runners' containers do.
func IsWorker(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		return strings.HasPrefix(a, "-") && name == "worker"
	})
}

// RunWorker runs the Beam worker harness with the process's flags; it does not return.
func RunWorker() {
	flag.Parse()
	beam.Init()
	os.Exit(0)
}

// SetRunnerFlag sets one of Beam's own flags (--endpoint, --project, --region,
// --staging_location, --environment_type, ...): Beam reads them from the process's flags.
func SetRunnerFlag(name, value string) error {
	if flag.Lookup(name) == nil {
		return fmt.Errorf("unknown Beam option %q", name)
	}
	return flag.Set(name, value)
}

// Run lists the inputs, runs the pipeline and publishes what it staged. On error the previously
// published tables are left as they were.
func Run(ctx context.Context, o Options) (_ *report.Manifest, err error) {
	if o.Runner == "" {
		o.Runner = DefaultRunner
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := checkWorkerPool(o.Runner); err != nil {
		return nil, err
	}
	r, ctx, err := run.Begin(ctx, o.OutputStore, run.Options{ID: o.RunID, Command: "etl", Lease: o.Lease, Now: o.Now, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer func() { err = r.End(ctx, err) }()
	o.RunID = r.ID
	start := r.Start
	if o.MaxTS == 0 {
		// Set once, here: every worker judges every event against the same bound.
		o.MaxTS = decode.MaxTSAt(start)
	}
	log := o.Logger.With("run", o.RunID, "runner", o.Runner)
	m := &report.Manifest{
		RunID: o.RunID, Version: o.Sink.Version, Engine: "beam/" + o.Runner, StartedAt: start.UTC(),
		Output: o.OutputStore.Location(""), Compression: cmp.Or(o.Sink.Compression, "snappy"),
		Tables: map[string]report.Table{}, Inputs: map[string]report.Input{}, Recovered: r.Recovered.RolledForward,
	}

	songList, err := o.SongsRoot.Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("songs: %w", err)
	}
	logList, err := o.LogsRoot.Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	songFiles, logFiles := songList.Files, logList.Files
	for _, sk := range songList.Skipped {
		log.Debug("skipped", "input", "songs", "entry", o.SongsRoot.Store.Location(sk.Name), "reason", sk.Reason)
	}
	for _, sk := range logList.Skipped {
		log.Debug("skipped", "input", "logs", "entry", o.LogsRoot.Store.Location(sk.Name), "reason", sk.Reason)
	}
	log.Info("listed inputs", "song_files", len(songFiles), "log_files", len(logFiles))
	clock := r.Clock(m, log)
	clock.Lap("list")

	// Workers in this process (Prism's, or any loopback worker) use the launcher's opened stores.
	shared := &env{songs: o.SongsRoot, logs: o.LogsRoot, out: o.OutputStore}
	if shareStores {
		inProcess.Store(o.RunID, shared)
		defer inProcess.Delete(o.RunID)
	}

	p, s := beam.NewPipelineWithRoot()
	build(s, o.Config, songFiles, logFiles)
	jobName, resetName := nameJob(o.RunID)
	defer resetName()
	_, err = execute(ctx, o.Runner, p, o.Logger.Enabled(ctx, slog.LevelDebug))
	if err != nil && ctx.Err() != nil && jobName != "" {
		// Interrupted, or the lock was lost: a job on a job server would go on without us.
		switch ids, cerr := cancelJob(jobEndpoint(), jobName); {
		case cerr != nil:
			log.Warn("could not cancel the run's job on the job server: it may still run, but nothing will publish what it writes", "job", jobName, "err", cerr)
		case len(ids) == 0:
			log.Info("the run's job on the job server had ended", "job", jobName)
		default:
			log.Info("cancelled the run's job on the job server", "job", jobName, "ids", ids)
		}
	}
	if err != nil {
		log.Debug("pipeline failed", "err", err)
		// A runner reports the first failure while other workers may still be writing; those in
		// this process are stopped and waited for, so that the staging is removed after them.
		shared.fence(time.Minute)
		return nil, pipelineFailure(o.Runner, err)
	}
	c, err := readStats(ctx, o.OutputStore, o.RunID)
	if err != nil {
		return nil, err
	}
	log.Info("pipeline finished")
	clock.Lap("pipeline")

	for _, in := range []struct {
		name       string
		kind       record.Kind
		files      int
		root       string
		duplicates int64
		skipped    map[string]int64
	}{
		{"songs", record.KindSong, len(songFiles), o.SongsRoot.Display, c[sRead(record.KindSong)] - c[sTable(table.NameSongs, "rows")], songList.SkippedBy()},
		{"events", record.KindEvent, len(logFiles), o.LogsRoot.Display, c[sPlaysSeen] - c[sPlays], logList.SkippedBy()},
	} {
		st := report.Input{Root: in.root, Files: in.files, Bytes: c[sBytes(in.kind)], Kept: c[sRead(in.kind)],
			Duplicates: in.duplicates, RejectedBy: map[string]int64{}, Skipped: in.skipped}
		prefix, repaired := sRejected(in.kind, ""), sRepaired(in.kind, "")
		for k, v := range c {
			if r, ok := strings.CutPrefix(k, prefix); ok && v > 0 {
				st.RejectedBy[r] = v
				st.Rejected += v
			}
			if f, ok := strings.CutPrefix(k, repaired); ok && v > 0 {
				if st.Repaired == nil {
					st.Repaired = map[string]int64{}
				}
				st.Repaired[f] = v
			}
		}
		st.Read = st.Kept + st.Rejected
		m.Inputs[in.name] = st
	}
	m.Plays, m.Matched = c[sPlays], c[sMatched]
	if m.Plays > 0 {
		m.MatchRate = float64(m.Matched) / float64(m.Plays)
	}
	m.Rejected = report.Table{Rows: c[sTable(run.RejectedDir, "rows")], Files: int(c[sTable(run.RejectedDir, "files")]), Bytes: c[sTable(run.RejectedDir, "bytes")]}

	// An unpartitioned table with no rows still gets its schema file, as the local engine writes
	// it; the pipeline had no group to write it from.
	for _, t := range []struct {
		name  string
		write func() (sink.Result, error)
	}{
		{table.NameUsers, func() (sink.Result, error) {
			return sink.Table(ctx, o.OutputStore, stagingDir(o.Config, table.NameUsers), []table.User(nil), (*table.User).Partition, o.Sink)
		}},
		{table.NameArtists, func() (sink.Result, error) {
			return sink.Table(ctx, o.OutputStore, stagingDir(o.Config, table.NameArtists), []table.Artist(nil), (*table.Artist).Partition, o.Sink)
		}},
	} {
		if c[sTable(t.name, "files")] == 0 {
			r, err := t.write()
			if err != nil {
				return nil, err
			}
			c[sTable(t.name, "files")], c[sTable(t.name, "bytes")] = int64(r.Files), r.Bytes
		}
	}
	dirs := []commit.Dir{{Name: run.RejectedDir, Files: m.Rejected.Files, Bytes: m.Rejected.Bytes}}
	for _, name := range table.All {
		m.Tables[name] = report.Table{
			Rows: c[sTable(name, "rows")], Files: int(c[sTable(name, "files")]),
			Bytes: c[sTable(name, "bytes")], Partitions: int(c[sTable(name, "partitions")]),
		}
		dirs = append(dirs, commit.Dir{Name: name, Files: m.Tables[name].Files, Bytes: m.Tables[name].Bytes})
	}

	if err = run.CheckRejected(m.Inputs, o.MaxRejectedRatio, o.OutputStore.Location(stagingDir(o.Config, run.RejectedDir))); err != nil {
		return nil, err
	}

	clock.Lap("stage")
	if err = r.PublishRun(ctx, dirs, clock); err != nil {
		return nil, err
	}
	log.Info("published", "output", m.Output)
	return m, nil
}

var beamInit sync.Once

// execute runs p on the runner. Beam logs through the default slog logger, and on failure prints
// the whole plan several times; the error it returns says what failed. So its logs are dropped
// unless the run logs at debug level.
func execute(ctx context.Context, runner string, p *beam.Pipeline, verbose bool) (beam.PipelineResult, error) {
	beamInit.Do(func() {
		beam.Init()
		if !verbose {
			slog.SetDefault(slog.New(slog.DiscardHandler))
		}
	})
	// Beam's loopback mode creates an empty temporary file per run and never removes it (Beam
	// issue 27569): give it a folder of its own for the run, then remove the folder.
	if tmp, err := os.MkdirTemp("", "sparkify-beam-"); err == nil {
		prev, had := os.LookupEnv("TMPDIR")
		os.Setenv("TMPDIR", tmp)
		defer func() {
			if had {
				os.Setenv("TMPDIR", prev)
			} else {
				os.Unsetenv("TMPDIR")
			}
			os.RemoveAll(tmp)
		}()
	}
	reset, err := placeholderWorkerBinary()
	if err != nil {
		return nil, err
	}
	defer reset()
	return beam.Run(ctx, runner, p)
}

// placeholderWorkerBinary stands in for the worker binary when the workers are started by a worker
// pool (environment_type=EXTERNAL; sparkify worker-pool), which runs its own sparkify. Without
// one, Beam's launcher would try to cross-compile the program from its source folder, and then
// upload the result to the job server, which keeps it in memory: ~150 MB per job for nothing.
// Beam's loopback mode does the same. An explicit --beam-opt worker_binary=... is kept.
// The flag is set for this run only (reset): a later run in the same process decides again.
func placeholderWorkerBinary() (reset func(), err error) {
	bin := flag.Lookup("worker_binary")
	if bin == nil || !externalWorkers() || bin.Value.String() != "" {
		return func() {}, nil
	}
	f, err := os.CreateTemp("", "sparkify-worker-placeholder-") // in the run's TMPDIR, removed after it
	if err != nil {
		return nil, fmt.Errorf("beam: %w", err)
	}
	f.Close()
	if err := bin.Value.Set(f.Name()); err != nil {
		return nil, fmt.Errorf("beam: %w", err)
	}
	return func() { _ = bin.Value.Set("") }, nil
}

// readStats reads the statistics the pipeline left in the staging folder.
func readStats(ctx context.Context, st storage.Store, runID string) (map[string]int64, error) {
	name := commit.Staging(runID) + "/" + statsFile
	b, err := storage.ReadFile(ctx, st, name)
	if err != nil {
		return nil, fmt.Errorf("the pipeline left no statistics: %w", err)
	}
	c := map[string]int64{}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", st.Location(name), err)
	}
	return c, nil
}

func stagingDir(cfg Config, name string) string { return commit.Staging(cfg.RunID) + "/" + name }

// env is what a worker opens once: both input roots and the output store.
type env struct {
	songs, logs *source.Root
	out         storage.Store

	mu     sync.Mutex
	closed bool
	active sync.WaitGroup // writers under way
}

// errFenced stops a writer that starts after its run failed.
var errFenced = errors.New("the run has failed: not writing")

// begin registers a writer; it must call done when finished.
func (e *env) begin() (done func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errFenced
	}
	e.active.Add(1)
	return e.active.Done, nil
}

// fence refuses new writers and waits, at most timeout, for those under way.
func (e *env) fence(timeout time.Duration) {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// shareStores lends the launcher's stores to workers in its process. Tests turn it off to run
// the path of workers elsewhere, which open the stores from Config.
var shareStores = true

var (
	inProcess sync.Map // run ID → *env, for workers in the launcher's process
	opened    sync.Map // run ID → *env, opened by this worker process
	// inProcessUses counts the bundles that ran in the launcher's process: none do when the
	// workers are other processes (a test checks it).
	inProcessUses atomic.Int64
	openMu        sync.Mutex
)

// openEnv returns the run's stores: the launcher's own when the worker runs in its process, or
// stores opened from cfg (once per process) when it runs elsewhere.
func openEnv(ctx context.Context, cfg Config) (*env, error) {
	if e, ok := inProcess.Load(cfg.RunID); ok {
		inProcessUses.Add(1)
		return e.(*env), nil
	}
	if e, ok := opened.Load(cfg.RunID); ok {
		return e.(*env), nil
	}
	openMu.Lock()
	defer openMu.Unlock()
	if e, ok := opened.Load(cfg.RunID); ok {
		return e.(*env), nil
	}
	opener := s3.NewOpener(s3.Config{ // no keys: the default chain, from this worker's environment
		Region: cfg.S3.Region, Endpoint: cfg.S3.Endpoint, PathStyle: cfg.S3.PathStyle, Concurrency: cfg.S3.Concurrency,
	})
	remote := func(url string) (storage.Store, error) { return opener.Open(context.WithoutCancel(ctx), url) }
	songs, err := source.OpenInput(ctx, cfg.Songs, sample.Songs, sample.SongsName, remote)
	if err != nil {
		return nil, fmt.Errorf("songs: %w", err)
	}
	logs, err := source.OpenInput(ctx, cfg.Logs, sample.Logs, sample.LogsName, remote)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	out, err := source.OpenOutput(cfg.Output, remote)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	e := &env{songs: songs, logs: logs, out: out}
	opened.Store(cfg.RunID, e)
	return e, nil
}
