package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// MemoryOptions configure a Memory store.
type MemoryOptions struct {
	// Name is shown in messages: Location(name) is "mem://<Name>/<name>".
	Name string

	// ObjectStore gives the store the features of an object store such as S3: no Move (so
	// storage.Move copies, then removes), a server-side CopyObject, writes that are durable
	// when they return (no Sync), and versions that hash the content (ContentVersion). By
	// default it has those of a local disk: Move renames an object or a folder atomically, Sync
	// exists, and an object cannot have the name of a folder ("a" and "a/b" cannot both be
	// written), as files and folders cannot.
	ObjectStore bool

	// Concurrency is what Features reports.
	Concurrency int
}

// Memory is a Store held in memory, for tests: it behaves as a local folder or, with
// MemoryOptions.ObjectStore, as an object store, and writes conditionally.
type Memory struct {
	opts MemoryOptions
	mu   sync.Mutex
	objs map[string]memObject
	gen  uint64 // writes so far; each object's version is the gen that wrote it
}

type memObject struct {
	data []byte // never changed once stored
	gen  uint64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory(opts MemoryOptions) *Memory {
	return &Memory{opts: opts, objs: map[string]memObject{}}
}

// Location implements Store.
func (m *Memory) Location(name string) string {
	if name == "" {
		return "mem://" + m.opts.Name
	}
	return "mem://" + m.opts.Name + "/" + name
}

// Features implements Store.
func (m *Memory) Features() Features {
	f := Features{Concurrency: m.opts.Concurrency, Conditional: memConditional{m}}
	if m.opts.ObjectStore {
		f.CopyObject, f.ContentVersion = m.copyObject, true
	} else {
		f.Move, f.Sync = m.move, m.sync
	}
	return f
}

// check validates an object name (prefix: a prefix, which may be "").
func (m *Memory) check(ctx context.Context, op, name string, prefix bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if (prefix && name == "") || (name != "." && fs.ValidPath(name)) {
		return nil
	}
	return &fs.PathError{Op: op, Path: m.Location(name), Err: fs.ErrInvalid}
}

// below reports whether name is prefix or below it.
func below(name, prefix string) bool {
	return prefix == "" || name == prefix || strings.HasPrefix(name, prefix+"/")
}

// List implements Store. fn is called without the store's lock held.
func (m *Memory) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if err := m.check(ctx, "list", prefix, true); err != nil {
		return err
	}
	var objs []Object
	m.mu.Lock()
	for name, o := range m.objs {
		if below(name, prefix) {
			objs = append(objs, m.object(name, o))
		}
	}
	m.mu.Unlock()
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) get(ctx context.Context, op, name string) (memObject, error) {
	if err := m.check(ctx, op, name, false); err != nil {
		return memObject{}, err
	}
	m.mu.Lock()
	o, ok := m.objs[name]
	m.mu.Unlock()
	if !ok {
		return memObject{}, &fs.PathError{Op: op, Path: m.Location(name), Err: fs.ErrNotExist}
	}
	return o, nil
}

// Stat implements Store.
func (m *Memory) Stat(ctx context.Context, name string) (Object, error) {
	o, err := m.get(ctx, "stat", name)
	if err != nil {
		return Object{}, err
	}
	return m.object(name, o), nil
}

// object describes o. An object store's versions hash the content, as S3's ETags do
// (Features.ContentVersion); otherwise they count writes, as a disk's modification times tell
// one write from another.
func (m *Memory) object(name string, o memObject) Object {
	v := strconv.FormatUint(o.gen, 10)
	if m.opts.ObjectStore {
		sum := md5.Sum(o.data)
		v = hex.EncodeToString(sum[:])
	}
	return Object{Name: name, Size: int64(len(o.data)), Version: v}
}

// Open implements Store.
func (m *Memory) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	o, err := m.get(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, name string) (Writer, error) {
	if err := m.check(ctx, "create", name, false); err != nil {
		return nil, err
	}
	return &memWriter{m: m, name: name}, nil
}

// put stores an object; the caller holds m.mu.
func (m *Memory) put(op, name string, data []byte) (uint64, error) {
	if err := m.conflict(op, name); err != nil {
		return 0, err
	}
	m.gen++
	m.objs[name] = memObject{data: data, gen: m.gen}
	return m.gen, nil
}

