package spill

import (
	"os"
	"syscall"
)

// mapFile maps the first n bytes of f into memory, read-only, with every page present
// (MAP_POPULATE: one system call instead of a fault per page; the file was just written, so its
// pages are in the page cache). ok is false when the mapping fails (a file system that cannot
// map, an address space that is full); the caller then reads the file instead.
func mapFile(f *os.File, n int64) (data []byte, ok bool) {
	if n <= 0 || int64(int(n)) != n {
		return nil, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	var merr error
	err = rc.Control(func(fd uintptr) {
		data, merr = syscall.Mmap(int(fd), 0, int(n), syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
	})
	if err != nil || merr != nil {
		return nil, false
	}
	return data, true
}

// unmap undoes mapFile.
func unmap(data []byte) { _ = syscall.Munmap(data) }
