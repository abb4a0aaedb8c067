package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/storage"
)

// Store is a storage.Store over one bucket and key prefix.
type Store struct {
	c      *Client
	bucket string
	prefix string // "" or "a/b", without slashes at the ends
}

var _ storage.Store = (*Store)(nil)

// Store returns the store rooted at u.
func (c *Client) Store(u URL) *Store {
	return &Store{c: c, bucket: u.Bucket, prefix: u.Key}
}

// Sub returns the store rooted at a folder of s.
func (s *Store) Sub(name string) *Store {
	return &Store{c: s.c, bucket: s.bucket, prefix: s.key(name)}
}

// Features implements storage.Store: S3 copies server-side, wants many requests in flight and
// writes conditionally (If-None-Match, If-Match); it cannot rename, and its writes are durable
// when they return.
func (s *Store) Features() storage.Features {
	return storage.Features{
		CopyObject:  s.CopyObject,
		Concurrency: s.c.concurrency,
		Conditional: conditional{s},
		// ETags hash the content, except under SSE-KMS or SSE-C, where they are unique to each
		// object: never equal for two objects, which only costs a copy.
		ContentVersion: true,
	}
}

// Retries returns the requests retried so far by the store's client.
func (s *Store) Retries() int64 { return s.c.Retries() }

func (s *Store) key(name string) string {
	switch {
	case s.prefix == "":
		return name
	case name == "":
		return s.prefix
	}
	return s.prefix + "/" + name
}

func (s *Store) name(key string) string {
	if s.prefix == "" {
		return key
	}
	return strings.TrimPrefix(strings.TrimPrefix(key, s.prefix), "/")
}

// Location implements storage.Store.
func (s *Store) Location(name string) string {
	return URL{Bucket: s.bucket, Key: s.key(name)}.String()
}

// wrap turns an SDK error into one that names the object, says the cause in words and unwraps
// to fs.ErrNotExist or fs.ErrPermission where that is what happened. The SDK's errors never
// carry credentials, and the text here adds none.
func (s *Store) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	loc := s.Location(name)
	var kind error
	cause := err.Error()
	var apiErr smithy.APIError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case strings.Contains(err.Error(), "timeout awaiting response headers"):
		cause = "the S3 endpoint " + s.endpoint() + " stopped answering (timeout)"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("s3 %s %s: %w", op, loc, err)
	case errors.As(err, &apiErr):
		cause = apiErr.ErrorCode()
		if m := apiErr.ErrorMessage(); m != "" {
			cause += ": " + m
		}
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			kind, cause = fs.ErrNotExist, "no such key"
		case "NoSuchBucket":
			kind, cause = fs.ErrNotExist, "bucket "+s.bucket+" does not exist"
		case "AccessDenied", "AllAccessDisabled":
			kind, cause = fs.ErrPermission, "access denied (the credentials lack permission)"
		case "Forbidden":
			// A HEAD request's 403 has no body to say why.
			kind, cause = fs.ErrPermission, "access denied (bad credentials, or no permission)"
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			kind, cause = fs.ErrPermission, "bad credentials ("+apiErr.ErrorCode()+")"
		case "PreconditionFailed", "ConditionalRequestConflict":
			// 412: the object is not as If-None-Match or If-Match expected; 409: another
			// conditional write of the object was under way.
			kind = storage.ErrPrecondition
		}
	case strings.Contains(err.Error(), "get identity: get credentials"):
		// The SDK's chain found nothing usable; its own text lists every source it tried.
		kind, cause = fs.ErrPermission, "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (environment or [AWS] in dl.cfg), or AWS_PROFILE"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		cause = "cannot reach the S3 endpoint " + s.endpoint() + ": " + opErr.Err.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		cause = "the S3 endpoint " + s.endpoint() + " stopped answering (timeout)"
	case brokenConnection(err):
		cause = "the connection to the S3 endpoint " + s.endpoint() + " kept breaking (" + rootCause(err) + ")"
	}
	if strings.Contains(err.Error(), "exceeded maximum number of attempts") {
		cause += ", after every retry"
	}
	if kind != nil {
		return &opError{msg: fmt.Sprintf("s3 %s %s: %s", op, loc, cause), err: errors.Join(kind, err)}
	}
	return &opError{msg: fmt.Sprintf("s3 %s %s: %s", op, loc, cause), err: err}
}

