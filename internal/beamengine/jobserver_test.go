//go:build !race

// The job-server tests run their workers as other processes of this test binary, which the race
// detector would slow down without looking at them, and make pipelines fail (see
// failure_test.go): they run in the package's run without -race.

package beamengine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/testserver"
	"github.com/sparkify/lake/internal/workerpool"
)

// The test binary is also the worker pool, the workers and, for one test, the launcher, each a
// process of its own: what `sparkify worker-pool`, a worker and `sparkify etl` are in production
// (they run the same packages).
const (
	envPool   = "SPARKIFY_TEST_WORKER_POOL" // HOST:PORT: serve the worker pool there
	envLaunch = "SPARKIFY_TEST_LAUNCH"      // JSON launchSpec: run the launcher, then exit
)

func TestMain(m *testing.M) {
	if IsWorker(os.Args[1:]) {
		RunWorker()
	}
	if addr := os.Getenv(envPool); addr != "" {
		os.Exit(servePool(addr))
	}
	if spec := os.Getenv(envLaunch); spec != "" {
		os.Exit(launch(spec))
	}
	os.Exit(m.Run())
}

func servePool(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pool:", err)
		return 1
	}
	ctx, stop := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signalNotify(sigs)
	go func() { <-sigs; stop() }()
	p, err := workerpool.New(workerpool.Options{Logger: stderrLogger()})
	if err == nil {
		err = p.Serve(ctx, l)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pool:", err)
		return 1
	}
	return 0
}

// jobServer is a standalone Prism and a worker pool beside it, each its own process.
type jobServer struct {
	prism string // job endpoint
	pool  string // HOST:PORT
	log   *lockedBuffer
}

// startJobServer starts Prism and a worker pool whose workers get env (and nothing else of this
// process's environment but PATH and HOME).
func startJobServer(t *testing.T, env ...string) *jobServer {
	t.Helper()
	prism := testserver.StartPrism(t)
	addr := testserver.FreeAddr(t)
	js := &jobServer{prism: prism.Endpoint, pool: addr, log: &lockedBuffer{}}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{envPool + "=" + addr, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + t.TempDir()}, env...)
	cmd.Stdout, cmd.Stderr = js.log, js.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("worker pool output:\n%s", js.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := workerpool.Answers(addr, time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker pool does not answer on %s: %v\n%s", addr, err, js.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return js
}

// use points the Beam flags at js for the rest of the test: what a user gives as
// --runner universal --endpoint ... --beam-opt environment_type=EXTERNAL --beam-opt environment_config=....
func (js *jobServer) use(t *testing.T) {
	t.Helper()
	for name, v := range map[string]string{"endpoint": js.prism, "environment_type": "EXTERNAL", "environment_config": js.pool} {
		if err := SetRunnerFlag(name, v); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { SetRunnerFlag(name, "") })
	}
}

// runJobServer runs the Beam engine through js, with the launcher in this process.
func runJobServer(t *testing.T, js *jobServer, songs, logs, out string, maxRejected float64) (*report.Manifest, error) {
	t.Helper()
	js.use(t)
	sr, lr, st := open(t, songs, logs, out)
	before := inProcessUses.Load()
	m, err := Run(context.Background(), Options{
		Config:    Config{Songs: songs, Logs: logs, Output: out, Sink: sink.Options{Version: "test"}},
		SongsRoot: sr, LogsRoot: lr, OutputStore: st, MaxRejectedRatio: maxRejected, Runner: "universal",
	})
	if n := inProcessUses.Load() - before; n > 0 {
		t.Errorf("%d bundles ran in the launcher's process: the workers were to do the work", n)
	}
	return m, err
}

