//go:build !linux

package storage

import (
	"os"
	"os/exec"
)

// syncFS falls back to sync(1), which flushes every file system: slower, but rare off Linux.
func syncFS(*os.File) error { return exec.Command("sync").Run() }
