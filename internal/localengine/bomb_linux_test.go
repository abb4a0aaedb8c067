//go:build linux

package localengine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the child process TestGzipBombBoundedMemory starts.
const (
	bombLogsEnv = "SPARKIFY_TEST_BOMB_LOGS"
	bombOutEnv  = "SPARKIFY_TEST_BOMB_OUT"
)

// bombZeros is how many zero bytes the bomb's middle line holds once decompressed, and
// maxBombRSS the peak resident memory the run on it may reach: a run that holds the decompressed
// file needs over 2 GiB; what remains is the Go runtime, the test binary and the reader's
// buffers. The race detector makes reading ten times slower and memory several times larger:
// with it, the bomb is smaller, and the bound is that of the detector's own needs.
var bombZeros, maxBombRSS int64 = 2 << 30, 200 << 20

func init() {
	if raceEnabled {
		bombZeros, maxBombRSS = 256<<20, 400<<20
	}
}

// TestGzipBombBoundedMemory runs the engine, in a child process whose peak RSS is measured, on a
// log file of 2 MiB that gunzips to 2 GiB: a valid line, a line of 2 GiB of zeros, a valid line.
// The run must finish with bounded memory, reject the long line as too_large (with its size and
// the first bytes only), and keep the lines around it at their exact lines and offsets.
func TestGzipBombBoundedMemory(t *testing.T) {
	if os.Getenv(bombLogsEnv) != "" {
		bombChild(t)
		return
	}
	if testing.Short() {
		t.Skip("decompresses 2 GiB")
	}
	lines, err := os.ReadFile("testdata/logs/2018/11/2018-11-01-events.json")
	if err != nil {
		t.Fatal(err)
	}
	valid := bytes.SplitN(lines, []byte("\n"), 3)[:2]
	logs := t.TempDir()
	name := filepath.Join(logs, "2018-11-01-events.json.gz")
	writeBomb(t, name, valid[0], valid[1])
	if st, err := os.Stat(name); err == nil {
		t.Logf("bomb: %d bytes of gzip, %d decompressed", st.Size(), int64(len(valid[0])+len(valid[1])+3)+bombZeros)
	}

	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGzipBombBoundedMemory$", "-test.v")
	cmd.Env = append(os.Environ(), bombLogsEnv+"="+logs, bombOutEnv+"="+out)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, outb)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	t.Logf("child ran in %s, peak RSS %.1f MiB", time.Since(start).Round(time.Millisecond), float64(rss)/(1<<20))
	if rss > maxBombRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, maxBombRSS>>20)
	}

	var m struct {
		Inputs map[string]struct {
			Read       int64            `json:"records_read"`
			Kept       int64            `json:"records_kept"`
			RejectedBy map[string]int64 `json:"rejected_by_reason"`
			Bytes      int64            `json:"bytes"`
		} `json:"inputs"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ev := m.Inputs["events"]
	if ev.Read != 3 || ev.Kept != 2 || ev.RejectedBy["too_large"] != 1 {
		t.Errorf("events: read %d, kept %d, rejected %v; want 3, 2, {too_large: 1}", ev.Read, ev.Kept, ev.RejectedBy)
	}
	if want := int64(len(valid[0])+len(valid[1])+3) + bombZeros; ev.Bytes != want {
		t.Errorf("events: %d bytes read, want %d", ev.Bytes, want)
	}
	rej, err := os.ReadFile(filepath.Join(out, "_rejected", "rejected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Source    string `json:"source"`
		Line      int    `json:"line"`
		Offset    int64  `json:"offset"`
		Reason    string `json:"reason"`
		Detail    string `json:"detail"`
		Truncated bool   `json:"truncated"`
		Size      int64  `json:"size"`
		Raw       string `json:"raw"`
	}
	if err := json.Unmarshal(rej, &r); err != nil {
		t.Fatalf("%v: %.300s", err, rej)
	}
	if r.Source != "2018-11-01-events.json.gz" || r.Line != 2 || r.Offset != int64(len(valid[0])+1) || r.Reason != "too_large" ||
		!r.Truncated || r.Size != bombZeros || len(r.Raw) == 0 || len(r.Raw) > 64<<10 || strings.Trim(r.Raw, "\x00") != "" ||
		!strings.Contains(r.Detail, strconv.FormatInt(bombZeros, 10)) {
		t.Errorf("got reject %+.300v", r)
	}
}

// writeBomb writes, as gzip, first, a line of bombZeros zero bytes, then last. The zeros are
// written as a series of gzip members of 1 MiB each (which gunzip, like every reader, joins), so
// that making the file takes no time and no memory.
func writeBomb(t *testing.T, name string, first, last []byte) {
	t.Helper()
	member := func(data []byte) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		return b.Bytes()
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.Write(member(append(append([]byte{}, first...), '\n')))
	zeros := member(make([]byte, 1<<20))
	for range bombZeros >> 20 {
		w.Write(zeros)
	}
	w.Write(member(append(append([]byte{'\n'}, last...), '\n')))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// bombChild is the child's side: it runs the engine on the bomb. A watchdog ends the process as
// soon as its memory passes 1 GiB, so that a reader that holds whole files fails the test in a
// second instead of taking the machine's memory.
func bombChild(t *testing.T) {
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			status, _ := os.ReadFile("/proc/self/status")
			for l := range strings.Lines(string(status)) {
				if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
					kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					if kib > 1<<20 {
						fmt.Printf("RSS %d MiB: over 1 GiB, stopped\n", kib>>10)
						os.Exit(3)
					}
				}
			}
		}
	}()
	_, err := runLocal(t, "testdata/songs", os.Getenv(bombLogsEnv), os.Getenv(bombOutEnv), func(o *Options) {
		o.MaxRejectedRatio = 1
		o.Workers = 2
	})
	if err != nil {
		t.Fatal(err)
	}
}
