//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSKB is an exited child's peak resident set size in KB from getrusage
// (which reports bytes on macOS), or 0.
func maxRSSKB(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}
