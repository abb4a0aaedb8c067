//go:build !linux

package testserver

import "errors"

// cpuSeconds is only implemented on Linux, where it reads /proc/<pid>/stat.
func (p *process) cpuSeconds() (float64, error) {
	return 0, errors.New("testserver: a server's CPU time can only be read on Linux")
}
