package testserver

import (
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Root credentials of every gateway started by StartS3. They only guard a
// throw-away server bound to loopback.
const (
	s3AccessKey = "sparkifytest"
	s3SecretKey = "sparkifytestsecret"
	s3Region    = "us-east-1"
)

// S3 is a running versitygw (S3-compatible gateway) with the posix backend.
//
// Use path-style addressing (bucket in the path, not in the host name) and
// SigV4 with AccessKey/SecretKey/Region; the keys are the gateway's root
// account.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string // "us-east-1"
	Dir       string // the posix backend folder: one sub-folder per bucket

	proc *process
}

// StartS3 starts versitygw with its posix backend in t.TempDir() on a free
// loopback port, waits until it answers HTTP, and stops it in t.Cleanup.
//
// The command line is
//
//	versitygw --port 127.0.0.1:PORT --access KEY --secret SECRET --region us-east-1 --keep-alive posix DIR
//
// --keep-alive lets clients reuse connections, as with real S3; without it
// the gateway closes every connection after one response. VGW_*,
// ROOT_ACCESS_KEY*, ROOT_SECRET_*, LOGFILE and WEBHOOK are removed from its
// environment, so settings of the calling shell cannot change it.
//
// When the binary is absent the test is skipped with instructions to install
// it, or fails if SPARKIFY_REQUIRE_S3 is set. The server output is logged
// only if the test fails.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := versitygwBinary.require(t)
	dir := t.TempDir() // before startServer: cleanups run LIFO, the server stops first
	proc, addr := startServer(t, serverSpec{
		name: "versitygw",
		bin:  bin,
		args: func(port int) []string {
			return []string{
				"--port", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
				"--access", s3AccessKey,
				"--secret", s3SecretKey,
				"--region", s3Region,
				"--keep-alive",
				"posix", dir,
			}
		},
		env:   versitygwEnv(),
		probe: func(addr string) bool { return httpAnswers("http://" + addr + "/") },
	})
	return &S3{
		Endpoint:  "http://" + addr,
		AccessKey: s3AccessKey,
		SecretKey: s3SecretKey,
		Region:    s3Region,
		Dir:       dir,
		proc:      proc,
	}
}

// CPUSeconds is the user plus system CPU time, in seconds, the gateway process has used since
// it started. Read before and after a measured run, it tells the gateway's share of the CPU
// from the pipeline's when both run on the same machine (and so compete for its cores).
//
// It reads /proc and so works on Linux only; elsewhere, or for an S3 not made by StartS3, it
// returns an error. It takes no testing.TB, so that a benchmark can carry on without the
// figure.
func (s *S3) CPUSeconds() (float64, error) { return s.proc.cpuSeconds() }

// versitygwEnv is the current environment without variables versitygw reads
// as defaults for its flags.
func versitygwEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"),
			strings.HasPrefix(name, "ROOT_ACCESS_KEY"),
			strings.HasPrefix(name, "ROOT_SECRET"),
			name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Addr is the gateway's host:port, e.g. to put a Proxy in front of it.
func (s *S3) Addr() string {
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		return strings.TrimPrefix(s.Endpoint, "http://")
	}
	return u.Host
}

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// CreateBucket makes bucket name (idempotent).
//
// The posix backend treats every sub-folder of Dir as a bucket, so the
// bucket is created as the folder Dir/name; no signed CreateBucket request
// is needed. Such a bucket carries no ACL/owner attributes, which is fine for
// the root account (the only credentials StartS3 hands out). The bucket is
// then checked with an anonymous HEAD request: the gateway must answer 403
// (bucket exists, anonymous access denied) rather than 404 NoSuchBucket.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if !bucketNameRE.MatchString(name) || strings.Contains(name, "..") || net.ParseIP(name) != nil {
		t.Fatalf("testserver: invalid S3 bucket name %q (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)", name)
	}
	err := os.Mkdir(filepath.Join(s.Dir, name), 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatalf("testserver: create bucket %q: %v", name, err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Head(s.Endpoint + "/" + name)
	if err != nil {
		t.Fatalf("testserver: check bucket %q: %v", name, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusOK:
	default:
		t.Fatalf("testserver: bucket folder %q created, but anonymous HEAD %s/%s answered %s (want 403: bucket exists)",
			name, s.Endpoint, name, resp.Status)
	}
}
