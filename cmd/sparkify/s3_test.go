package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/testserver"
)

// TestS3ThroughDlCfg runs the reference project's way: dl.cfg with [AWS] keys, MODE=S3 and the
// locations in [S3], against a real S3 server; then the error cases a user meets first.
func TestS3ThroughDlCfg(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "raw")
	srv.CreateBucket(t, "lake")
	// Inputs go in through the CLI itself: local sample → S3 would need a copy tool, so write
	// the fixture files into the bucket's folder, which the posix gateway serves as objects.
	for _, d := range []string{"songs", "logs"} {
		src := filepath.Join(fixtures, d)
		filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, _ := os.ReadFile(p)
			write(t, filepath.Join(srv.Dir, "raw", d, rel), string(b))
			return nil
		})
	}
	cfg := func(secret, bucket string) string {
		return write(t, filepath.Join(t.TempDir(), "dl.cfg"), "[AWS]\nAWS_ACCESS_KEY_ID="+srv.AccessKey+"\nAWS_SECRET_ACCESS_KEY="+secret+
			"\nAWS_ENDPOINT_URL="+srv.Endpoint+"\nAWS_REGION="+srv.Region+
			"\n[PROJECT]\nMODE=S3\n[S3]\nSONG_DATA=s3a://raw/songs\nLOG_DATA=s3a://raw/logs\nOUTPUT_DATA=s3://"+bucket+"/out\n")
	}
	code, stdout, stderr := sparkify(t, "etl", "--config", cfg(srv.SecretKey, "lake"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "published to s3://lake/out") {
		t.Errorf("summary: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "lake", "out", "_SUCCESS")); err != nil {
		t.Error(err)
	}
	// An output that cannot be written is a failure of the run (1), not a bad input (3).
	t.Run("forbidden output", func(t *testing.T) {
		code, _, stderr := sparkify(t, "etl", "--config", cfg("wrong-secret-value", "lake"),
			"--songs", filepath.Join(fixtures, "songs"), "--logs", filepath.Join(fixtures, "logs"))
		if code != exitFailure || !strings.Contains(stderr, "s3://lake/out") || !strings.Contains(stderr, "bad credentials") {
			t.Errorf("got exit %d, %q; want %d naming the output and the denial", code, stderr, exitFailure)
		}
	})
	for _, tc := range []struct {
		name   string
		cfg    string
		code   int
		words  string
		secret string
	}{
		{"bad credentials", cfg("wrong-secret-value", "lake"), exitInput, "bad credentials", "wrong-secret-value"},
		{"missing output bucket", cfg(srv.SecretKey, "nobucket"), exitFailure, "bucket nobucket does not exist", srv.SecretKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := sparkify(t, "etl", "--config", tc.cfg)
			if code != tc.code || !strings.Contains(stderr, tc.words) {
				t.Errorf("got exit %d, %q; want %d and %q", code, stderr, tc.code, tc.words)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("want one line, got %q", stderr)
			}
			if strings.Contains(stderr, tc.secret) {
				t.Error("the secret is in the error")
			}
		})
	}
}
