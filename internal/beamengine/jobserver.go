package beamengine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparkify/lake/internal/workerpool"
)

// A launcher submits to a job server (--endpoint) and then only watches the job: when it is
// interrupted, Beam's launcher stops watching but leaves the job running, its workers still
// writing to a staging folder that nobody will publish. So the launcher names its job after its
// run, and cancels the job of that name when the run is interrupted.

// nameJob sets Beam's job_name to one made of the run's id, for this run only, when the run goes
// to a job server and the user gave no name; name is "" otherwise, and then no job is cancelled
// by name: a name the user chose may be another run's too. The name is lower case, as Dataflow
// requires of its job names.
func nameJob(runID string) (name string, reset func()) {
	f := flag.Lookup("job_name")
	if f == nil || f.Value.String() != "" || jobEndpoint() == "" {
		return "", func() {}
	}
	name = strings.ToLower("sparkify-" + runID)
	if err := f.Value.Set(name); err != nil {
		return "", func() {}
	}
	return name, func() { _ = f.Value.Set("") }
}

// cancelJob asks the job server at endpoint to cancel the jobs named name that have not ended.
// It is best effort, bounded by a few seconds: the run has failed already, and the output is
// safe either way (nothing publishes an interrupted run's staging).
func cancelJob(endpoint, name string) (cancelled []string, err error) {
	if endpoint == "" || name == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", name, err)
	}
	defer conn.Close()
	jc := jobpb.NewJobServiceClient(conn)
	jobs, err := jc.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: list the jobs of %s: %w", name, endpoint, err)
	}
	for _, j := range jobs.GetJobInfo() {
		if j.GetJobName() != name || ended(j.GetState()) {
			continue
		}
		if _, err := jc.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.GetJobId()}); err != nil {
			return cancelled, fmt.Errorf("cancel job %s (%s): %w", name, j.GetJobId(), err)
		}
		cancelled = append(cancelled, j.GetJobId())
	}
	return cancelled, nil
}

func ended(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}

// jobEndpoint is the job server the run submits to: --endpoint, or the server of Prism in this
// process once a run has started it (Beam's Prism runner sets the flag to it); "" before.
func jobEndpoint() string {
	if f := flag.Lookup("endpoint"); f != nil {
		return f.Value.String()
	}
	return ""
}

// ErrNoWorkerPool is the cause of a run refused because the worker pool it names
// (environment_type=EXTERNAL, environment_config=HOST:PORT) does not answer.
var ErrNoWorkerPool = errors.New("the worker pool does not answer")

// checkWorkerPool refuses to submit a job whose worker pool, on this machine, does not answer,
// when its job server is on this machine too (or is Prism in this process): Prism crashes when it
// cannot start a job's worker (it panics), and other runners fail the job minutes later. A pool
// on other hosts (each Flink task manager's own, at 127.0.0.1 there) cannot be checked from
// here, and is not.
func checkWorkerPool(runner string) error {
	cfg := flag.Lookup("environment_config")
	if cfg == nil || !externalWorkers() {
		return nil
	}
	pool := cfg.Value.String()
	if pool == "" {
		return fmt.Errorf("environment_type=EXTERNAL needs --beam-opt environment_config=HOST:PORT, the address of a worker pool (sparkify worker-pool): %w", ErrNoWorkerPool)
	}
	inProcess := runner == "prism" && jobEndpoint() == ""
	if !(inProcess || loopback(jobEndpoint())) || !loopback(pool) {
		return nil
	}
	if err := workerpool.Answers(pool, 5*time.Second); err != nil {
		return fmt.Errorf("%w at %s (%v): start it first with `sparkify worker-pool --listen %s`", ErrNoWorkerPool, pool, err, pool)
	}
	return nil
}

// externalWorkers reports whether the run's workers come from a worker pool
// (environment_type=EXTERNAL), which runs its own sparkify.
func externalWorkers() bool {
	env := flag.Lookup("environment_type")
	return env != nil && strings.EqualFold(env.Value.String(), "external")
}

// loopback reports whether a HOST:PORT names this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
