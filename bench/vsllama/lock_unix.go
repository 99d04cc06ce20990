//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// benchLock is the file every vsllama speed run on this machine holds
// while it measures: two runs at once would each time the other's load.
const benchLock = "/tmp/retrofit-bench.lock"

// lockMachine waits until no other vsllama speed run is measuring and
// returns the function that lets the next one go.
func lockMachine() (func(), error) {
	f, err := os.OpenFile(benchLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("bench lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "vsllama: waiting for another speed run to finish (%s)\n", benchLock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("bench lock %s: %w", benchLock, err)
		}
	}
	return func() { f.Close() }, nil
}
