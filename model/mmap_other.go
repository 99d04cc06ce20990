//go:build !unix && !windows

package model

import (
	"io"
	"os"
)

// mapFile reads the whole file: platforms without mmap (plan9, js, wasip1)
// hold it in memory instead of mapping it.
func mapFile(f *os.File, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

func unmap([]byte) error { return nil }

func release([]byte) error { return nil }