// rootCause is the innermost error's text: "connection reset by peer" rather than the SDK's
// whole chain.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// opError shows a short message in words and keeps the SDK's error chain for errors.Is and As.
type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }

func (s *Store) endpoint() string {
	if s.c.endpoint != "" {
		return s.c.endpoint
	}
	return "of AWS"
}

// List implements storage.Store. It lists the first level of folders below prefix with a
// delimiter, then lists those folders in parallel: a catalog spread over A/ … Z/ is listed in
// the time of its largest letter rather than of all of them.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	var mu sync.Mutex
	emit := func(o types.Object) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(storage.Object{Name: s.name(aws.ToString(o.Key)), Size: aws.ToInt64(o.Size), Version: aws.ToString(o.ETag)})
	}
	base := s.key(prefix)
	if prefix != "" {
		// The prefix itself may be an object.
		if o, err := s.Stat(ctx, prefix); err == nil {
			if err := fn(o); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if base != "" {
		base += "/"
	}
	var subdirs []string
	err := s.list(ctx, base, "/", func(page *s3.ListObjectsV2Output) error {
		for _, o := range page.Contents {
			if err := emit(o); err != nil {
				return err
			}
		}
		for _, p := range page.CommonPrefixes {
			subdirs = append(subdirs, aws.ToString(p.Prefix))
		}
		return nil
	})
	if err != nil {
		return s.wrap("list", prefix, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.c.concurrency)
	for _, dir := range subdirs {
		g.Go(func() error {
			return s.list(gctx, dir, "", func(page *s3.ListObjectsV2Output) error {
				for _, o := range page.Contents {
					if err := emit(o); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return s.wrap("list", prefix, err)
	}
	return nil
}

func (s *Store) list(ctx context.Context, prefix, delimiter string, page func(*s3.ListObjectsV2Output) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	p := s3.NewListObjectsV2Paginator(s.c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		if err := page(out); err != nil {
			return err
		}
	}
	return nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, name string) (storage.Object, error) {
	out, err := s.c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(name))})
	if err != nil {
		return storage.Object{}, s.wrap("stat", name, err)
	}
	return storage.Object{Name: name, Size: aws.ToInt64(out.ContentLength), Version: aws.ToString(out.ETag)}, nil
}

// Open implements storage.Store. The body streams from S3; when the connection breaks part-way,
// the reader asks again for the rest of the same version of the object.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := s.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(name))})
	if err != nil {
		return nil, s.wrap("get", name, err)
	}
	return &resumingReader{ctx: ctx, s: s, name: name, body: out.Body, etag: aws.ToString(out.ETag), left: maxResumes}, nil
}

// maxResumes bounds how often one object's read resumes after a broken connection.
const maxResumes = 10

type resumingReader struct {
	ctx  context.Context
	s    *Store
	name string
	body io.ReadCloser
	etag string
	off  int64
	left int // resumptions left
}

func (r *resumingReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == nil || err == io.EOF || r.left == 0 || r.ctx.Err() != nil {
		if err != nil && err != io.EOF {
			err = r.s.wrap("read", r.name, err)
		}
		return n, err
	}
	r.left--
	r.s.c.retries.Add(1)
	r.body.Close()
	// A short, growing pause: a connection that broke may mean a server under strain.
	select {
	case <-time.After(time.Duration(maxResumes-r.left) * 20 * time.Millisecond):
	case <-r.ctx.Done():
		return n, r.s.wrap("read", r.name, r.ctx.Err())
	}
	out, gerr := r.s.c.api.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket: aws.String(r.s.bucket), Key: aws.String(r.s.key(r.name)),
		Range: aws.String(fmt.Sprintf("bytes=%d-", r.off)), IfMatch: aws.String(r.etag),
	})
	if gerr != nil {
		r.body = io.NopCloser(strings.NewReader(""))
		return n, r.s.wrap("read", r.name, fmt.Errorf("%w (resuming after: %v)", gerr, err))
	}
	r.body = out.Body
	return n, nil
}

func (r *resumingReader) Close() error { return r.body.Close() }

// Create implements storage.Store. An object of up to smallObject bytes is kept in memory and
// sent with one PutObject when Close is called; a bigger one is streamed to S3 as it is written,
// in parts. Either way it becomes visible only when Close returns. Abort drops the buffer, or
// cancels the upload and S3 discards the parts.
func (s *Store) Create(ctx context.Context, name string) (storage.Writer, error) {
	return &writer{ctx: ctx, s: s, name: name}, nil
}

// smallObject is the size up to which an object is sent whole from Close, on the caller's
// goroutine: most of a lake's objects (the songs table's thousands of files) are a few KiB, and
// streaming each through a pipe to a goroutine of its own (whose stack grew anew through the
// SDK's deep call chain for every object) cost more processor time than the request itself.
// The transfer manager sends an object under its part size (8 MiB) in one request too.
const smallObject = 5 << 20

var errAborted = errors.New("upload aborted")

type writer struct {
	ctx    context.Context
	s      *Store
	name   string
	buf    []byte // the object while it is small; nil once it streams
	closed bool

	// Set when the object outgrows smallObject and streams through the transfer manager.
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, w.s.wrap("put", w.name, errors.New("write after close"))
	}
	if w.pw == nil {
		if len(w.buf)+len(p) <= smallObject {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.stream()
		buf := w.buf
		w.buf = nil
		if _, err := w.pw.Write(buf); err != nil {
			return 0, w.s.wrap("put", w.name, err)
		}
	}
	n, err := w.pw.Write(p)
	if err != nil {
		return n, w.s.wrap("put", w.name, err)
	}
	return n, nil
}

// stream starts the upload of an object too big to buffer: what is written goes through a pipe
// to the transfer manager, which sends it in parts.
func (w *writer) stream() {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(w.ctx)
	w.pw, w.cancel, w.done = pw, cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		_, err := w.s.c.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(w.s.bucket), Key: aws.String(w.s.key(w.name)), Body: pr,
		})
		pr.CloseWithError(err) // unblock a writer if the upload failed early
		w.err = err
	}()
}

