package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	readyTimeout = 20 * time.Second // how long a server may take to answer
	startTries   = 3                // attempts, each on a fresh port (port races)
	stopTimeout  = 5 * time.Second  // grace period after SIGINT before SIGKILL
	maxOutput    = 1 << 20          // bytes of server output kept (the tail)
)

// process is a running child server.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *tailBuffer
	exited  chan struct{} // closed once the process has exited
	waitErr error         // valid after exited is closed
}

// serverSpec says how to run one server.
type serverSpec struct {
	name  string // for messages
	bin   string // executable
	args  func(port int) []string
	env   []string               // full environment; nil = inherit
	probe func(addr string) bool // after TCP connect succeeds: is it answering?
}

// startServer launches spec on a free loopback port, waits until it answers,
// and registers a cleanup that stops it. A process that exits before being
// ready (typically because the port was taken in between) is retried on a new
// port. It returns the process and its "127.0.0.1:PORT" address.
func startServer(t testing.TB, spec serverSpec) (*process, string) {
	t.Helper()
	var failures []string
	for try := 1; try <= startTries; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testserver: %s: no free loopback port: %v", spec.name, err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		args := spec.args(port)
		p, err := launch(spec.name, spec.bin, args, spec.env)
		if err != nil {
			t.Fatalf("testserver: %s: %v", spec.name, err)
		}
		err = p.waitReady(addr, spec.probe, readyTimeout)
		if err == nil {
			t.Cleanup(func() { p.cleanup(t) })
			return p, addr
		}
		p.stop()
		failure := fmt.Sprintf("attempt %d: %s %s: %v\n--- %s output ---\n%s--- end of output ---",
			try, spec.bin, strings.Join(args, " "), err, spec.name, p.out.String())
		failures = append(failures, failure)
		if !errors.Is(err, errExited) {
			break // a timeout: retrying would only make the test slower
		}
	}
	t.Fatalf("testserver: could not start %s:\n%s%s", spec.name,
		strings.Join(failures, "\n"), hint(strings.Join(failures, "\n")))
	return nil, ""
}

// hint adds advice for known failure causes.
func hint(output string) string {
	if strings.Contains(output, "xattr") {
		return "\nhint: versitygw's posix backend needs user extended attributes on the " +
			"filesystem of t.TempDir(); point TMPDIR at a filesystem that supports them (e.g. ext4, xfs)"
	}
	return ""
}

var errExited = errors.New("process exited before answering")

func launch(name, bin string, args, env []string) (*process, error) {
	out := &tailBuffer{max: maxOutput}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{name: name, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// waitReady polls until addr accepts a TCP connection and probe(addr) says
// the server answers, the process exits, or timeout passes.
func (p *process) waitReady(addr string, probe func(string) bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.hasExited() {
			return fmt.Errorf("%w (%v)", errExited, p.waitErr)
		}
		if c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond); err == nil {
			c.Close()
			if probe(addr) {
				// The answer could come from another program that grabbed the
				// port first; ours would then exit with "address in use".
				if p.hasExited() {
					return fmt.Errorf("%w (%v)", errExited, p.waitErr)
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within %v", p.name, addr, timeout)
		}
		select {
		case <-p.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop interrupts the process, then kills it after stopTimeout.
func (p *process) stop() {
	if p.hasExited() {
		return
	}
	if runtime.GOOS == "windows" || p.cmd.Process.Signal(os.Interrupt) != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *process) cleanup(t testing.TB) {
	if p.hasExited() {
		t.Errorf("testserver: %s exited during the test: %v\n--- %s output ---\n%s--- end of output ---",
			p.name, p.waitErr, p.name, p.out.String())
		return
	}
	p.stop()
	if t.Failed() {
		t.Logf("testserver: %s output (test failed):\n%s", p.name, p.out.String())
	}
}

// httpAnswers is a probe: any HTTP response to GET url means the server is up.
func httpAnswers(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// FreeAddr returns a loopback address, 127.0.0.1:PORT, whose port was free a moment ago: for a
// server a test starts itself.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer is a concurrency-safe writer that keeps the last max bytes.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     bytes.Buffer
	dropped int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	// Trim only when twice over the limit, so trimming costs O(1) amortized.
	if b.buf.Len() > 2*b.max {
		over := b.buf.Len() - b.max
		rest := append([]byte(nil), b.buf.Bytes()[over:]...)
		b.buf.Reset()
		b.buf.Write(rest)
		b.dropped += int64(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, dropped := b.buf.Bytes(), b.dropped
	if over := len(data) - b.max; over > 0 {
		data, dropped = data[over:], dropped+int64(over)
	}
	s := string(data)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if dropped > 0 {
		s = fmt.Sprintf("[... %d earlier bytes dropped ...]\n", dropped) + s
	}
	return s
}
