//go:build linux

package testserver

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: the kernel converts
// them to USER_HZ, which is 100 on every architecture Go runs on under Linux. (Asking
// sysconf(_SC_CLK_TCK) would need cgo.)
const clockTicks = 100

// cpuSeconds is the user plus system CPU time the server has used since it started, in seconds.
// It exists so that a benchmark can tell the servers' CPU from the pipeline's when both share
// the machine's cores.
//
// While the server runs it is read from /proc/<pid>/stat (all of the process's threads, in
// clock ticks, so in steps of 10 ms); once the server has exited and been waited for, from its
// exit status.
func (p *process) cpuSeconds() (float64, error) {
	if p == nil {
		return 0, errors.New("testserver: CPU time: no server process (not started by this package)")
	}
	if p.hasExited() {
		return p.exitedCPUSeconds()
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if p.hasExited() {
		// It exited meanwhile: the read may have failed, or found another process that
		// reused the pid; the exit status has the final figure.
		return p.exitedCPUSeconds()
	}
	if err != nil {
		return 0, fmt.Errorf("testserver: %s CPU time: %w", p.name, err)
	}
	utime, stime, err := parseProcStat(string(data))
	if err != nil {
		return 0, fmt.Errorf("testserver: %s CPU time: %w", p.name, err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// exitedCPUSeconds is cpuSeconds for a process that has exited.
func (p *process) exitedCPUSeconds() (float64, error) {
	<-p.exited // ProcessState is set before exited is closed
	ps := p.cmd.ProcessState
	if ps == nil {
		return 0, fmt.Errorf("testserver: %s CPU time: it exited without an exit status (%v)", p.name, p.waitErr)
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds(), nil
}

// parseProcStat returns utime and stime (fields 14 and 15, in clock ticks) from the contents
// of /proc/<pid>/stat, "pid (comm) state ppid ...". The command name comm may itself hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseProcStat(stat string) (utime, stime uint64, err error) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return 0, 0, fmt.Errorf("unexpected /proc stat line %q: no (comm)", abbreviate(stat))
	}
	f := strings.Fields(stat[end+1:]) // f[0] is field 3, state: field n is f[n-3]
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("unexpected /proc stat line %q: %d fields after (comm), want at least 13", abbreviate(stat), len(f))
	}
	if utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("unexpected /proc stat line %q: utime: %w", abbreviate(stat), err)
	}
	if stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("unexpected /proc stat line %q: stime: %w", abbreviate(stat), err)
	}
	return utime, stime, nil
}

// abbreviate shortens s for an error message.
func abbreviate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
