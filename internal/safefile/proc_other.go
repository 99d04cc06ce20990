//go:build !unix

package safefile

import "os"

// processAlive reports whether a process with this id exists.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

// umask is zero where the platform has none.
func umask() os.FileMode { return 0 }
