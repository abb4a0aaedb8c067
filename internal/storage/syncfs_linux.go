package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

func syncFS(d *os.File) error { return unix.Syncfs(int(d.Fd())) }
