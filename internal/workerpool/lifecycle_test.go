//go:build unix

package workerpool

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// The test binary is also the worker: with envChild set it writes what it was started with to
// the file it names, then waits, ignoring SIGTERM when asked to (a worker stuck in its job).
const (
	envChild      = "WORKERPOOL_TEST_CHILD"
	envChildStuck = "WORKERPOOL_TEST_STUCK"
)

func TestMain(m *testing.M) {
	if out := os.Getenv(envChild); out != "" {
		if os.Getenv(envChildStuck) != "" {
			signal.Ignore(syscall.SIGTERM)
		}
		opts, _ := os.ReadFile(os.Getenv("PIPELINE_OPTIONS_FILE"))
		b, _ := json.Marshal(map[string]any{
			"args": os.Args[1:], "options": string(opts), "caps": os.Getenv("RUNNER_CAPABILITIES"), "secret": os.Getenv("POOL_SECRET"),
		})
		os.WriteFile(out+".tmp", b, 0o644)
		os.Rename(out+".tmp", out)
		select {}
	}
	os.Exit(m.Run())
}

// provision is a runner's provision service: it answers only a caller that names the worker.
type provision struct {
	fnpb.UnimplementedProvisionServiceServer
	id string
}

func (p *provision) GetProvisionInfo(ctx context.Context, _ *fnpb.GetProvisionInfoRequest) (*fnpb.GetProvisionInfoResponse, error) {
	if id, err := grpcx.ReadWorkerID(ctx); err != nil || id != p.id {
		return nil, err
	}
	opts, _ := structpb.NewStruct(map[string]any{"beam:option:go_options:v1": map[string]any{"options": map[string]any{"job_name": "j1"}}})
	return &fnpb.GetProvisionInfoResponse{Info: &fnpb.ProvisionInfo{PipelineOptions: opts, RunnerCapabilities: []string{"cap:a", "cap:b"}}}, nil
}

// TestWorkerLifecycle starts a worker through the protocol, checks the command line and
// environment it got, and stops it: at once when it obeys SIGTERM, after the grace period when
// it does not.
func TestWorkerLifecycle(t *testing.T) {
	for _, stuck := range []bool{false, true} {
		t.Run(map[bool]string{false: "obeys SIGTERM", true: "ignores SIGTERM"}[stuck], func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			fnpb.RegisterProvisionServiceServer(srv, &provision{id: "job-001_go"})
			go srv.Serve(l)
			t.Cleanup(srv.Stop)

			out := filepath.Join(t.TempDir(), "started.json")
			env := []string{envChild + "=" + out, "POOL_SECRET=s3cr3t"}
			if stuck {
				env = append(env, envChildStuck+"=1")
			}
			p, err := New(Options{Command: []string{os.Args[0]}, Env: env, Grace: 300 * time.Millisecond, ProvisionTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ep := &pipepbDescriptor{l.Addr().String()}
			resp, err := p.StartWorker(t.Context(), &fnpb.StartWorkerRequest{
				WorkerId: "job-001_go", ControlEndpoint: ep.d(), LoggingEndpoint: ep.d(), ProvisionEndpoint: ep.d(), ArtifactEndpoint: ep.d(),
			})
			if err != nil || resp.GetError() != "" {
				t.Fatalf("start: %v %q", err, resp.GetError())
			}
			var got struct {
				Args                  []string
				Options, Caps, Secret string
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				if b, err := os.ReadFile(out); err == nil {
					if err := json.Unmarshal(b, &got); err != nil {
						t.Fatal(err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the worker did not start")
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, want := range []string{"--worker=true", "--id=job-001_go", "--control_endpoint=" + ep.addr, "--logging_endpoint=" + ep.addr} {
				if !slices.Contains(got.Args, want) {
					t.Errorf("worker args %v lack %s", got.Args, want)
				}
			}
			if !strings.Contains(got.Options, `"job_name":"j1"`) || got.Caps != "cap:a cap:b" || got.Secret != "s3cr3t" {
				t.Errorf("worker got options %q, capabilities %q, secret %q", got.Options, got.Caps, got.Secret)
			}
			if r := p.Running(); len(r) != 1 {
				t.Fatalf("running: %v", r)
			}

			start := time.Now()
			if _, err := p.StopWorker(t.Context(), &fnpb.StopWorkerRequest{WorkerId: "job-001_go"}); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if r := p.Running(); len(r) != 0 {
				t.Errorf("after StopWorker, running: %v", r)
			}
			// The grace period is the line between the two cases: a worker that obeys is gone
			// before it, one that does not is killed at its end.
			if stuck && took < 300*time.Millisecond {
				t.Errorf("a worker ignoring SIGTERM stopped in %v, before the grace period", took)
			}
		})
	}
}

type pipepbDescriptor struct{ addr string }

func (e *pipepbDescriptor) d() *pipepb.ApiServiceDescriptor {
	return &pipepb.ApiServiceDescriptor{Url: e.addr}
}
