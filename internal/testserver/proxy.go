package testserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// Proxy is a toxiproxy server with one TCP proxy in front of an upstream
// address. Connect to Addr instead of the upstream, then inject faults with
// the methods below. Toxics stay until Clear; each method affects new and, as
// far as toxiproxy allows, already open connections.
type Proxy struct {
	Addr     string // host:port to connect to instead of the upstream
	Upstream string // the address the proxy forwards to
	API      string // toxiproxy's HTTP API, http://127.0.0.1:PORT

	name   string
	client *http.Client
	proc   *process
}

const proxyName = "sparkify"

// Names of the toxics this package creates.
const (
	toxicLatency = "sparkify_latency"
	toxicLimit   = "sparkify_limit_data"
	toxicRST     = "sparkify_reset_peer"
	toxicTimeout = "sparkify_timeout"
)

// StartProxy starts a toxiproxy server whose API listens on a free loopback
// port (stopped in t.Cleanup), and creates a proxy listening on another free
// loopback port that forwards to upstream (host:port).
//
// The command line is `server -host 127.0.0.1 -port PORT` (toxiproxy-server),
// with LOG_LEVEL=info in its environment.
// A missing binary skips the test, or fails it if SPARKIFY_REQUIRE_S3 is set.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	bin := toxiproxyBinary.require(t)
	proc, addr := startServer(t, serverSpec{
		name: "toxiproxy",
		bin:  bin,
		args: func(port int) []string {
			return []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port)}
		},
		env:   append(os.Environ(), "LOG_LEVEL=info"), // its default, trace, logs every chunk
		probe: func(addr string) bool { return httpAnswers("http://" + addr + "/version") },
	})
	p := &Proxy{
		Upstream: upstream,
		API:      "http://" + addr,
		name:     proxyName,
		client:   &http.Client{Timeout: 10 * time.Second},
		proc:     proc,
	}
	var created struct {
		Listen string `json:"listen"`
	}
	// Port 0: toxiproxy picks a free port and reports it in "listen"; it
	// keeps that port when the proxy is disabled and enabled again.
	p.call(t, http.MethodPost, "/proxies", map[string]any{
		"name":     p.name,
		"listen":   "127.0.0.1:0",
		"upstream": upstream,
		"enabled":  true,
	}, &created, http.StatusCreated)
	if created.Listen == "" {
		t.Fatalf("testserver: toxiproxy did not report the proxy's listen address")
	}
	p.Addr = created.Listen
	return p
}

// CPUSeconds is the user plus system CPU time, in seconds, the toxiproxy process has used
// since it started. Read before and after a measured run, it tells the proxy's share of the CPU
// from the pipeline's when both run on the same machine (and so compete for its cores).
//
// It reads /proc and so works on Linux only; elsewhere, or for a Proxy not made by StartProxy,
// it returns an error. It takes no testing.TB, so that a benchmark can carry on without the
// figure.
func (p *Proxy) CPUSeconds() (float64, error) { return p.proc.cpuSeconds() }

// URL is "http://" + Addr.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// AddLatency delays all data from the upstream to the client (toxic
// "latency", stream downstream) by d, so each response arrives at least d
// later: one extra d per request/response exchange. Calling it again
// replaces the delay.
func (p *Proxy) AddLatency(t testing.TB, d time.Duration) {
	t.Helper()
	ms := d.Milliseconds()
	if ms == 0 && d > 0 {
		ms = 1
	}
	p.setToxic(t, toxicLatency, "latency", "downstream", 1, map[string]any{"latency": ms, "jitter": 0})
}

