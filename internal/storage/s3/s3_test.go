package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
	"github.com/sparkify/lake/internal/storage/storagetest"
	"github.com/sparkify/lake/internal/testserver"
)

func client(t testing.TB, srv *testserver.S3, endpoint string, mutate func(*s3.Config)) *s3.Client {
	t.Helper()
	c := s3.Config{
		Endpoint: endpoint, Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
	}
	if mutate != nil {
		mutate(&c)
	}
	cl, err := s3.NewClient(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestConformance(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "conf")
	cl := client(t, srv, srv.Endpoint, nil)
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return cl.Store(s3.URL{Bucket: "conf", Key: fmt.Sprintf("case%d/root", n.Add(1))})
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want s3.URL
		err  bool
	}{
		{"s3://bucket/song_data/", s3.URL{Bucket: "bucket", Key: "song_data"}, false},
		{"s3a://udacity-dend/song_data/A", s3.URL{Bucket: "udacity-dend", Key: "song_data/A"}, false},
		{"S3N://b", s3.URL{Bucket: "b"}, false},
		{"s3:///key", s3.URL{}, true},
		{"/local/path", s3.URL{}, true},
	}
	for _, tt := range tests {
		got, err := s3.ParseURL(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseURL(%q): got %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, s3.ErrBadURL) {
			t.Errorf("ParseURL(%q): error %v is not ErrBadURL", tt.in, err)
		}
	}
}

// TestErrors checks that each failure the user can cause gives an error that names the bucket or
// key, says the cause in words, unwraps to the fs error a caller branches on, and never carries
// the secret.
func TestErrors(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "present")
	ctx := context.Background()
	good := client(t, srv, srv.Endpoint, nil)
	badKey := client(t, srv, srv.Endpoint, func(c *s3.Config) { c.SecretAccessKey = "not-the-secret-" + srv.SecretKey[:4] })
	unreachable := client(t, srv, "http://127.0.0.1:1", func(c *s3.Config) { c.MaxAttempts = 2 })
	tests := []struct {
		name  string
		call  func() error
		is    error
		words string
	}{
		{"missing bucket", func() error {
			_, err := good.Store(s3.URL{Bucket: "absent"}).Stat(ctx, "x")
			if err == nil {
				err = good.Store(s3.URL{Bucket: "absent"}).List(ctx, "", func(storage.Object) error { return nil })
			}
			return err
		}, fs.ErrNotExist, "absent"},
		{"missing key", func() error {
			_, err := good.Store(s3.URL{Bucket: "present"}).Open(ctx, "nope.json")
			return err
		}, fs.ErrNotExist, "s3://present/nope.json"},
		{"bad credentials", func() error {
			return badKey.Store(s3.URL{Bucket: "present"}).List(ctx, "", func(storage.Object) error { return nil })
		}, fs.ErrPermission, "credentials"},
		{"unreachable endpoint", func() error {
			_, err := unreachable.Store(s3.URL{Bucket: "present"}).Stat(ctx, "x")
			return err
		}, nil, "cannot reach the S3 endpoint http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want it to wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.words) {
				t.Errorf("got %q, want it to mention %q", err, tt.words)
			}
			if strings.Contains(err.Error(), srv.SecretKey) {
				t.Errorf("the secret key is in the error: %v", err)
			}
		})
	}
}

// TestRetriesThroughResets puts a proxy that resets connections between the client and the
// server: reads succeed through retries, and the retries are counted.
func TestRetriesThroughResets(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "flaky")
	ctx := context.Background()
	direct := client(t, srv, srv.Endpoint, nil).Store(s3.URL{Bucket: "flaky"})
	payload := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	if err := storage.WriteFile(ctx, direct, "big.json", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	proxy := testserver.StartProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	cl := client(t, srv, "http://"+proxy.Addr, func(c *s3.Config) { c.ReadTimeout = 2 * time.Second })
	st := cl.Store(s3.URL{Bucket: "flaky"})
	proxy.ResetPeer(t, 300<<10) // every connection is cut after 300 KiB
	got, err := storage.ReadFile(ctx, st, "big.json")
	if err != nil {
		t.Fatalf("read through resets: %v", err)
	}
	if string(got) != payload {
		t.Fatalf("got %d bytes, want the %d written", len(got), len(payload))
	}
	if cl.Retries() == 0 {
		t.Error("no retry was counted")
	}
}

// TestWriteSizes writes objects on either side of the size up to which a writer buffers the
// object and sends it from Close, and past it, where it streams in parts: each reads back whole,
// none is visible before Close, and an aborted one leaves nothing.
func TestWriteSizes(t *testing.T) {
	srv := testserver.StartS3(t)
	srv.CreateBucket(t, "sizes")
	ctx := context.Background()
	st := client(t, srv, srv.Endpoint, nil).Store(s3.URL{Bucket: "sizes"})
	for _, size := range []int{0, 1, 5<<20 - 1, 5 << 20, 5<<20 + 1, 17 << 20} {
		name := fmt.Sprint("o", size)
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + i/4093)
		}
		w, err := st.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 300<<10)
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			rest = rest[n:]
		}
		if _, err := st.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%d bytes: visible before Close (%v)", size, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		got, err := storage.ReadFile(ctx, st, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes written, %d read back, or not the same", size, len(got))
		}

		w, err = st.Create(ctx, "aborted")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Stat(ctx, "aborted"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%d bytes: an aborted write left an object (%v)", size, err)
		}
	}
}
