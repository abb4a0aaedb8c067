//go:build !linux

package spill

import "os"

// mapFile is not used here: ReadAll reads the file (see mmap_linux.go).
func mapFile(*os.File, int64) ([]byte, bool) { return nil, false }

// unmap is never called here.
func unmap([]byte) {}
