package model

import "os"

// Release tells the kernel that the mapped bytes [off, off+n) are not needed
// for now, so they stop counting toward the process's resident memory; they
// are read again from the file if touched later. Streaming writers call it
// after each tensor to keep peak RSS near one tensor, not the whole file.
func (m *MappedFile) Release(off, n int64) error {
	if m.data == nil || n <= 0 || off < 0 || off >= int64(len(m.data)) {
		return nil
	}
	page := int64(os.Getpagesize())
	start := off / page * page
	end := min(off+n, int64(len(m.data)))
	end = (end + page - 1) / page * page
	end = min(end, int64(len(m.data)))
	if end <= start {
		return nil
	}
	return release(m.data[start:end])
}

// releaseMargin widens the ranges tensors release: on a fault the kernel maps
// pages around the faulting address (fault-around, whole large folios),
// including pages before it that were already released, which would
// otherwise stay resident.
const releaseMargin = 2 << 20

// Release drops the resident pages of a tensor read from a memory-mapped file
// (see MappedFile.Release), with a margin on both sides; it does nothing for
// other tensors. Byte slices returned earlier by Bytes stay valid.
func (t *Tensor) Release() { t.ReleaseRange(0, t.size) }

// ReleaseRange is Release for the stored bytes [off, off+n) of the tensor.
func (t *Tensor) ReleaseRange(off, n int64) {
	if mf, ok := t.src.(*MappedFile); ok {
		start := max(t.off+off-releaseMargin, 0)
		mf.Release(start, t.off+off+n+releaseMargin-start)
	}
}
