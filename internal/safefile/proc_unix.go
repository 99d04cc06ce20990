//go:build unix

package safefile

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// processAlive reports whether a process with this id exists (one we may
// not signal counts as alive).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

var umaskMu sync.Mutex

// umask is the process's file-creation mask: read from /proc/self/status
// where Linux provides it, else by setting and restoring it.
func umask() os.FileMode {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if _, rest, ok := bytes.Cut(b, []byte("\nUmask:")); ok {
			line, _, _ := bytes.Cut(rest, []byte("\n"))
			if v, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 8, 32); err == nil {
				return os.FileMode(v)
			}
		}
	}
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	return os.FileMode(old)
}
