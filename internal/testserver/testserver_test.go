package testserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newClient returns an HTTP client that opens a new connection per request,
// so every request sees the toxics currently installed.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

func TestS3AndProxy(t *testing.T) {
	s3 := StartS3(t)
	if !strings.HasPrefix(s3.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want http://127.0.0.1:PORT", s3.Endpoint)
	}
	if s3.Region != "us-east-1" || s3.AccessKey == "" || s3.SecretKey == "" {
		t.Fatalf("unexpected S3 settings: %+v", s3)
	}
	c := newClient(5 * time.Second)

	t.Run("AnonymousRequestGetsS3Error", func(t *testing.T) {
		resp, body := get(t, c, s3.Endpoint+"/")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "<Error>") {
			t.Fatalf("anonymous GET /: %s %q, want 403 with an S3 XML error", resp.Status, body)
		}
		resp, _ = get(t, c, s3.Endpoint+"/no-such-bucket")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("anonymous GET /no-such-bucket: %s, want 404", resp.Status)
		}
	})

	const bucket = "lake-test"
	s3.CreateBucket(t, bucket)
	s3.CreateBucket(t, bucket) // idempotent
	if fi, err := os.Stat(filepath.Join(s3.Dir, bucket)); err != nil || !fi.IsDir() {
		t.Fatalf("bucket folder: %v", err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	objURL := s3.Endpoint + "/" + bucket + "/dir/object.bin"

	t.Run("SignedObjectRoundTrip", func(t *testing.T) {
		resp, body := do(t, c, signed(t, s3, http.MethodPut, objURL, payload))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT object: %s %s", resp.Status, body)
		}
		resp, body = do(t, c, signed(t, s3, http.MethodGet, objURL, nil))
		if resp.StatusCode != http.StatusOK || body != string(payload) {
			t.Fatalf("GET object: %s, %d bytes", resp.Status, len(body))
		}
		resp, body = do(t, c, signed(t, s3, http.MethodGet, s3.Endpoint+"/"+bucket+"?list-type=2", nil))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<Key>dir/object.bin</Key>") {
			t.Fatalf("ListObjectsV2: %s %s", resp.Status, body)
		}
	})

	p := StartProxy(t, s3.Addr())
	if p.Addr == "" || p.Addr == s3.Addr() {
		t.Fatalf("proxy Addr = %q", p.Addr)
	}

	t.Run("ThroughProxy", func(t *testing.T) {
		resp, body := get(t, c, p.URL()+"/")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "<Error>") {
			t.Fatalf("GET through proxy: %s %q", resp.Status, body)
		}
	})

	t.Run("Latency", func(t *testing.T) {
		defer p.Clear(t)
		for _, d := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond} {
			p.AddLatency(t, d) // the second call updates the existing toxic
			start := time.Now()
			get(t, c, p.URL()+"/")
			if took := time.Since(start); took < d {
				t.Fatalf("request with %v latency took %v", d, took)
			}
		}
	})

	t.Run("ResetPeer", func(t *testing.T) {
		defer p.Clear(t)
		p.ResetPeer(t, 0)
		_, err := c.Get(p.URL() + "/")
		if err == nil {
			t.Fatal("request succeeded despite ResetPeer(0)")
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("ResetPeer(0): error %v, want connection reset by peer", err)
		}

		// Mid-body: the headers and the first bytes arrive, then RST.
		p.ResetPeer(t, 8192)
		u := strings.Replace(objURL, s3.Endpoint, p.URL(), 1)
		req := signed(t, s3, http.MethodGet, u, nil)
		req.Host = s3.Addr() // the signature covers the gateway's host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET through ResetPeer(8192): %v, want headers to arrive", err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || err == nil || n >= int64(len(payload)) {
			t.Fatalf("body through ResetPeer(8192): status %s, read %d bytes, err %v; want a cut transfer",
				resp.Status, n, err)
		}
		t.Logf("mid-body reset after %d body bytes: %v", n, err)
	})

	t.Run("Timeout", func(t *testing.T) {
		defer p.Clear(t)
		// A keep-alive client with a pooled connection opened before the
		// toxic: existing connections must hang too.
		kc := &http.Client{Timeout: 500 * time.Millisecond}
		defer kc.CloseIdleConnections()
		if resp, _ := get(t, kc, p.URL()+"/"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("before Timeout: %s", resp.Status)
		}
		p.Timeout(t)
		for _, client := range []*http.Client{kc, newClient(500 * time.Millisecond)} {
			start := time.Now()
			_, err := client.Get(p.URL() + "/")
			var ne net.Error
			if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("request through Timeout: err %v, want a client timeout", err)
			}
			if took := time.Since(start); took < 500*time.Millisecond {
				t.Fatalf("timed out after %v, before the client timeout", took)
			}
		}
		p.Clear(t)
		if resp, _ := get(t, c, p.URL()+"/"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("after Clear: %s", resp.Status)
		}
	})

	t.Run("DisableEnable", func(t *testing.T) {
		p.Disable(t)
		if conn, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
			conn.Close()
			t.Fatal("connection accepted by a disabled proxy")
		}
		p.Enable(t)
		if resp, _ := get(t, c, p.URL()+"/"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("after Enable: %s", resp.Status)
		}
	})
}

