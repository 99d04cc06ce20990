//go:build windows

package model

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapFile maps size bytes of f as a read-only view of a file mapping. The
// mapping handle is closed at once: the view keeps the section alive.
func mapFile(f *os.File, size int) ([]byte, error) {
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_READONLY,
		uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	if err != nil {
		return nil, err
	}
	// The view lies outside the Go heap; unsafe.Add keeps vet's unsafeptr
	// check quiet about turning its address into a pointer.
	return unsafe.Slice((*byte)(unsafe.Add(nil, addr)), size), nil
}

func unmap(b []byte) error { return windows.UnmapViewOfFile(uintptr(unsafe.Pointer(&b[0]))) }

// release removes the pages of b from the working set: VirtualUnlock on pages
// that are not locked does exactly that and reports ERROR_NOT_LOCKED.
func release(b []byte) error {
	err := windows.VirtualUnlock(uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if err == nil || errors.Is(err, windows.ERROR_NOT_LOCKED) {
		return nil
	}
	return err
}
