//go:build unix

package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// localConditional is Features().Conditional of a Local store: compare-and-swap writes of one
// object, atomic across the processes of one host.
//
// Each conditional write holds an exclusive flock(2) on a sidecar file, the object's name
// followed by lockSuffix, while it reads the object, compares its version and renames a
// temporary file into place; a sidecar stays once made (removing a lock file while another
// process waits on it lets two hold it). Reads take no lock: the rename replaces the object
// whole. The guarantee therefore holds where flock does: local disks, and Linux NFS v4 clients,
// which turn flock into byte-range locks held by the server (not with the mount options nolock
// or local_lock=flock|all, which keep locks on one client). It does not cover plain Create,
// RemoveAll or Move of the same object.
//
// A version is a hash of the content, its size, its modification time in nanoseconds and its
// inode number. Each conditional write sets the new file's modification time after the one it
// replaces, so a version changes on every write even when the content repeats.
type localConditional struct{ l *Local }

// lockSuffix ends the name of the sidecar file that conditional writes of an object lock.
const lockSuffix = ".flock"

func (l *Local) conditional() Conditional { return localConditional{l} }

// lockStripes serialize the conditional writes of one process before they take the flock: flock
// excludes open files from each other, but on NFS it becomes a lock of the whole process.
var (
	lockStripes [64]chan struct{}
	lockSeed    = maphash.MakeSeed()
)

func init() {
	for i := range lockStripes {
		lockStripes[i] = make(chan struct{}, 1)
	}
}

// lock takes the lock of the object at path p, whose folder must exist, and returns its release.
func lock(ctx context.Context, p string) (func(), error) {
	stripe := lockStripes[maphash.String(lockSeed, p)%uint64(len(lockStripes))]
	select {
	case stripe <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	side := p + lockSuffix
	for {
		f, err := os.OpenFile(side, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			<-stripe
			return nil, err
		}
		if err := flock(ctx, f); err != nil {
			f.Close()
			<-stripe
			return nil, err
		}
		// A sidecar removed while this one waited (by a RemoveAll of its folder) is no lock:
		// start again on the file now at that name.
		fi, err1 := f.Stat()
		now, err2 := os.Stat(side)
		if err1 == nil && err2 == nil && os.SameFile(fi, now) {
			return func() { f.Close(); <-stripe }, nil
		}
		f.Close()
	}
}

// flock takes an exclusive lock on f, polling so that ctx can end the wait.
func flock(ctx context.Context, f *os.File) error {
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			return &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// ReadVersioned implements Conditional.
func (c localConditional) ReadVersioned(ctx context.Context, name string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	p, err := c.l.path(name)
	if err != nil {
		return nil, "", err
	}
	data, info, err := readCurrent(p)
	if err != nil {
		return nil, "", err
	}
	return data, localVersion(data, info), nil
}

// readCurrent reads the object at p, with what its version is made of.
func readCurrent(p string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if info.IsDir() {
		return nil, nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "read", Path: p, Err: cause(err)}
	}
	return data, info, nil
}

func localVersion(data []byte, info fs.FileInfo) string {
	sum := sha256.Sum256(data)
	var ino uint64
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return hex.EncodeToString(sum[:8]) + "-" + strconv.FormatInt(info.Size(), 10) + "-" +
		strconv.FormatInt(info.ModTime().UnixNano(), 10) + "-" + strconv.FormatUint(ino, 10)
}

// CreateIfAbsent implements Conditional.
func (c localConditional) CreateIfAbsent(ctx context.Context, name string, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := c.l.path(name)
	if err != nil {
		return "", err
	}
	if err := mkdir(filepath.Dir(p)); err != nil {
		return "", err
	}
	unlock, err := lock(ctx, p)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Lstat(p); err == nil {
		return "", &fs.PathError{Op: "create", Path: p, Err: fmt.Errorf("%w: it exists", ErrPrecondition)}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return writeReplacing(p, data, nil)
}

// ReplaceIfMatch implements Conditional.
func (c localConditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := c.l.path(name)
	if err != nil {
		return "", err
	}
	missing := &fs.PathError{Op: "replace", Path: p, Err: fmt.Errorf("%w: it does not exist (%w)", ErrPrecondition, fs.ErrNotExist)}
	unlock, err := lock(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", missing // no folder
	} else if err != nil {
		return "", err
	}
	defer unlock()
	cur, info, err := readCurrent(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", missing
	} else if err != nil {
		return "", err
	}
	if localVersion(cur, info) != version {
		return "", &fs.PathError{Op: "replace", Path: p, Err: fmt.Errorf("%w: it changed since it was read", ErrPrecondition)}
	}
	return writeReplacing(p, data, info)
}

// writeReplacing writes data to p through a temporary file renamed into place, durably, and
// returns its version. The file's modification time is set after prev's, the file it replaces.
func writeReplacing(p string, data []byte, prev fs.FileInfo) (string, error) {
	fail := func(err error) (string, error) {
		return "", &fs.PathError{Op: "write", Path: p, Err: cause(err)}
	}
	f, err := createTemp(p)
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	info, err := setModTime(f, prev)
	if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fail(err)
	}
	done = true
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fail(err)
	}
	return localVersion(data, info), nil
}

// setModTime sets f's modification time to now, or if that is not after prev's (when prev is
// not nil), to the first time after it the file system keeps (nanoseconds on ext4, XFS, Btrfs and tmpfs; coarser
// elsewhere), and returns f's new description.
func setModTime(f *os.File, prev fs.FileInfo) (fs.FileInfo, error) {
	if prev == nil {
		return f.Stat()
	}
	t := time.Now()
	steps := []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second, 2 * time.Second}
	for i := 0; ; i++ {
		if !t.After(prev.ModTime()) {
			t = prev.ModTime().Add(steps[min(i, len(steps)-1)])
		}
		if err := os.Chtimes(f.Name(), t, t); err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err != nil || info.ModTime().After(prev.ModTime()) || i == len(steps) {
			return info, err
		}
		t = prev.ModTime()
	}
}
