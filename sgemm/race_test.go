//go:build race

package sgemm

// raceEnabled: sync.Pool deliberately drops items under the race detector.
const raceEnabled = true
