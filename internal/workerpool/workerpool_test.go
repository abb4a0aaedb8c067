package workerpool

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func url(u string) *pipepb.ApiServiceDescriptor { return &pipepb.ApiServiceDescriptor{Url: u} }

// serve runs a pool on a loopback port and returns a client of it.
func serve(t *testing.T) (*Pool, fnpb.BeamFnExternalWorkerPoolClient) {
	t.Helper()
	p, err := New(Options{Command: []string{"/bin/true"}, ProvisionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return p, fnpb.NewBeamFnExternalWorkerPoolClient(conn)
}

// TestStartWorkerRefuses: requests a worker could not run from are answered with an error that
// says why, over the protocol, and start nothing.
func TestStartWorkerRefuses(t *testing.T) {
	p, c := serve(t)
	// A provision endpoint where nothing listens: the pool cannot learn the pipeline's options.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		req  *fnpb.StartWorkerRequest
		want string
	}{
		{"no id", &fnpb.StartWorkerRequest{ControlEndpoint: url("x:1"), ProvisionEndpoint: url("x:1")}, "no worker id"},
		{"no control endpoint", &fnpb.StartWorkerRequest{WorkerId: "w", ProvisionEndpoint: url("x:1")}, "no control endpoint"},
		{"no provision endpoint", &fnpb.StartWorkerRequest{WorkerId: "w", ControlEndpoint: url("x:1")}, "no provision endpoint"},
		{"provision unreachable", &fnpb.StartWorkerRequest{WorkerId: "w", ControlEndpoint: url(dead), ProvisionEndpoint: url(dead), LoggingEndpoint: url(dead)}, "provision info from " + dead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			resp, err := c.StartWorker(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(resp.GetError(), tc.want) {
				t.Errorf("error %q, want it to say %q", resp.GetError(), tc.want)
			}
			if r := p.Running(); len(r) != 0 {
				t.Errorf("workers running: %v", r)
			}
		})
	}
}

// TestStopUnknownWorker: stopping a worker the pool does not know (one that exited already) is
// not an error.
func TestStopUnknownWorker(t *testing.T) {
	_, c := serve(t)
	if _, err := c.StopWorker(context.Background(), &fnpb.StopWorkerRequest{WorkerId: "gone"}); err != nil {
		t.Fatal(err)
	}
}
