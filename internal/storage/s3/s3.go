// Package s3 is the storage.Store of Amazon S3 and S3-compatible object stores (MinIO, R2,
// versitygw, Ceph). It is the only package that imports the AWS SDK.
//
// It is built for many small objects — the song catalog is thousands of one-song files — so it
// keeps many connections open, lists in parallel and retries with jittered backoff without the
// SDK's client-side retry quota, which fails under heavy concurrency. Credentials, region and
// endpoint follow the SDK's usual chain unless given explicitly; secrets never appear in errors.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// DefaultConcurrency is how many requests a Store runs at once by default. S3 serves each request
// in tens of milliseconds whatever its size, so reading thousands of small objects is bound by
// latency, not bandwidth: 64 in flight turn 20 ms per object into ~3,000 objects/s, while staying
// far below S3's per-prefix limits (5,500 GET/s).
const DefaultConcurrency = 64

// Config says how to reach S3. Empty fields fall back to the SDK's default chain: environment
// (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL_S3, ...), shared config and profiles, SSO, web
// identity and instance metadata.
type Config struct {
	Region          string
	Endpoint        string // custom endpoint URL for S3-compatible stores
	PathStyle       *bool  // nil: path-style when a custom endpoint is set, else virtual-hosted
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Concurrency     int           // requests in flight; 0 means DefaultConcurrency
	MaxAttempts     int           // per request, first try included; 0 means 5
	ReadTimeout     time.Duration // a connection silent this long fails (and is retried); 0 means 30 s
}

// Client is a configured S3 client shared by the Stores of every bucket a run uses.
type Client struct {
	api         *s3.Client
	tm          *transfermanager.Client
	concurrency int
	endpoint    string
	retries     atomic.Int64
	requests    sync.Map // operation name -> *atomic.Int64
}

// NewClient builds a client. It does not contact S3: bad credentials or a missing bucket show up
// on first use, as errors naming the bucket.
func NewClient(ctx context.Context, c Config) (*Client, error) {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	cl := &Client{concurrency: c.Concurrency}
	// The SDK's default transport keeps 10 idle connections per host (Go's default is 2), so
	// most of 64 concurrent requests would open a new TLS connection each time.
	httpClient := awshttp.NewBuildableClient().
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConns = 2 * c.Concurrency
			tr.MaxIdleConnsPerHost = 2 * c.Concurrency
			tr.ResponseHeaderTimeout = c.ReadTimeout
		}).
		WithReadTimeout(c.ReadTimeout)
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		// The SDK logs its own warnings (an IMDS fallback, a checksum it skipped) to stderr;
		// errors reach the user through the returned error instead, once.
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer {
			// The standard retryer draws retries from one token bucket shared by all goroutines;
			// under heavy concurrency it runs dry and fails with "retry quota exceeded" while
			// the service is merely throttling. Backoff with jitter is what protects S3.
			r := retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.MaxAttempts
				o.MaxBackoff = 10 * time.Second
				o.RateLimiter = ratelimit.None
				// A response cut off mid-body (a reset connection) fails while the SDK
				// decodes it, which it does not retry by default; it is as transient as
				// the reset itself.
				o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if brokenConnection(err) {
						return aws.TrueTernary
					}
					return aws.UnknownTernary
				}))
			})
			return &countingRetryer{RetryerV2: r, n: &cl.retries}
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // S3 needs one to sign; the SDK finds the bucket's own on redirect
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	cl.endpoint = endpoint
	pathStyle := endpoint != ""
	if c.PathStyle != nil {
		pathStyle = *c.PathStyle
	}
	cl.api = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = pathStyle
		o.APIOptions = append(o.APIOptions, cl.countRequests)
	})
	cl.tm = transfermanager.New(cl.api, func(o *transfermanager.Options) {
		o.Concurrency = 4
	})
	return cl, nil
}

// brokenConnection reports whether err is a connection that broke part-way.
func brokenConnection(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// Retries returns how many requests were retried so far.
func (c *Client) Retries() int64 { return c.retries.Load() }

// Concurrency returns how many requests the client runs at once.
func (c *Client) Concurrency() int { return c.concurrency }

// countRequests adds a step that counts each operation once per call (not per retry), for
// Requests.
func (c *Client) countRequests(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("sparkifyCountRequests",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			n, ok := c.requests.Load(op)
			if !ok {
				n, _ = c.requests.LoadOrStore(op, new(atomic.Int64))
			}
			n.(*atomic.Int64).Add(1)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// Requests returns how many calls of each S3 operation (GetObject, PutObject, CopyObject, ...)
// the client has made, retries not counted: what a run costs in requests, which is what an
// object store charges and what latency multiplies.
func (c *Client) Requests() map[string]int64 {
	out := map[string]int64{}
	c.requests.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// countingRetryer counts retries for the run report.
type countingRetryer struct {
	aws.RetryerV2
	n *atomic.Int64
}

func (r *countingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.n.Add(1)
	return r.RetryerV2.RetryDelay(attempt, err)
}

// URL is a parsed s3:// location.
type URL struct {
	Bucket string
	Key    string // without leading or trailing slash; "" for the bucket's root
}

func (u URL) String() string {
	if u.Key == "" {
		return "s3://" + u.Bucket
	}
	return "s3://" + u.Bucket + "/" + u.Key
}

// ErrBadURL is returned for s3:// URLs without a bucket.
var ErrBadURL = errors.New("not a valid s3:// URL")

// IsURL reports whether s names an S3 location: s3://, or Hadoop's s3a:// and s3n://.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "s3", "s3a", "s3n":
		return true
	}
	return false
}

// ParseURL parses s3://bucket/key (also s3a:// and s3n://, which mean the same here).
func ParseURL(s string) (URL, error) {
	if !IsURL(s) {
		return URL{}, fmt.Errorf("%q: %w", s, ErrBadURL)
	}
	_, rest, _ := strings.Cut(s, "://")
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return URL{}, fmt.Errorf("%q: %w (no bucket)", s, ErrBadURL)
	}
	return URL{Bucket: bucket, Key: strings.Trim(key, "/")}, nil
}