func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.pw == nil {
		_, err := w.s.c.api.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket: aws.String(w.s.bucket), Key: aws.String(w.s.key(w.name)), Body: bytes.NewReader(w.buf),
		})
		w.buf = nil
		return w.s.wrap("put", w.name, err)
	}
	w.pw.Close()
	<-w.done
	w.cancel()
	return w.s.wrap("put", w.name, w.err)
}

func (w *writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.pw == nil {
		w.buf = nil
		return nil
	}
	w.pw.CloseWithError(errAborted)
	w.cancel()
	<-w.done
	return nil
}

// RemoveAll implements storage.Store, deleting in batches of 1,000 keys.
func (s *Store) RemoveAll(ctx context.Context, prefix string) error {
	if prefix == "" && s.prefix == "" {
		return fmt.Errorf("s3 remove %s: refusing to empty a whole bucket: %w", s.Location(""), fs.ErrPermission)
	}
	var keys []types.ObjectIdentifier
	err := s.List(ctx, prefix, func(o storage.Object) error {
		keys = append(keys, types.ObjectIdentifier{Key: aws.String(s.key(o.Name))})
		return nil
	})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		g.Go(func() error {
			out, err := s.c.api.DeleteObjects(gctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
			})
			if err != nil {
				return s.wrap("delete", prefix, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("s3 delete %s: %s: %s", s.Location(s.name(aws.ToString(e.Key))), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			return nil
		})
	}
	return g.Wait()
}

// CopyObject is Features().CopyObject, a server-side copy: no bytes pass through this
// machine. Objects above 5 GiB would need a multipart copy; table files are split near 128 MiB.
func (s *Store) CopyObject(ctx context.Context, from, to string) error {
	_, err := s.c.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.bucket),
		Key:        aws.String(s.key(to)),
		CopySource: aws.String(s.bucket + "/" + escapeKey(s.key(from))),
	})
	return s.wrap("copy", from, err)
}

// escapeKey URL-escapes a key for CopySource, keeping its slashes.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