func TestCPUSeconds(t *testing.T) {
	if _, err := (&S3{}).CPUSeconds(); err == nil {
		t.Error("CPUSeconds of an S3 not started by StartS3: no error")
	}
	if runtime.GOOS != "linux" {
		t.Skip("CPUSeconds reads /proc: Linux only")
	}
	s3 := StartS3(t)
	const bucket = "cpu-test"
	s3.CreateBucket(t, bucket)
	c := newClient(5 * time.Second)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 16384) // 256 KiB

	// check reads cpu, runs work, and reads it again.
	check := func(name string, cpu func() (float64, error), work func()) {
		t.Helper()
		before, err := cpu()
		if err != nil {
			t.Fatalf("%s: CPUSeconds: %v", name, err)
		}
		if before < 0 {
			t.Fatalf("%s: CPUSeconds = %v, want >= 0", name, before)
		}
		work()
		after, err := cpu()
		if err != nil {
			t.Fatalf("%s: CPUSeconds after requests: %v", name, err)
		}
		if after < before {
			t.Fatalf("%s: CPUSeconds went down from %v to %v", name, before, after)
		}
		t.Logf("%s: %.2f s of CPU, %.2f s after the requests", name, before, after)
	}

	check("versitygw", s3.CPUSeconds, func() {
		for i := range 10 {
			u := fmt.Sprintf("%s/%s/obj-%d", s3.Endpoint, bucket, i)
			if resp, body := do(t, c, signed(t, s3, http.MethodPut, u, payload)); resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT %s: %s %s", u, resp.Status, body)
			}
		}
	})

	p := StartProxy(t, s3.Addr())
	check("toxiproxy", p.CPUSeconds, func() {
		for i := range 10 {
			req := signed(t, s3, http.MethodGet, fmt.Sprintf("%s/%s/obj-%d", p.URL(), bucket, i), nil)
			req.Host = s3.Addr() // the signature covers the gateway's host
			if resp, body := do(t, c, req); resp.StatusCode != http.StatusOK || len(body) != len(payload) {
				t.Fatalf("GET %s through the proxy: %s, %d bytes", req.URL, resp.Status, len(body))
			}
		}
	})
}

func TestFindBinaries(t *testing.T) {
	for _, b := range []binary{versitygwBinary, toxiproxyBinary} {
		if p := os.Getenv(b.envVar); p != "" {
			t.Logf("%s: %s (from %s)", b.what, p, b.envVar)
		} else if p, ok := b.find(); ok {
			t.Logf("%s: %s", b.what, p)
		} else {
			t.Logf("%s: not found", b.what)
		}
	}
	if p := os.Getenv(toxiproxyBinary.envVar); p != "" {
		if !builtFrom(p, "github.com/Shopify/toxiproxy/v2/cmd/server") {
			t.Errorf("%s is not toxiproxy's cmd/server according to its build info", p)
		}
		if v := os.Getenv(versitygwBinary.envVar); v != "" && builtFrom(v, "github.com/Shopify/toxiproxy/v2/cmd/server") {
			t.Errorf("builtFrom accepted versitygw as toxiproxy")
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 10}
	for i := 0; i < 10; i++ {
		b.Write([]byte("abcdefg"))
	}
	got := b.String()
	if want := "[... 60 earlier bytes dropped ...]\ndefgabcdefg"[:len(got)]; !strings.HasPrefix(got, "[... 60 earlier bytes dropped ...]\n") ||
		!strings.HasSuffix(got, "efgabcdefg\n") {
		t.Fatalf("got %q, want like %q", got, want)
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

// signed builds a request signed with AWS Signature Version 4 (header form),
// enough for path-style S3 requests with simple keys and query strings. It
// exists only to check that buckets made by CreateBucket work for a signing
// client; real code uses an SDK.
func signed(t *testing.T, s *S3, method, rawURL string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", payloadHash)
	host := req.URL.Host
	if u, err := url.Parse(s.Endpoint); err == nil {
		host = u.Host // signed for the gateway, even when sent through a proxy
	}

	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var query []string
	for _, k := range keys {
		for _, v := range q[k] {
			query = append(query, awsEscape(k)+"="+awsEscape(v))
		}
	}
	const signedHeaders = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		method,
		req.URL.EscapedPath(),
		strings.Join(query, "&"),
		"host:" + host + "\nx-amz-content-sha256:" + payloadHash + "\nx-amz-date:" + amzDate + "\n",
		signedHeaders,
		payloadHash,
	}, "\n")
	scope := day + "/" + s.Region + "/s3/aws4_request"
	crSum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	key := []byte("AWS4" + s.SecretKey)
	for _, part := range []string{day, s.Region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKey+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+hex.EncodeToString(hmacSHA256(key, toSign)))
	return req
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
