package model

import (
	"fmt"
	"os"
)

// MappedFile is a read-only memory mapping of a whole file. It implements
// io.ReaderAt and Slicer, so tensors read from it are zero-copy. The mapping
// itself is per platform: mmap(2) on unix (mmap_unix.go), a read-only file
// mapping view on Windows (mmap_windows.go), and on the rest (plan9, wasm)
// the file read into memory once (mmap_other.go).
type MappedFile struct {
	name string
	data []byte
}

// MapFile maps the named file read-only.
func MapFile(name string) (*MappedFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &MappedFile{name: name}, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: file too large to map", name)
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", name, err)
	}
	return &MappedFile{name: name, data: data}, nil
}

// Name returns the file name.
func (m *MappedFile) Name() string { return m.name }

// Len returns the file size.
func (m *MappedFile) Len() int64 { return int64(len(m.data)) }

// ReadAt implements io.ReaderAt.
func (m *MappedFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.data)) {
		return 0, fmt.Errorf("offset %d outside file of %d bytes", off, len(m.data))
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, fmt.Errorf("read of %d bytes at offset %d runs past the end of the %d-byte file", len(p), off, len(m.data))
	}
	return n, nil
}

// Slice returns data[off:off+n] without copying.
func (m *MappedFile) Slice(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > int64(len(m.data)) || n > int64(len(m.data))-off {
		return nil, fmt.Errorf("range [%d, %d) outside file of %d bytes", off, off+n, len(m.data))
	}
	return m.data[off : off+n : off+n], nil
}

// Close unmaps the file.
func (m *MappedFile) Close() error {
	if m.data == nil {
		return nil
	}
	err := unmap(m.data)
	m.data = nil
	return err
}
