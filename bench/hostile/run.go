package main

import (
	"hash/crc32"
	"os/exec"
)

// binPath is the retrofit binary built by main.
var binPath string

// execRetrofit is a command running the built binary.
func execRetrofit(args ...string) *exec.Cmd { return exec.Command(binPath, args...) }

// crc32c is the checkpoint checksum.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
