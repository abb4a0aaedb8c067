// Package workerpool serves Beam's external worker pool protocol (BeamFnExternalWorkerPool), so
// that a runner can have the pipeline's workers started as separate processes of this binary.
//
// A pipeline submitted with environment_type=EXTERNAL and environment_config=HOST:PORT names a
// pool instead of a container image. For each job, the runner asks the pool to start a worker
// (StartWorker, with the worker's id and the runner's endpoints), and to stop it when the job
// ends (StopWorker). The pool asks the runner's provision service for the pipeline's options,
// writes them to a file the worker reads, and starts the worker command — by default this very
// executable — in Beam's worker mode:
//
//	EXE --worker=true --id=ID --control_endpoint=... --logging_endpoint=... --semi_persist_dir=DIR
//
// with PIPELINE_OPTIONS_FILE, RUNNER_CAPABILITIES and STATUS_ENDPOINT in its environment, which is
// what Beam's Go container does (sdks/go/container/boot.go) without the container: no artifact is
// downloaded, the worker is the pool's own binary, which must therefore be the same build as the
// launcher's (the pipeline names its functions, and the worker must have them). Everything else
// in the worker's environment is the pool's own: S3 credentials reach the workers from there,
// never through the pipeline.
//
// A Go worker does not exit when its job ends (it waits for the runner to stop it), so StopWorker
// ends it: SIGTERM to its process group, then SIGKILL after a grace period. Stopping the pool ends
// every worker it started.
//
// The protocol has no authentication: whoever reaches the pool can have it start workers that
// obey a control endpoint of their choosing, with the pool's credentials. Serve it on loopback
// (the default of sparkify worker-pool) or a network only the runner reaches.
package workerpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/container/tools"
	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"google.golang.org/grpc"
)

// Options configure a pool.
type Options struct {
	// Command is the worker program and any arguments before Beam's worker flags; nil means this
	// executable.
	Command []string
	// Env is the workers' environment before the pool adds Beam's variables; nil means the pool's.
	Env []string
	// TempDir holds each worker's folder (its options file); "" means os.TempDir().
	TempDir string
	// Grace is how long a worker has to exit after SIGTERM before it is killed; <= 0 means 5 s.
	Grace time.Duration
	// ProvisionTimeout bounds the wait for the runner's provision service; <= 0 means a minute,
	// the time Prism gives a worker to connect.
	ProvisionTimeout time.Duration
	// Logger receives a line per worker started, exited or stopped; nil discards.
	Logger *slog.Logger
	// Output receives the workers' stdout and stderr; nil means the pool's stderr.
	Output *os.File
}

// Pool is a running worker pool.
type Pool struct {
	fnpb.UnimplementedBeamFnExternalWorkerPoolServer
	o   Options
	log *slog.Logger

	mu sync.Mutex
	// workers by the runner's worker id. Ids are unique per runner process only (Prism counts
	// jobs from 1), so two runners sharing a pool may reuse one: each gets its worker, and
	// StopWorker stops every worker of the id, as a runner stops workers once their job ended.
	workers map[string][]*worker
	closed  bool
}

type worker struct {
	id   string
	cmd  *exec.Cmd
	dir  string
	done chan struct{} // closed when the process has been waited for
}

// New returns a pool; Serve runs it.
func New(o Options) (*Pool, error) {
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("worker pool: find this program to start it as a worker: %w", err)
		}
		o.Command = []string{exe}
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.ProvisionTimeout <= 0 {
		o.ProvisionTimeout = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	return &Pool{o: o, log: o.Logger, workers: map[string][]*worker{}}, nil
}

// Serve answers the protocol on l until ctx is done, then stops every worker it started and
// returns nil; it returns an error only if serving failed.
func (p *Pool) Serve(ctx context.Context, l net.Listener) error {
	srv := grpc.NewServer()
	fnpb.RegisterBeamFnExternalWorkerPoolServer(srv, p)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	srv.Stop()
	p.stopAll()
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// Listen listens on addr (HOST:PORT) for Serve. Its error is the system's cause alone ("bind:
// address already in use"), for a message that names addr once.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	return l, netCause(err)
}

// Answers reports, as nil, that something accepts connections at addr within timeout: a pool a
// launcher is about to name to its runner. Its error is the system's cause alone.
func Answers(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return netCause(err)
	}
	return conn.Close()
}

