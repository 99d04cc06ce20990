//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSKB is a finished child's peak resident memory in KB (getrusage
// counts KB on Linux, bytes on macOS; where GNU time is present its figure
// replaces this one).
func maxRSSKB(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}