// ResetPeer lets each connection receive afterBytes bytes from the upstream
// and then aborts it (0: at the first response byte), modelling a connection
// reset mid-transfer. Requests still reach the upstream.
//
// It uses toxic "limit_data" (stream downstream, bytes=afterBytes) to cut the
// connection, plus a "reset_peer" toxic with toxicity 0: it never fires, but
// its presence makes toxiproxy set SO_LINGER=0 on connections opened while it
// is active, so the cut is a TCP RST ("connection reset by peer") rather than
// a clean FIN (which a client would see as an unexpected EOF). Connections
// that were already open when ResetPeer was called are cut with a FIN.
func (p *Proxy) ResetPeer(t testing.TB, afterBytes int) {
	t.Helper()
	if afterBytes < 0 {
		t.Fatalf("testserver: ResetPeer: negative afterBytes %d", afterBytes)
	}
	p.setToxic(t, toxicRST, "reset_peer", "downstream", 0, map[string]any{"timeout": 0})
	p.setToxic(t, toxicLimit, "limit_data", "downstream", 1, map[string]any{"bytes": afterBytes})
}

// Timeout makes the server stop answering: toxic "timeout" with timeout 0
// on the upstream stream (client to server) drops everything the client
// sends and never closes the connection, until Clear. Requests sent after
// the call never reach the server, so nothing comes back and clients must
// rely on their own timeouts; a response already in flight still arrives.
//
// (On the downstream stream the toxic would not hang clients: toxiproxy
// closes the client connection as soon as the server closes its side.)
func (p *Proxy) Timeout(t testing.TB) {
	t.Helper()
	p.setToxic(t, toxicTimeout, "timeout", "upstream", 1, map[string]any{"timeout": 0})
}

// Clear removes all toxics (the proxy stays enabled or disabled as it is).
func (p *Proxy) Clear(t testing.TB) {
	t.Helper()
	var toxics []struct {
		Name string `json:"name"`
	}
	p.call(t, http.MethodGet, p.path("toxics"), nil, &toxics, http.StatusOK)
	for _, tx := range toxics {
		p.call(t, http.MethodDelete, p.path("toxics", tx.Name), nil, nil, http.StatusNoContent)
	}
}

// Disable takes the proxy down: its listener is closed (connections to Addr
// are refused) and open connections are dropped.
func (p *Proxy) Disable(t testing.TB) {
	t.Helper()
	p.call(t, http.MethodPatch, p.path(), map[string]any{"enabled": false}, nil, http.StatusOK)
}

// Enable brings the proxy up again on the same Addr.
func (p *Proxy) Enable(t testing.TB) {
	t.Helper()
	p.call(t, http.MethodPatch, p.path(), map[string]any{"enabled": true}, nil, http.StatusOK)
}

// setToxic creates toxic name, or updates it if it already exists.
func (p *Proxy) setToxic(t testing.TB, name, typ, stream string, toxicity float64, attrs map[string]any) {
	t.Helper()
	status := p.call(t, http.MethodPost, p.path("toxics"), map[string]any{
		"name":       name,
		"type":       typ,
		"stream":     stream,
		"toxicity":   toxicity,
		"attributes": attrs,
	}, nil, http.StatusOK, http.StatusConflict)
	if status == http.StatusConflict {
		p.call(t, http.MethodPatch, p.path("toxics", name), map[string]any{
			"toxicity":   toxicity,
			"attributes": attrs,
		}, nil, http.StatusOK)
	}
}

// path builds /proxies/{name}[/elem...].
func (p *Proxy) path(elem ...string) string {
	s := "/proxies/" + url.PathEscape(p.name)
	for _, e := range elem {
		s += "/" + url.PathEscape(e)
	}
	return s
}

// call sends a JSON request to toxiproxy's API and fails the test unless the
// status is one of want; it decodes the response into out when non-nil.
func (p *Proxy) call(t testing.TB, method, path string, in, out any, want ...int) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("testserver: toxiproxy %s %s: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.API+path, body)
	if err != nil {
		t.Fatalf("testserver: toxiproxy %s %s: %v", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("testserver: toxiproxy %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testserver: toxiproxy %s %s: reading response: %v", method, path, err)
	}
	for _, w := range want {
		if resp.StatusCode != w {
			continue
		}
		if out != nil && w < 300 {
			if err := json.Unmarshal(data, out); err != nil {
				t.Fatalf("testserver: toxiproxy %s %s: decoding %q: %v", method, path, data, err)
			}
		}
		return w
	}
	t.Fatalf("testserver: toxiproxy %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	return 0
}
