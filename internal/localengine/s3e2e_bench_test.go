package localengine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
	"github.com/sparkify/lake/internal/testserver"
)

// BenchmarkS3EndToEnd runs the whole ETL from versitygw, through a proxy that adds 20 ms to
// every response (about what S3 gives inside its region), into versitygw, and the same run on
// local disk beside it, and reports both with their ratio, objects/s and MB/s (inputs read plus
// tables written, over the S3 run's wall time), each phase of the S3 run and the requests it
// made. The S3 run is then repeated over the lake it wrote, as a daily full run is (s3-again).
//
// The gateway and the proxy share the machine's cores with the pipeline, so for each S3 run the
// CPU time of each of the three processes is reported too (s3-self-cpu-s, s3-gw-cpu-s,
// s3-proxy-cpu-s, and s3-again-*), with the local run's (local-cpu-s): the servers' share is
// CPU that real S3 would not take from the pipeline. A figure that cannot be read (the servers'
// are read from /proc, Linux only) is logged and left out.
//
//	SPARKIFY_BENCH_S3_DATA=/tmp/sparkify-bench/S go test -run '^$' -bench S3EndToEnd -benchtime 1x ./internal/localengine
//
// SPARKIFY_BENCH_S3_DATA is a folder with song_data and log_data (the harness's generated
// sizes); without it a small generated set is used. SPARKIFY_BENCH_S3_LATENCY changes the
// latency (a Go duration), SPARKIFY_BENCH_S3_CONCURRENCY the requests in flight.
func BenchmarkS3EndToEnd(b *testing.B) {
	ctx := context.Background()
	data := os.Getenv("SPARKIFY_BENCH_S3_DATA")
	if data == "" {
		data = b.TempDir()
		if _, err := gen.WriteDir(ctx, data, gen.Options{Songs: 2000, Events: 50_000, Users: 500, Days: 30, Seed: 7, MatchShare: 0.3}); err != nil {
			b.Fatal(err)
		}
	}
	latency := 20 * time.Millisecond
	if v := os.Getenv("SPARKIFY_BENCH_S3_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("SPARKIFY_BENCH_S3_LATENCY: %v", err)
		}
		latency = d
	}
	conc, _ := strconv.Atoi(os.Getenv("SPARKIFY_BENCH_S3_CONCURRENCY")) // 0: the default

	srv := testserver.StartS3(b)
	srv.CreateBucket(b, "input")
	srv.CreateBucket(b, "lake")
	// The input goes straight into the gateway's folder: uploading through the API would take
	// longer than the measurement, and is not what is measured.
	if out, err := exec.Command("cp", "-a", filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), filepath.Join(srv.Dir, "input")).CombinedOutput(); err != nil {
		b.Fatalf("copy the input into the gateway: %v\n%s", err, out)
	}
	proxy := testserver.StartProxy(b, strings.TrimPrefix(srv.Endpoint, "http://"))
	if latency > 0 {
		proxy.AddLatency(b, latency)
	}
	cl, err := s3.NewClient(ctx, s3.Config{
		Endpoint: proxy.URL(), Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
		Concurrency: conc,
	})
	if err != nil {
		b.Fatal(err)
	}
	resolve := func(u string) *source.Root {
		r, err := source.Resolve(ctx, u, func(u string) (storage.Store, error) {
			pu, err := s3.ParseURL(u)
			return cl.Store(pu), err
		})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	etl := func(songs, logs *source.Root, out storage.Store) *report.Manifest {
		m, err := Run(ctx, Options{
			Songs: songs, Logs: logs, Output: out, MaxRejectedRatio: 1,
			Sink: sink.Options{Version: "bench"}, Retries: cl.Retries,
		})
		if err != nil {
			b.Fatal(err)
		}
		return m
	}

	var local, remote, again time.Duration
	var m, m2 *report.Manifest
	// CPU seconds of each process during each kind of run.
	localCPU := &cpuMeter{unit: "local-cpu-s", read: selfCPUSeconds}
	s3CPU := []*cpuMeter{
		{unit: "s3-self-cpu-s", read: selfCPUSeconds},
		{unit: "s3-gw-cpu-s", read: srv.CPUSeconds},
		{unit: "s3-proxy-cpu-s", read: proxy.CPUSeconds},
	}
	againCPU := []*cpuMeter{
		{unit: "s3-again-self-cpu-s", read: selfCPUSeconds},
		{unit: "s3-again-gw-cpu-s", read: srv.CPUSeconds},
		{unit: "s3-again-proxy-cpu-s", read: proxy.CPUSeconds},
	}
	b.ResetTimer()
	for i := range b.N {
		// Local first, so that the input is in the page cache for both.
		lout, err := storage.NewLocal(filepath.Join(b.TempDir(), "lake"))
		if err != nil {
			b.Fatal(err)
		}
		localCPU.start()
		t0 := time.Now()
		etl(resolve(filepath.Join(data, "song_data")), resolve(filepath.Join(data, "log_data")), lout)
		local += time.Since(t0)
		localCPU.stop()

		out := cl.Store(s3.URL{Bucket: "lake", Key: fmt.Sprint("run", i)})
		startCPU(s3CPU)
		t0 = time.Now()
		m = etl(resolve("s3://input/song_data"), resolve("s3://input/log_data"), out)
		remote += time.Since(t0)
		stopCPU(s3CPU)

		// The daily case: the same full run again over the lake it wrote.
		startCPU(againCPU)
		t0 = time.Now()
		m2 = etl(resolve("s3://input/song_data"), resolve("s3://input/log_data"), out)
		again += time.Since(t0)
		stopCPU(againCPU)
	}
	b.StopTimer()
	n := float64(b.N)
	var objects, bytes int64
	for _, in := range m.Inputs {
		objects += int64(in.Files)
		bytes += in.Bytes
	}
	for _, t := range m.Tables {
		objects += int64(t.Files)
		bytes += t.Bytes
	}
	b.ReportMetric(local.Seconds()/n, "local-s")
	b.ReportMetric(remote.Seconds()/n, "s3-s")
	b.ReportMetric(remote.Seconds()/local.Seconds(), "s3/local")
	b.ReportMetric(again.Seconds()/n, "s3-again-s")
	b.ReportMetric(again.Seconds()/local.Seconds(), "s3-again/local")
	b.ReportMetric(float64(objects)*n/remote.Seconds(), "objects/s")
	b.ReportMetric(float64(bytes)*n/remote.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(cl.Retries()), "retries")
	// Few lines: a benchmark's log is cut after ten.
	phases := func(m *report.Manifest) string {
		var s []string
		for _, p := range m.Phases {
			s = append(s, fmt.Sprintf("%s %.2f s", p.Name, p.Seconds))
		}
		return strings.Join(s, ", ")
	}
	var ops []string
	reqs := cl.Requests()
	var total int64
	for _, op := range slices.Sorted(maps.Keys(reqs)) {
		ops = append(ops, fmt.Sprintf("%s %.0f", op, float64(reqs[op])/n))
		total += reqs[op]
	}
	b.Logf("s3 run (last): %d objects, %.1f MB read and written; %s", objects, float64(bytes)/1e6, phases(m))
	b.Logf("s3 run again (last): %s", phases(m2))
	b.Logf("requests per pair of s3 runs: %s", strings.Join(ops, ", "))
	b.ReportMetric(float64(total)/n, "requests/run")

	// CPU: metrics, and one log line that puts each S3 run's CPU beside what its wall time
	// allowed on this machine's cores. A figure that could not be read is "?", its error
	// given once.
	var failed []string
	for _, c := range append([]*cpuMeter{localCPU}, append(s3CPU, againCPU...)...) {
		if c.err != nil {
			if e := c.err.Error(); !slices.Contains(failed, e) {
				failed = append(failed, e)
			}
			continue
		}
		b.ReportMetric(c.sum/n, c.unit)
	}
	cpuLine := func(cs []*cpuMeter, wall time.Duration) string {
		self, gw, proxy := cs[0], cs[1], cs[2]
		s := fmt.Sprintf("self %s + gateway %s + proxy %s", self.String(n), gw.String(n), proxy.String(n))
		if self.err == nil && gw.err == nil && proxy.err == nil {
			sum := self.sum + gw.sum + proxy.sum
			s += fmt.Sprintf(" = %.2f s (servers %.0f%%)", sum/n, 100*(gw.sum+proxy.sum)/sum)
		}
		return s + fmt.Sprintf(" in %.2f s wall", wall.Seconds()/n)
	}
	line := fmt.Sprintf("cpu per run on %d cpus: local %s in %.2f s wall; s3 %s; s3 again %s",
		runtime.NumCPU(), localCPU.String(n), local.Seconds()/n, cpuLine(s3CPU, remote), cpuLine(againCPU, again))
	if len(failed) > 0 {
		line += "; ? unreadable: " + strings.Join(failed, "; ")
	}
	b.Log(line)
}

