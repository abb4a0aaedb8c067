package beamengine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
	"github.com/sparkify/lake/internal/testserver"
)

// copyTree copies every object of one store into another.
func copyTree(t *testing.T, from, to storage.Store) {
	t.Helper()
	ctx := context.Background()
	if err := from.List(ctx, "", func(o storage.Object) error { return storage.Copy(ctx, from, o.Name, to, o.Name) }); err != nil {
		t.Fatal(err)
	}
}

// s3Fixture is a real S3 server holding generated dirty data under s3://input/, with an empty
// bucket lake, a client with the server's keys, and the local engine's output on the same data.
type s3Fixture struct {
	srv       *testserver.S3
	cl        *s3.Client
	reference string           // the local engine's output
	lm        *report.Manifest // and its manifest
}

func newS3Fixture(t *testing.T) *s3Fixture {
	t.Helper()
	srv := testserver.StartS3(t)
	for _, b := range []string{"input", "lake"} {
		srv.CreateBucket(t, b)
	}
	ctx := context.Background()
	cl, err := s3.NewClient(ctx, s3.Config{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if _, err := gen.WriteDir(ctx, data, gen.Options{Songs: 200, Events: 3_000, Users: 30, Days: 35, Seed: 9, MatchShare: 0.5, Dirty: true}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"song_data", "log_data"} {
		local, _ := storage.NewLocal(filepath.Join(data, d))
		copyTree(t, local, cl.Store(s3.URL{Bucket: "input", Key: d}))
	}
	f := &s3Fixture{srv: srv, cl: cl, reference: t.TempDir()}
	f.lm = runLocal(t, filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), f.reference, 0.2)
	return f
}

// open resolves an s3:// location with the fixture's client.
func (f *s3Fixture) open(u string) (storage.Store, error) {
	pu, err := s3.ParseURL(u)
	return f.cl.Store(pu), err
}

// roots opens the inputs and the output out (an s3:// URL) for a launcher.
func (f *s3Fixture) roots(t *testing.T, out string) (songs, logs *source.Root, st storage.Store) {
	t.Helper()
	ctx := context.Background()
	songs, err1 := source.Resolve(ctx, "s3://input/song_data", f.open)
	logs, err2 := source.Resolve(ctx, "s3://input/log_data", f.open)
	st, err3 := f.open(out)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	return songs, logs, st
}

// check compares what the Beam engine published in st with the local engine's output.
func (f *s3Fixture) check(t *testing.T, st storage.Store, bm *report.Manifest) {
	t.Helper()
	got := t.TempDir()
	gotStore, _ := storage.NewLocal(got)
	copyTree(t, st, gotStore)
	sameOutput(t, f.reference, got)
	bm.Inputs["songs"], bm.Inputs["events"] = withRoot(bm, "songs", f.lm.Inputs["songs"].Root), withRoot(bm, "events", f.lm.Inputs["events"].Root)
	sameFigures(t, f.lm, bm)
}

// TestS3 reads both inputs from S3 and publishes to S3 on Beam, against a real S3 server: once
// with the launcher's stores lent to the in-process workers, once the way a worker on another
// machine runs, opening the stores from the pipeline's Config with credentials from its
// environment. Both must publish the local engine's bytes.
func TestS3(t *testing.T) {
	f := newS3Fixture(t)
	ctx := context.Background()
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "launcher's stores", false: "worker's own stores"}[shared]
		t.Run(name, func(t *testing.T) {
			shareStores = shared
			defer func() { shareStores = true }()
			if !shared {
				// What a remote worker has: its environment, not the launcher's dl.cfg.
				t.Setenv("AWS_ACCESS_KEY_ID", f.srv.AccessKey)
				t.Setenv("AWS_SECRET_ACCESS_KEY", f.srv.SecretKey)
			}
			out := "s3://lake/" + map[bool]string{true: "a", false: "b"}[shared]
			songs, logs, st := f.roots(t, out)
			bm, err := Run(ctx, Options{
				Config: Config{
					Songs: "s3://input/song_data", Logs: "s3://input/log_data", Output: out,
					S3:   S3Config{Endpoint: f.srv.Endpoint, Region: f.srv.Region},
					Sink: sink.Options{Version: "test"},
				},
				SongsRoot: songs, LogsRoot: logs, OutputStore: st, MaxRejectedRatio: 0.2,
			})
			if err != nil {
				t.Fatal(err)
			}
			f.check(t, st, bm)
		})
	}
}

// withRoot returns an input's figures as if read from root, to compare runs on other locations.
func withRoot(m *report.Manifest, name, root string) report.Input {
	in := m.Inputs[name]
	in.Root = root
	return in
}
