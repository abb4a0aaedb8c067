package beamengine

import (
	"errors"
	"flag"
	"io/fs"
	"testing"

	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/source"
)

// A failure as Prism reports it: the plan that ran, then the chain of causes.
const prismFailure = `job job-001 failed:
bundle inst003 stage-011 failed:process bundle failed for instruction inst003 using plan stage-011 : while executing Process for Plan[stage-011]:
1: DataSource[S[stage-011_source@localhost:37729], i0] Out:16 Coder:W;cwv_n2<LP;c2_lp<R[source.File]>>!GWC
16: ParDo[beamengine.decodeSongsFn] Out:[13 14] Sig: func(context.Context, source.File, func(record.Song), func(record.Reject)) error, SideInputs: []
	caused by:
source failed processing data
	caused by:
DoFn[UID:16, PID:e4, Name: github.com/sparkify/lake/internal/beamengine.decodeSongsFn] failed:
`

func TestPipelineFailure(t *testing.T) {
	tests := []struct {
		name, text, want string
		kind             error
	}{
		{"unreadable input", prismFailure + "unreadable input file: /data/x.json.gz: unexpected EOF",
			"beam pipeline failed on prism: unreadable input file: /data/x.json.gz: unexpected EOF", source.ErrUnreadable},
		{"missing file", prismFailure + "open /data/a.json: file does not exist",
			"beam pipeline failed on prism: open /data/a.json: file does not exist", fs.ErrNotExist},
		{"id collision", prismFailure + "songplay_id collision: 42 is the id of 2 plays",
			"beam pipeline failed on prism: songplay_id collision: 42 is the id of 2 plays", run.ErrDuplicateID},
		{"no chain of causes", "job server unreachable:\n  connection refused",
			"beam pipeline failed on prism: job server unreachable: connection refused", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pipelineFailure("prism", errors.New(tt.text))
			if err.Error() != tt.want {
				t.Errorf("got %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, ErrPipeline) {
				t.Error("not ErrPipeline")
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("not %v", tt.kind)
			}
			for _, k := range causeKinds {
				if k != tt.kind && errors.Is(err, k) && (tt.kind == nil || !errors.Is(tt.kind, k)) {
					t.Errorf("wrongly %v", k)
				}
			}
		})
	}
}

func TestIsWorker(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"etl", "--engine", "beam"}, false},
		{[]string{"--worker", "--id=1", "--control_endpoint=localhost:1"}, true},
		{[]string{"-worker=true"}, true},
		{[]string{"etl", "worker"}, false},
		{[]string{"--worker=true", "--id=1"}, true},
	} {
		if got := IsWorker(tt.args); got != tt.want {
			t.Errorf("IsWorker(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestNameJob: a run to a job server names its job after the run, in lower case (Dataflow's
// rule); a name the user gave, or a run without a job server, is left alone, and is then never
// cancelled by name.
func TestNameJob(t *testing.T) {
	// Beam's flags are the process's: an earlier in-process Prism run has set endpoint to its
	// server. Each is put back as it was.
	set := func(name, v string) {
		t.Helper()
		was := flag.Lookup(name).Value.String()
		if err := SetRunnerFlag(name, v); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { SetRunnerFlag(name, was) })
	}
	set("endpoint", "")
	set("job_name", "")
	if name, reset := nameJob("20261130T173234Z-C5398eb1"); name != "" {
		reset()
		t.Errorf("without a job server: named %q", name)
	}
	set("endpoint", "localhost:8073")
	name, reset := nameJob("20261130T173234Z-C5398eb1")
	if name != "sparkify-20261130t173234z-c5398eb1" || flag.Lookup("job_name").Value.String() != name {
		t.Errorf("named %q (flag %q)", name, flag.Lookup("job_name").Value.String())
	}
	reset()
	if v := flag.Lookup("job_name").Value.String(); v != "" {
		t.Errorf("job_name %q after the run", v)
	}
	set("job_name", "nightly")
	if name, _ := nameJob("r"); name != "" || flag.Lookup("job_name").Value.String() != "nightly" {
		t.Errorf("the user's job name: got %q, flag %q", name, flag.Lookup("job_name").Value.String())
	}
}
