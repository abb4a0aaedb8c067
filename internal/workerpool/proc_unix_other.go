//go:build unix && !linux

package workerpool

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}
