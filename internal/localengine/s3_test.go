package localengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
	"github.com/sparkify/lake/internal/testserver"
)

// s3env is a running S3 server holding the shared sample data under s3://input/.
type s3env struct {
	srv    *testserver.S3
	client *s3.Client
}

func newS3Env(t *testing.T, data string) *s3env {
	t.Helper()
	srv := testserver.StartS3(t)
	for _, b := range []string{"input", "lake"} {
		srv.CreateBucket(t, b)
	}
	cl, err := s3.NewClient(context.Background(), s3.Config{
		Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &s3env{srv: srv, client: cl}
	if data != "" {
		upload(t, data, cl.Store(s3.URL{Bucket: "input"}))
	}
	return e
}

// upload copies a local folder into a store.
func upload(t *testing.T, dir string, st storage.Store) {
	t.Helper()
	local, _ := storage.NewLocal(dir)
	ctx := context.Background()
	err := local.List(ctx, "", func(o storage.Object) error {
		return storage.Copy(ctx, local, o.Name, st, o.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// download copies every object of a store into a new local folder.
func download(t *testing.T, st storage.Store) string {
	t.Helper()
	dir := t.TempDir()
	local, _ := storage.NewLocal(dir)
	ctx := context.Background()
	if err := st.List(ctx, "", func(o storage.Object) error {
		return storage.Copy(ctx, st, o.Name, local, o.Name)
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (e *s3env) root(t *testing.T, url string) *source.Root {
	t.Helper()
	r, err := source.Resolve(context.Background(), url, func(u string) (storage.Store, error) {
		pu, err := s3.ParseURL(u)
		if err != nil {
			return nil, err
		}
		return e.client.Store(pu), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func localRoot(t *testing.T, path string) *source.Root {
	t.Helper()
	r, err := source.Resolve(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkFigures(t *testing.T, m *report.Manifest) {
	t.Helper()
	want := map[string]int64{"songplays": 6820, "users": 97, "songs": 71, "artists": 69, "time": 6813}
	for table, rows := range want {
		if got := m.Tables[table].Rows; got != rows {
			t.Errorf("%s: got %d rows, want %d", table, got, rows)
		}
	}
	if m.Matched != 1 || m.Inputs["events"].Read != 8056 || m.Inputs["songs"].Read != 71 || m.Rejected.Rows != 0 {
		t.Errorf("got matched %d, events %d, songs %d, rejected %d; want 1, 8056, 71, 0",
			m.Matched, m.Inputs["events"].Read, m.Inputs["songs"].Read, m.Rejected.Rows)
	}
}

// TestS3EndToEnd runs S3 → S3, S3 → local and local → S3 on the shared sample and checks that
// every combination writes exactly the tables of a local run, byte for byte.
func TestS3EndToEnd(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data := lakecheck.SharedData(t)
	env := newS3Env(t, data)
	ref := t.TempDir()
	if _, err := runLocal(t, filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), ref, nil); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref, true)

	run := func(t *testing.T, songs, logs *source.Root, out storage.Store) *report.Manifest {
		t.Helper()
		m, err := Run(context.Background(), Options{
			Songs: songs, Logs: logs, Output: out, Workers: 2, MaxRejectedRatio: 0.01,
			Sink: sink.Options{Version: "test"}, Retries: env.client.Retries, Requests: env.client.Requests,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkFigures(t, m)
		return m
	}
	t.Run("s3 to s3, twice", func(t *testing.T) {
		out := env.client.Store(s3.URL{Bucket: "lake", Key: "s3s3"})
		m1 := run(t, env.root(t, "s3://input/song_data"), env.root(t, "s3a://input/log_data/"), out)
		first := download(t, out)
		sameSnapshot(t, snapshot(t, first, true), want)
		m2 := run(t, env.root(t, "s3://input/song_data/*/*/*/*.json"), env.root(t, "s3://input/log_data"), out)
		sameSnapshot(t, snapshot(t, download(t, out), true), want)
		// The requests are the client's, which both runs share: the second run's figures
		// include the first's. It wrote the same tables, so it copied nothing into place.
		if m1.Requests["GetObject"] < 71 || m1.Requests["PutObject"] == 0 || m1.Requests["CopyObject"] == 0 {
			t.Errorf("first run's requests: %v", m1.Requests)
		}
		if m2.Requests["PutObject"] <= m1.Requests["PutObject"] || m2.Requests["CopyObject"] != m1.Requests["CopyObject"] {
			t.Errorf("the second run, with the same tables, made copies: requests %v after %v", m2.Requests, m1.Requests)
		}
		if b, err := os.ReadFile(filepath.Join(first, commit.ManifestFile)); err != nil || !strings.Contains(string(b), `"storage_requests"`) {
			t.Errorf("the published manifest has no storage_requests (%v)", err)
		}
		for _, f := range []string{commit.SuccessFile, commit.ManifestFile} {
			if _, err := os.Stat(filepath.Join(first, f)); err != nil {
				t.Errorf("%s missing on S3", f)
			}
		}
		if ok, _ := storage.Exists(context.Background(), out, commit.StagingDir); ok {
			t.Error("staging left on S3")
		}
	})
	t.Run("s3 to local", func(t *testing.T) {
		out := t.TempDir()
		st, _ := storage.NewLocal(out)
		run(t, env.root(t, "s3://input/song_data"), env.root(t, "s3://input/log_data"), st)
		sameSnapshot(t, snapshot(t, out, true), want)
	})
	t.Run("local to s3", func(t *testing.T) {
		out := env.client.Store(s3.URL{Bucket: "lake", Key: "local-s3"})
		run(t, localRoot(t, filepath.Join(data, "song_data")), localRoot(t, filepath.Join(data, "log_data")), out)
		sameSnapshot(t, snapshot(t, download(t, out), true), want)
	})
}

// faultyObjects is a faultyStore seen as an object store: it cannot rename, and copies server-side.
type faultyObjects struct {
	storage.Store
	f *faultyStore
}

func (s faultyObjects) CopyObject(ctx context.Context, from, to string) error {
	if err := s.f.check("copy", from); err != nil {
		return err
	}
	return s.f.Store.Features().CopyObject(ctx, from, to)
}

// Features are those of an object store: no Move, and CopyObject through the fault check.
func (s faultyObjects) Features() storage.Features {
	feat := s.f.Features()
	feat.Move, feat.CopyObject = nil, s.CopyObject
	return feat
}

// TestS3FailedRunLeavesTablesIntact injects faults while staging and while publishing to S3.
func TestS3FailedRunLeavesTablesIntact(t *testing.T) {
	env := newS3Env(t, "")
	ctx := context.Background()
	songs, logs, logs2 := "testdata/songs", "testdata/logs", "testdata/logs2"
	ref := t.TempDir()
	if _, err := runLocal(t, songs, logs2, ref, nil); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref, true)
	cases := []struct {
		name       string
		fail       func(op, name string, n int64) bool
		rollsAhead bool // the fault is past the commit point: recovery publishes the new run
	}{
		{"while staging a table", func(op, name string, _ int64) bool { return op == "create" && strings.Contains(name, "/songs/") }, false},
		{"writing the commit marker", func(op, name string, _ int64) bool { return op == "create" && strings.HasSuffix(name, "_COMMIT") }, false},
		{"copying a table into place", func(op, name string, _ int64) bool { return op == "copy" && strings.Contains(name, "/time/") }, true},
		{"removing the staging", func(op, name string, _ int64) bool { return op == "remove" && strings.HasSuffix(name, "/songplays") }, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := env.client.Store(s3.URL{Bucket: "lake", Key: "fault" + string(rune('a'+i))})
			o := Options{Songs: localRoot(t, songs), Logs: localRoot(t, logs), Output: out, MaxRejectedRatio: 0.01, Sink: sink.Options{Version: "test"}}
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, download(t, out), false)
			f := &faultyStore{Store: out, fail: tc.fail}
			o.Logs, o.Output = localRoot(t, logs2), faultyObjects{Store: f, f: f}
			if _, err := Run(ctx, o); !errors.Is(err, errInjected) {
				t.Fatalf("got %v, want the injected fault", err)
			}
			if !tc.rollsAhead {
				sameSnapshot(t, snapshot(t, download(t, out), false), before)
			}
			// The next run (its recovery, then its own work) ends with exactly input B's tables.
			o.Output = out
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, snapshot(t, download(t, out), true), want)
		})
	}
}

// BenchmarkS3ManySmallObjects lists and decodes 15,000 one-song objects (the size of the real
// song_data) through a proxy that adds 20 ms to every request, about what S3 gives from inside
// its region. It reports objects/s; one request at a time would give at most 50/s.
//
//	go test -run '^$' -bench S3ManySmallObjects -benchtime 1x ./internal/localengine
//
// SPARKIFY_BENCH_S3_CONCURRENCY and SPARKIFY_BENCH_S3_OBJECTS change the requests in flight and the
// number of objects.
func BenchmarkS3ManySmallObjects(b *testing.B) {
	n := 15000
	if v, err := strconv.Atoi(os.Getenv("SPARKIFY_BENCH_S3_OBJECTS")); err == nil {
		n = v
	}
	srv := testserver.StartS3(b)
	srv.CreateBucket(b, "catalog")
	// Objects are written straight into the gateway's folder: setting up through the API would
	// take longer than the measurement.
	dir := filepath.Join(srv.Dir, "catalog", "song_data")
	for i := range n {
		p := filepath.Join(dir, string(rune('A'+i%26)), string(rune('A'+i/26%26)), fmt.Sprintf("TR%016d.json", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		song := fmt.Sprintf(`{"num_songs": 1, "artist_id": "AR%016d", "artist_latitude": null, "artist_longitude": null, "artist_location": "", "artist_name": "Artist %d", "song_id": "SO%016d", "title": "Song %d", "duration": 200.5, "year": 0}`, i%5000, i%5000, i, i)
		if err := os.WriteFile(p, []byte(song), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	proxy := testserver.StartProxy(b, strings.TrimPrefix(srv.Endpoint, "http://"))
	proxy.AddLatency(b, 20*time.Millisecond)
	conc, _ := strconv.Atoi(os.Getenv("SPARKIFY_BENCH_S3_CONCURRENCY")) // 0: the default
	cl, err := s3.NewClient(context.Background(), s3.Config{
		Endpoint: "http://" + proxy.Addr, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
		Concurrency: conc,
	})
	if err != nil {
		b.Fatal(err)
	}
	songs, err := source.Resolve(context.Background(), "s3://catalog/song_data", func(u string) (storage.Store, error) {
		pu, err := s3.ParseURL(u)
		return cl.Store(pu), err
	})
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Songs: songs, Workers: 2, Progress: &report.Progress{}}
	b.ResetTimer()
	for b.Loop() {
		files, err := songs.Scan(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		_, st, err := readFiles(context.Background(), o, slog.New(slog.DiscardHandler), songs, files, decodeSongs)
		if err != nil {
			b.Fatal(err)
		}
		if st.Kept != int64(n) {
			b.Fatalf("decoded %d songs, want %d", st.Kept, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(cl.Retries()), "retries")
}

// TestS3FaultsThroughProxy runs against S3 through a real TCP proxy that adds latency, cuts
// connections mid-transfer, or stops answering. Each run must either succeed, with exactly the
// new tables, or fail with the previous tables intact: never a partial table.
func TestS3FaultsThroughProxy(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	env := newS3Env(t, "")
	ctx := context.Background()
	direct := env.client.Store(s3.URL{Bucket: "input"})
	upload(t, "testdata/songs", direct.Sub("songs"))
	upload(t, "testdata/logs", direct.Sub("logsA"))
	upload(t, "testdata/logs2", direct.Sub("logsB"))
	refA, refB := t.TempDir(), t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", refA, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", refB, nil); err != nil {
		t.Fatal(err)
	}
	wantA, wantB := snapshot(t, refA, true), snapshot(t, refB, true)

	proxy := testserver.StartProxy(t, strings.TrimPrefix(env.srv.Endpoint, "http://"))
	// Runs that must fail give up after 3 attempts, to fail fast; a run that must get through
	// resets now and then has the default 5: with a file per day it sends hundreds of requests,
	// and 3 attempts on pooled connections that are each near their reset is a matter of luck.
	client := func(attempts int) *s3.Client {
		c, err := s3.NewClient(ctx, s3.Config{
			Endpoint: "http://" + proxy.Addr, Region: env.srv.Region,
			AccessKeyID: env.srv.AccessKey, SecretAccessKey: env.srv.SecretKey,
			MaxAttempts: attempts, ReadTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	impatient, patient := client(3), client(0)
	runB := func(t *testing.T, viaProxy *s3.Client, out storage.Store) error {
		t.Helper()
		remote := func(u string) (storage.Store, error) {
			pu, err := s3.ParseURL(u)
			return viaProxy.Store(pu), err
		}
		songs, err := source.Resolve(ctx, "s3://input/songs", remote)
		if err != nil {
			return err
		}
		logs, err := source.Resolve(ctx, "s3://input/logsB", remote)
		if err != nil {
			return err
		}
		_, err = Run(ctx, Options{Songs: songs, Logs: logs, Output: out, MaxRejectedRatio: 0.01, Sink: sink.Options{Version: "test"}})
		return err
	}
	cases := []struct {
		name       string
		toxic      func(t *testing.T)
		mustFinish bool
	}{
		{"latency", func(t *testing.T) { proxy.AddLatency(t, 30*time.Millisecond) }, true},
		{"connections reset now and then", func(t *testing.T) { proxy.ResetPeer(t, 8000) }, true},
		{"connections reset mid-transfer", func(t *testing.T) { proxy.ResetPeer(t, 1500) }, false},
		{"server stops answering", func(t *testing.T) { proxy.Timeout(t) }, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("proxy%d", i)
			// Publish input A's tables directly, then run input B through the faulty proxy.
			o := Options{Songs: localRoot(t, "testdata/songs"), Logs: localRoot(t, "testdata/logs"),
				Output: env.client.Store(s3.URL{Bucket: "lake", Key: key}), MaxRejectedRatio: 0.01, Sink: sink.Options{Version: "test"}}
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			tc.toxic(t)
			start := time.Now()
			viaProxy := impatient
			if tc.mustFinish {
				viaProxy = patient
			}
			err := runB(t, viaProxy, viaProxy.Store(s3.URL{Bucket: "lake", Key: key}))
			proxy.Clear(t)
			got := snapshot(t, download(t, env.client.Store(s3.URL{Bucket: "lake", Key: key})), true)
			switch {
			case err == nil:
				sameSnapshot(t, got, wantB)
			case tc.mustFinish:
				t.Fatalf("run through %s failed: %v", tc.name, err)
			default:
				t.Logf("run failed cleanly after %s: %v", time.Since(start).Round(time.Millisecond), err)
				if strings.Contains(err.Error(), "is committed") {
					// Past the commit point: the next run finishes it.
					if _, err := commit.Recover(ctx, env.client.Store(s3.URL{Bucket: "lake", Key: key})); err != nil {
						t.Fatal(err)
					}
					sameSnapshot(t, snapshot(t, download(t, env.client.Store(s3.URL{Bucket: "lake", Key: key})), true), wantB)
				} else {
					sameSnapshot(t, got, wantA)
				}
			}
		})
	}
}

// TestS3OneWriter: on S3 the lock is a conditional PutObject (If-None-Match, If-Match): a run on
// an output another run holds fails at once touching nothing, and runs once it is released.
func TestS3OneWriter(t *testing.T) {
	env := newS3Env(t, "")
	out := env.client.Store(s3.URL{Bucket: "lake", Key: "locked"})
	holder, err := run.Acquire(context.Background(), out, "holder", run.LockOptions{Command: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Songs: localRoot(t, "testdata/songs"), Logs: localRoot(t, "testdata/logs"), Output: out,
		Workers: 2, MaxRejectedRatio: 0.01, Sink: sink.Options{Version: "test"}}
	if _, err := Run(context.Background(), o); !errors.Is(err, run.ErrLocked) || !strings.Contains(err.Error(), "holder") {
		t.Fatalf("run on a held S3 output: got %v, want ErrLocked naming the holder", err)
	}
	var names []string
	out.List(context.Background(), "", func(obj storage.Object) error { names = append(names, obj.Name); return nil })
	if len(names) != 1 || names[0] != run.LockFile {
		t.Errorf("the refused run wrote to the output: %v", names)
	}
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("run after release: %v", err)
	}
	if _, held, err := run.Inspect(context.Background(), out); err != nil || held {
		t.Errorf("lock after the run: held=%v err=%v", held, err)
	}
}