// cpuMeter adds up the CPU seconds one process spends in the measured runs: read before and
// after each run, it sums the differences. The first failed read is kept in err and ends the
// measuring; the figure is then left out rather than the benchmark failed, as it only explains
// the wall times.
type cpuMeter struct {
	unit  string                  // metric unit
	read  func() (float64, error) // the process's CPU seconds so far
	begin float64
	sum   float64
	err   error
}

func (c *cpuMeter) start() {
	if c.err == nil {
		c.begin, c.err = c.read()
	}
}

func (c *cpuMeter) stop() {
	if c.err != nil {
		return
	}
	v, err := c.read()
	if err != nil {
		c.err = err
		return
	}
	c.sum += v - c.begin
}

// String is the seconds per run over n runs, or "?" if they could not be read.
func (c *cpuMeter) String(n float64) string {
	if c.err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f s", c.sum/n)
}

// startCPU and stopCPU read the servers on the outside, so that the readings of this
// process's own CPU enclose only the run.
func startCPU(cs []*cpuMeter) {
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].start()
	}
}

func stopCPU(cs []*cpuMeter) {
	for _, c := range cs {
		c.stop()
	}
}

// selfCPUSeconds is the user plus system CPU time this process (all its threads) has used, in
// seconds.
func selfCPUSeconds() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}
