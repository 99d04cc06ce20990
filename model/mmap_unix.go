//go:build unix

package model

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only and shared.
func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
}

func unmap(b []byte) error { return unix.Munmap(b) }

// release drops the resident pages of b (page-aligned): they are read again
// from the file if touched later.
func release(b []byte) error { return unix.Madvise(b, unix.MADV_DONTNEED) }
