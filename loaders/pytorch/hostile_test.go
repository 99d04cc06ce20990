package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPickleBombs: a pickle that would build millions of objects is refused
// by its opcode count before the unpickler runs (allocating little more than
// the pickle; go run ./bench/hostile measures time and RSS), and a huge key
// is not copied into the error message.
func TestPickleBombs(t *testing.T) {
	emptyLists := "\x80\x02" + strings.Repeat("]", 32<<20) + "."
	hugeKey := "\x80\x02}q\x00X" + string(binary.LittleEndian.AppendUint32(nil, 50<<20)) + strings.Repeat("k", 50<<20) + "K\x01s."
	cases := []struct {
		name, pkl, want string
	}{
		{"32 MiB of EMPTY_LIST", emptyLists, "more than 1048576 pickle opcodes"},
		{"50 MB key", hugeKey, "is 52428800 bytes, not a tensor name"},
		{"50 MB global", "\x80\x02c" + strings.Repeat("m", 50<<20) + "\nx\n)R.", "no end of line within 65536 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := unpickle([]byte(c.pkl))
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message of %d bytes", len(err.Error()))
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%v, %d MB allocated", took, alloc>>20)
			if alloc > 4*uint64(len(c.pkl))+64<<20 {
				t.Errorf("allocated %d bytes for a %d-byte pickle", alloc, len(c.pkl))
			}
		})
	}
}

// TestZipEntryBounds: an entry whose header understates its size is
// refused (archive/zip stops at the declared size; readEntry at its limit).
func TestZipEntryBounds(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("archive/data.pkl")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{'.'}, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f := zr.File[0]
	f.UncompressedSize64 = 10 // a forged header
	if _, err := readEntry(f, 1000); err == nil || !strings.Contains(err.Error(), "archive/data.pkl") {
		t.Errorf("forged size: error %v", err)
	}
	f.UncompressedSize64 = 1 << 20
	if _, err := readEntry(f, 1000); err == nil || !strings.Contains(err.Error(), "exceeds the 1000-byte limit") {
		t.Errorf("declared size: error %v", err)
	}
}
