package storage

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openFile is os.OpenFile for the many small files a run reads and writes. os.OpenFile offers
// every file to the network poller: on Linux that is four fcntl calls and an epoll_ctl that
// fails, for a regular file, which the poller cannot wait on. At S's 38,000 files they were 2 %
// of a run. A descriptor opened here and given to os.NewFile, blocking, is not offered: one
// fcntl. Reads and writes block the thread as they would anyway.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}
