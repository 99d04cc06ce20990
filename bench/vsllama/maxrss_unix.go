//go:build unix

package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// maxRSS returns the peak resident set size of an exited child in bytes
// (getrusage reports kilobytes on Linux and the BSDs, bytes on macOS).
func maxRSS(ps *os.ProcessState) (int64, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, fmt.Errorf("no rusage")
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss), nil
	}
	return int64(ru.Maxrss) * 1024, nil
}
