//go:build unix

package workerpool

import (
	"os"
	"os/exec"
	"syscall"
)

// sysProcAttr puts a worker in a process group of its own, so that stopping it also stops
// anything it started, and (on Linux) has it killed if the pool dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a)
	return a
}

func terminate(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	// The worker leads its group: -pid names the group.
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// maxRSSKiB is the exited process's peak resident memory, for the log (KiB on Linux; bytes on
// macOS, which only shows it larger).
func maxRSSKiB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}
