//go:build !unix

package main

// lockMachine is a no-op where flock(2) is missing.
func lockMachine() (func(), error) { return func() {}, nil }