// workersStarted returns the pids of the workers the pool started, from its log.
func (js *jobServer) workersStarted(t *testing.T) []string {
	t.Helper()
	var pids []string
	for line := range strings.Lines(js.log.String()) {
		if strings.Contains(line, `msg="worker started"`) {
			_, pid, _ := strings.Cut(line, " pid=")
			pid, _, _ = strings.Cut(pid, " ")
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestJobServer runs the pipeline through a standalone Prism job server whose workers a worker
// pool starts as separate processes: on the shared sample and on generated dirty data, the tables
// must be the local engine's, byte for byte, with the same figures.
func TestJobServer(t *testing.T) {
	js := startJobServer(t)
	dirty := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), dirty, gen.Options{
		Songs: 300, Events: 6_000, Users: 60, Days: 40, Seed: 11, MatchShare: 0.5, Dirty: true,
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, songs, logs string }{
		{"generated dirty data", filepath.Join(dirty, "song_data"), filepath.Join(dirty, "log_data")},
		{"shared sample", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.songs == "" {
				data := lakecheck.SharedData(t)
				c.songs, c.logs = filepath.Join(data, "song_data"), filepath.Join(data, "log_data")
			}
			local, beam := t.TempDir(), t.TempDir()
			lm := runLocal(t, c.songs, c.logs, local, 0.2)
			started := len(js.workersStarted(t))
			bm, err := runJobServer(t, js, c.songs, c.logs, beam, 0.2)
			if err != nil {
				t.Fatal(err)
			}
			sameOutput(t, local, beam)
			sameFigures(t, lm, bm)
			if bm.Engine != "beam/universal" {
				t.Errorf("engine %q", bm.Engine)
			}
			pids := js.workersStarted(t)
			if len(pids) <= started {
				t.Fatalf("the pool started no worker for the job:\n%s", js.log.String())
			}
			for _, pid := range pids[started:] {
				if pid == fmt.Sprint(os.Getpid()) || pid == "" {
					t.Errorf("worker pid %q: not a process of its own", pid)
				}
			}
		})
	}
}

// TestJobServerWorkerFails: a worker that fails on a corrupt .gz fails the job with one line that
// names the file, and the previous tables stay as they were.
func TestJobServerWorkerFails(t *testing.T) {
	js := startJobServer(t)
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 40, Events: 500, Users: 10, Days: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	songs, logs := filepath.Join(data, "song_data"), filepath.Join(data, "log_data")
	out := t.TempDir()
	if _, err := runJobServer(t, js, songs, logs, out, 0.01); err != nil {
		t.Fatal(err)
	}
	before := files(t, out)
	if err := os.WriteFile(filepath.Join(logs, "zz-corrupt.json.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runJobServer(t, js, songs, logs, out, 0.01)
	if !errors.Is(err, ErrPipeline) {
		t.Fatalf("got %v, want ErrPipeline", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "zz-corrupt.json.gz") || strings.Contains(msg, "\n") {
		t.Errorf("want one line naming the file, got %q", msg)
	}
	sameFiles(t, before, files(t, out))
	if entries, _ := os.ReadDir(filepath.Join(out, "_staging")); len(entries) > 0 {
		t.Errorf("staging of the failed run left behind: %v", entries)
	}
}

// sameFiles checks that the published output is as it was; a staging folder, which no reader
// looks at, may come and go.
func sameFiles(t *testing.T, before, after map[string][]byte) {
	t.Helper()
	for _, m := range []map[string][]byte{before, after} {
		maps.DeleteFunc(m, func(name string, _ []byte) bool { return strings.HasPrefix(name, "_staging/") })
	}
	if len(after) != len(before) {
		t.Errorf("the output changed: %d files before, %d after", len(before), len(after))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed", name)
		}
	}
}

// launchSpec is what the launcher process of TestJobServerLauncherKilled runs.
type launchSpec struct {
	Songs, Logs, Out, Endpoint, Pool string
	Lease                            time.Duration
}

func launch(spec string) int {
	var s launchSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 2
	}
	for name, v := range map[string]string{"endpoint": s.Endpoint, "environment_type": "EXTERNAL", "environment_config": s.Pool} {
		if err := SetRunnerFlag(name, v); err != nil {
			fmt.Fprintln(os.Stderr, "launch:", err)
			return 2
		}
	}
	// SIGINT cancels the run, as the CLI's handler does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sr, err1 := source.Resolve(ctx, s.Songs, nil)
	lr, err2 := source.Resolve(ctx, s.Logs, nil)
	st, err3 := storage.NewLocal(s.Out)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 2
	}
	_, err := Run(ctx, Options{
		Config:    Config{Songs: s.Songs, Logs: s.Logs, Output: s.Out, Sink: sink.Options{Version: "test"}},
		SongsRoot: sr, LogsRoot: lr, OutputStore: st, MaxRejectedRatio: 0.2, Runner: "universal", Lease: s.Lease,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 1
	}
	return 0
}

// lakeAndNextInput publishes a small lake through js, and generates a next input of events
// events, large enough that its job runs for a while. before is the lake as published.
func lakeAndNextInput(t *testing.T, js *jobServer, events int) (songs, logs, out string, before map[string][]byte) {
	t.Helper()
	data, first := t.TempDir(), t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 400, Events: events, Users: 50, Days: 20, Seed: 5, MatchShare: 0.3}); err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteDir(context.Background(), first, gen.Options{Songs: 40, Events: 500, Users: 10, Days: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	out = t.TempDir()
	if _, err := runJobServer(t, js, filepath.Join(first, "song_data"), filepath.Join(first, "log_data"), out, 0.2); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), out, files(t, out)
}

// TestJobServerLauncherKilled kills the launcher (SIGKILL: nothing of it runs after) while its
// job runs on the job server: the previous tables must stay as they were, also once the orphaned
// job has finished, and the next run, once the dead launcher's lease has run out, publishes the
// new tables.
func TestJobServerLauncherKilled(t *testing.T) {
	js := startJobServer(t)
	songs, logs, out, before := lakeAndNextInput(t, js, 30_000)

	started := len(js.workersStarted(t))
	cmd, _ := js.launchUntilWorker(t, launchSpec{Songs: songs, Logs: logs, Out: out, Lease: 3 * time.Second})
	cmd.Process.Kill()
	cmd.Wait()
	sameFiles(t, before, files(t, out))

	// The orphaned job goes on without its launcher; nothing publishes what it stages. Wait for
	// its worker to be stopped, then look again.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(js.log.String(), `msg="worker stopped"`) || strings.Count(js.log.String(), `msg="worker stopped"`) <= started {
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned job's worker was not stopped:\n%s", js.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sameFiles(t, before, files(t, out))

	// The next run waits out the dead launcher's lease, discards its staging and publishes.
	time.Sleep(3 * time.Second)
	local := t.TempDir()
	lm := runLocal(t, songs, logs, local, 0.2)
	bm, err := runJobServer(t, js, songs, logs, out, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	sameOutput(t, local, out)
	sameFigures(t, lm, bm)
}

// launchUntilWorker starts a launcher process on spec and returns once the pool has started a
// worker for its job: the job is under way on the job server.
func (js *jobServer) launchUntilWorker(t *testing.T, spec launchSpec) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	spec.Endpoint, spec.Pool = js.prism, js.pool
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envLaunch+"="+string(b))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	started := len(js.workersStarted(t))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(js.workersStarted(t)) <= started {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no worker started for the launcher's job; launcher:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, out
}

// TestJobServerLauncherInterrupted: SIGINT to the launcher mid-job fails the run and cancels its
// job on the job server, whose worker is then stopped; the tables stay as they were.
func TestJobServerLauncherInterrupted(t *testing.T) {
	js := startJobServer(t)
	songs, logs, out, before := lakeAndNextInput(t, js, 60_000)
	stopped := strings.Count(js.log.String(), `msg="worker stopped"`)

	cmd, launcherOut := js.launchUntilWorker(t, launchSpec{Songs: songs, Logs: logs, Out: out})
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("the interrupted launcher succeeded:\n%s", launcherOut.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the launcher did not stop within a minute of SIGINT:\n%s", launcherOut.String())
	}
	// The job was cancelled, not left to run: its worker is stopped at once, not after the job.
	conn, err := grpc.NewClient(js.prism, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := jobpb.NewJobServiceClient(conn).GetJobs(context.Background(), &jobpb.GetJobsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		// GetJobs lists in no order: the interrupted run's job is the one not DONE.
		var states []string
		cancelled := false
		for _, j := range jobs.GetJobInfo() {
			states = append(states, j.GetJobName()+": "+j.GetState().String())
			if j.GetState() == jobpb.JobState_CANCELLED && strings.HasPrefix(j.GetJobName(), "sparkify-") {
				cancelled = true
			}
		}
		if cancelled && strings.Count(js.log.String(), `msg="worker stopped"`) > stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs %v, the worker stopped: %v; launcher:\n%s", states, strings.Count(js.log.String(), `msg="worker stopped"`) > stopped, launcherOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sameFiles(t, before, files(t, out))
}

// TestJobServerS3 reads from and writes to S3 through the job server, with the credentials given
// to the workers only through the worker pool's environment: the pipeline that reached the job
// server, and its options, do not hold the secret.
func TestJobServerS3(t *testing.T) {
	f := newS3Fixture(t)
	srv := f.srv
	js := startJobServer(t, "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	js.use(t)
	ctx := context.Background()
	// The launcher's stores have its own client: what dl.cfg's [AWS] gives it, never a command
	// line. This process's environment has no credentials.
	songs, logs, out := f.roots(t, "s3://lake/js")
	before := inProcessUses.Load()
	bm, err := Run(ctx, Options{
		Config: Config{
			Songs: "s3://input/song_data", Logs: "s3://input/log_data", Output: "s3://lake/js",
			S3:   S3Config{Endpoint: srv.Endpoint, Region: srv.Region},
			Sink: sink.Options{Version: "test"},
		},
		SongsRoot: songs, LogsRoot: logs, OutputStore: out, MaxRejectedRatio: 0.2, Runner: "universal",
	})
	if err != nil {
		t.Fatalf("%v\nworker pool:\n%s", err, js.log.String())
	}
	if inProcessUses.Load() != before {
		t.Error("bundles ran in the launcher's process")
	}
	f.check(t, out, bm)

	// What the job server was given: every job's pipeline and options.
	conn, err := grpc.NewClient(js.prism, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	jc := jobpb.NewJobServiceClient(conn)
	jobs, err := jc.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.GetJobInfo()) == 0 {
		t.Fatal("the job server lists no job")
	}
	for _, j := range jobs.GetJobInfo() {
		p, err := jc.GetPipeline(ctx, &jobpb.GetJobPipelineRequest{JobId: j.GetJobId()})
		if err != nil {
			t.Fatal(err)
		}
		pb, err := proto.Marshal(p.GetPipeline())
		if err != nil {
			t.Fatal(err)
		}
		ob, err := proto.Marshal(j.GetPipelineOptions())
		if err != nil {
			t.Fatal(err)
		}
		if len(pb) < 1000 {
			t.Errorf("job %s: a pipeline of %d bytes: not the real one", j.GetJobId(), len(pb))
		}
		// The functions' configuration is JSON inside base64 inside protos: look in every layer.
		layers := unwrapBase64(append(pb, ob...), 4)
		if !slices.ContainsFunc(layers, func(b []byte) bool { return bytes.Contains(b, []byte(`"Output":"s3://lake/js"`)) }) {
			t.Errorf("job %s: the output's location is not found in the pipeline: the check below would prove nothing", j.GetJobId())
		}
		for _, secret := range []string{srv.SecretKey, srv.AccessKey} {
			if slices.ContainsFunc(layers, func(b []byte) bool { return bytes.Contains(b, []byte(secret)) }) {
				t.Errorf("job %s: the serialized pipeline or its options hold a credential", j.GetJobId())
			}
		}
	}
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)

// unwrapBase64 returns b and what every base64 run in it decodes to, depth layers down.
func unwrapBase64(b []byte, depth int) [][]byte {
	out := [][]byte{b}
	if depth == 0 {
		return out
	}
	for _, run := range base64Run.FindAll(b, -1) {
		if d, err := base64.StdEncoding.DecodeString(string(run)); err == nil {
			out = append(out, unwrapBase64(d, depth-1)...)
		}
	}
	return out
}

// lockedBuffer is a bytes.Buffer that a process's output and the test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func signalNotify(c chan os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

func stderrLogger() *slog.Logger { return slog.New(slog.NewTextHandler(os.Stderr, nil)) }

// TestJobServerNoPool: a run whose worker pool does not answer is refused before anything is
// submitted, with one line saying how to start the pool; the job server (which would crash on
// such a job) keeps serving.
func TestJobServerNoPool(t *testing.T) {
	prism := testserver.StartPrism(t)
	js := &jobServer{prism: prism.Endpoint, pool: testserver.FreeAddr(t), log: &lockedBuffer{}}
	out := t.TempDir()
	_, err := runJobServer(t, js, "../localengine/testdata/songs", "../localengine/testdata/logs", out, 0.2)
	if !errors.Is(err, ErrNoWorkerPool) {
		t.Fatalf("got %v, want ErrNoWorkerPool", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "sparkify worker-pool --listen "+js.pool) {
		t.Errorf("want one line saying how to start the pool, got %q", msg)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("the refused run wrote %v", entries)
	}
	if err := workerpool.Answers(prism.Endpoint, 5*time.Second); err != nil {
		t.Fatalf("the job server stopped: %v", err)
	}
}