// netCause drops net.OpError's operation and addresses, which the caller's message names.
func netCause(err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// StartWorker implements the protocol: it starts one worker process for the runner's worker id.
//
// It answers with an error in the response, as the protocol asks, only when the request is
// unusable or the worker cannot be started; the error names the cause. (Prism, Beam's local
// runner, treats any such answer as fatal to itself, so the pool refuses as little as it can.)
func (p *Pool) StartWorker(ctx context.Context, req *fnpb.StartWorkerRequest) (*fnpb.StartWorkerResponse, error) {
	if err := p.start(ctx, req); err != nil {
		p.log.Error("worker not started", "worker", req.GetWorkerId(), "err", err)
		return &fnpb.StartWorkerResponse{Error: err.Error()}, nil
	}
	return &fnpb.StartWorkerResponse{}, nil
}

func (p *Pool) start(ctx context.Context, req *fnpb.StartWorkerRequest) error {
	id := req.GetWorkerId()
	switch {
	case id == "":
		return errors.New("no worker id")
	case req.GetControlEndpoint().GetUrl() == "":
		return fmt.Errorf("worker %s: no control endpoint", id)
	case req.GetProvisionEndpoint().GetUrl() == "":
		return fmt.Errorf("worker %s: no provision endpoint", id)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("worker %s: the pool is stopping", id)
	}

	// The pipeline's options, and the endpoints the runner wants the worker to use, come from
	// the runner's provision service; it only answers a caller that names the worker.
	pctx, cancel := context.WithTimeout(ctx, p.o.ProvisionTimeout)
	defer cancel()
	info, err := tools.ProvisionInfo(grpcx.WriteWorkerID(pctx, id), req.GetProvisionEndpoint().GetUrl())
	if err != nil {
		return fmt.Errorf("worker %s: provision info from %s: %w", id, req.GetProvisionEndpoint().GetUrl(), err)
	}
	options, err := tools.ProtoToJSON(info.GetPipelineOptions())
	if err != nil {
		return fmt.Errorf("worker %s: pipeline options: %w", id, err)
	}
	control := cmpURL(info.GetControlEndpoint(), req.GetControlEndpoint())
	logging := cmpURL(info.GetLoggingEndpoint(), req.GetLoggingEndpoint())
	if logging == "" {
		return fmt.Errorf("worker %s: no logging endpoint", id)
	}

	dir, err := os.MkdirTemp(p.o.TempDir, "sparkify-worker-")
	if err != nil {
		return fmt.Errorf("worker %s: %w", id, err)
	}
	optionsFile := filepath.Join(dir, "pipeline_options.json")
	if err := os.WriteFile(optionsFile, []byte(options), 0o600); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("worker %s: %w", id, err)
	}
	args := append(p.o.Command[1:len(p.o.Command):len(p.o.Command)],
		"--worker=true",
		"--id="+id,
		"--control_endpoint="+control,
		"--logging_endpoint="+logging,
		"--semi_persist_dir="+dir,
	)
	// Not CommandContext: the worker outlives this request, until StopWorker or the pool's end.
	cmd := exec.Command(p.o.Command[0], args...)
	cmd.Env = append(p.o.Env[:len(p.o.Env):len(p.o.Env)],
		"PIPELINE_OPTIONS_FILE="+optionsFile,
		"RUNNER_CAPABILITIES="+strings.Join(info.GetRunnerCapabilities(), " "),
	)
	if se := info.GetStatusEndpoint().GetUrl(); se != "" {
		cmd.Env = append(cmd.Env, "STATUS_ENDPOINT="+se)
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = p.o.Output, p.o.Output
	cmd.SysProcAttr = sysProcAttr()

	w := &worker{id: id, cmd: cmd, dir: dir, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		os.RemoveAll(dir)
		return fmt.Errorf("worker %s: the pool is stopping", id)
	}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		os.RemoveAll(dir)
		return fmt.Errorf("worker %s: start %s: %w", id, p.o.Command[0], err)
	}
	p.workers[id] = append(p.workers[id], w)
	p.mu.Unlock()
	p.log.Info("worker started", "worker", id, "pid", cmd.Process.Pid, "control", control)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if ws := slices.DeleteFunc(p.workers[id], func(x *worker) bool { return x == w }); len(ws) > 0 {
			p.workers[id] = ws
		} else {
			delete(p.workers, id)
		}
		p.mu.Unlock()
		os.RemoveAll(dir)
		attrs := []any{"worker", id, "max_rss_kib", maxRSSKiB(cmd.ProcessState)}
		if err != nil {
			// A worker the pool stopped exits on its signal: that is the normal end.
			attrs = append(attrs, "status", err.Error())
		}
		p.log.Info("worker exited", attrs...)
		close(w.done)
	}()
	return nil
}

func cmpURL(a, b *pipepb.ApiServiceDescriptor) string {
	if u := a.GetUrl(); u != "" {
		return u
	}
	return b.GetUrl()
}

// StopWorker implements the protocol: it ends the worker's processes, and answers when they
// have exited. An unknown id (a worker that exited already) is not an error.
func (p *Pool) StopWorker(ctx context.Context, req *fnpb.StopWorkerRequest) (*fnpb.StopWorkerResponse, error) {
	p.mu.Lock()
	ws := slices.Clone(p.workers[req.GetWorkerId()])
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			p.stop(w)
			p.log.Info("worker stopped", "worker", w.id)
		})
	}
	wg.Wait()
	return &fnpb.StopWorkerResponse{}, nil
}

// stop ends w's process group: SIGTERM, then SIGKILL after the grace period. A worker that has
// exited and been waited for is not signalled: its pid may be another process's by now.
func (p *Pool) stop(w *worker) {
	select {
	case <-w.done:
		return
	default:
	}
	terminate(w.cmd)
	select {
	case <-w.done:
		return
	case <-time.After(p.o.Grace):
	}
	kill(w.cmd)
	<-w.done
}

func (p *Pool) stopAll() {
	p.mu.Lock()
	p.closed = true
	var ws []*worker
	for _, list := range p.workers {
		ws = append(ws, list...)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { p.stop(w) })
	}
	wg.Wait()
}

// Running returns the ids of the workers whose processes have not exited.
func (p *Pool) Running() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id, ws := range p.workers {
		for range ws {
			ids = append(ids, id)
		}
	}
	return ids
}