// conflict refuses, on a disk, an object named as a folder or below an object; the caller
// holds m.mu.
func (m *Memory) conflict(op, name string) error {
	if m.opts.ObjectStore {
		return nil
	}
	for i := range len(name) {
		if name[i] == '/' {
			if _, ok := m.objs[name[:i]]; ok {
				return &fs.PathError{Op: op, Path: m.Location(name), Err: syscall.ENOTDIR}
			}
		}
	}
	for n := range m.objs {
		if strings.HasPrefix(n, name+"/") {
			return &fs.PathError{Op: op, Path: m.Location(name), Err: syscall.EISDIR}
		}
	}
	return nil
}

type memWriter struct {
	m    *Memory
	name string
	buf  bytes.Buffer
	done bool
}

var errClosed = errors.New("writer is closed")

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.m.Location(w.name), Err: errClosed}
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	_, err := w.m.put("write", w.name, bytes.Clone(w.buf.Bytes()))
	return err
}

func (w *memWriter) Abort() error {
	w.done = true
	return nil
}

// RemoveAll implements Store.
func (m *Memory) RemoveAll(ctx context.Context, prefix string) error {
	if err := m.check(ctx, "remove", prefix, true); err != nil {
		return err
	}
	if prefix == "" {
		return &fs.PathError{Op: "remove", Path: m.Location(""), Err: fs.ErrPermission}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.objs {
		if below(name, prefix) {
			delete(m.objs, name)
		}
	}
	return nil
}

// move is Features().Move on a disk: an atomic rename of an object or a folder.
func (m *Memory) move(ctx context.Context, from, to string) error {
	if err := m.check(ctx, "move", from, false); err != nil {
		return err
	}
	if err := m.check(ctx, "move", to, false); err != nil {
		return err
	}
	if below(to, from) {
		return &fs.PathError{Op: "move", Path: m.Location(to), Err: syscall.EINVAL}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var src []string
	for name := range m.objs {
		if below(name, to) {
			return &fs.PathError{Op: "move", Path: m.Location(to), Err: fs.ErrExist}
		}
		if below(name, from) {
			src = append(src, name)
		}
	}
	if len(src) == 0 {
		return &fs.PathError{Op: "move", Path: m.Location(from), Err: fs.ErrNotExist}
	}
	if err := m.conflict("move", to); err != nil {
		return err
	}
	for _, name := range src {
		m.objs[to+name[len(from):]] = m.objs[name]
		delete(m.objs, name)
	}
	return nil
}

// sync is Features().Sync on a disk: memory has nothing to flush.
func (m *Memory) sync(ctx context.Context) error { return ctx.Err() }

// copyObject is Features().CopyObject of an object store.
func (m *Memory) copyObject(ctx context.Context, from, to string) error {
	o, err := m.get(ctx, "copy", from)
	if err != nil {
		return err
	}
	if err := m.check(ctx, "copy", to, false); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err = m.put("copy", to, o.data)
	return err
}

// memConditional is Features().Conditional of a Memory store; a version is the number of the
// write that made the object, so it changes on every write.
type memConditional struct{ m *Memory }

func memVersion(gen uint64) string { return strconv.FormatUint(gen, 10) }

// ReadVersioned implements Conditional.
func (c memConditional) ReadVersioned(ctx context.Context, name string) ([]byte, string, error) {
	o, err := c.m.get(ctx, "read", name)
	if err != nil {
		return nil, "", err
	}
	return bytes.Clone(o.data), memVersion(o.gen), nil
}

// CreateIfAbsent implements Conditional.
func (c memConditional) CreateIfAbsent(ctx context.Context, name string, data []byte) (string, error) {
	if err := c.m.check(ctx, "create", name, false); err != nil {
		return "", err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if _, ok := c.m.objs[name]; ok {
		return "", &fs.PathError{Op: "create", Path: c.m.Location(name), Err: fmt.Errorf("%w: it exists", ErrPrecondition)}
	}
	gen, err := c.m.put("create", name, bytes.Clone(data))
	return memVersion(gen), err
}

// ReplaceIfMatch implements Conditional.
func (c memConditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	if err := c.m.check(ctx, "replace", name, false); err != nil {
		return "", err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	o, ok := c.m.objs[name]
	if !ok {
		return "", &fs.PathError{Op: "replace", Path: c.m.Location(name), Err: fmt.Errorf("%w: it does not exist (%w)", ErrPrecondition, fs.ErrNotExist)}
	}
	if memVersion(o.gen) != version {
		return "", &fs.PathError{Op: "replace", Path: c.m.Location(name), Err: fmt.Errorf("%w: it changed since it was read", ErrPrecondition)}
	}
	gen, err := c.m.put("replace", name, bytes.Clone(data))
	return memVersion(gen), err
}
