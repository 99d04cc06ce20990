package quant

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/x448/float16"
)

func f16(x float32) []byte {
	return binary.LittleEndian.AppendUint16(nil, float16.Fromfloat32(x).Bits())
}

func TestDequantizeQ8_0(t *testing.T) {
	blk := f16(0.5)
	for j := range 32 {
		blk = append(blk, byte(int8(j-16))) // −16 … 15
	}
	blk = append(blk, f16(-2)...)
	blk = append(blk, make([]byte, 32)...)
	blk[34+2+31] = 0x81 // −127
	got := make([]float32, 64)
	if err := DequantizeQ8_0(got, blk); err != nil {
		t.Fatal(err)
	}
	for j := range 32 {
		if want := float32(j-16) * 0.5; got[j] != want {
			t.Errorf("y[%d] = %g, want %g", j, got[j], want)
		}
	}
	if got[63] != 254 || got[40] != 0 {
		t.Errorf("second block: y[63] = %g (want 254), y[40] = %g", got[63], got[40])
	}
	if err := DequantizeQ8_0(make([]float32, 32), blk); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestDequantizeQ4_0(t *testing.T) {
	blk := f16(0.25)
	for j := range 16 {
		blk = append(blk, byte(j)|byte(15-j)<<4)
	}
	got := make([]float32, 32)
	if err := DequantizeQ4_0(got, blk); err != nil {
		t.Fatal(err)
	}
	for j := range 16 {
		if want := float32(j-8) * 0.25; got[j] != want {
			t.Errorf("y[%d] = %g, want %g", j, got[j], want)
		}
		if want := float32(7-j) * 0.25; got[16+j] != want {
			t.Errorf("y[%d] = %g, want %g", 16+j, got[16+j], want)
		}
	}
}

// TestDequantizeQ4_K spells out one super-block: d = 0.5, dmin = 0.25 and
// packed scales chosen so each sub-block has a distinct scale and min,
// including the 6-bit values of sub-blocks 4-7 that borrow top bits.
func TestDequantizeQ4_K(t *testing.T) {
	scales := []byte{
		0x41, 0x82, 0xC3, 0x04, // bytes 0-3: scales of sub-blocks 0-3 = 1,2,3,4; top bits 1,2,3,0 → high bits of scales 4-7
		0x05, 0x46, 0x87, 0xC8, // bytes 4-7: mins of sub-blocks 0-3 = 5,6,7,8; top bits 0,1,2,3 → high bits of mins 4-7
		0x29, 0x3A, 0x4B, 0x5C, // bytes 8-11: low nibble = scale low 4 bits (9,10,11,12), high nibble = min low bits (2,3,4,5)
	}
	// Sub-block j: scale, min
	want := [8][2]float32{
		{1, 5}, {2, 6}, {3, 7}, {4, 8},
		{9 + 16*1, 2 + 16*0}, {10 + 16*2, 3 + 16*1}, {11 + 16*3, 4 + 16*2}, {12 + 16*0, 5 + 16*3},
	}
	blk := append(f16(0.5), f16(0.25)...)
	blk = append(blk, scales...)
	for i := range 128 {
		blk = append(blk, byte(i%16)|byte((i+3)%16)<<4)
	}
	if len(blk) != BlockQ4_K {
		t.Fatalf("block of %d bytes", len(blk))
	}
	got := make([]float32, 256)
	if err := DequantizeQ4_K(got, blk); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		g, l := i/64, i%64 // group of two sub-blocks, position in it
		sub, byteIdx := 2*g, 32*g+l
		q := float32(byteIdx % 16)
		if l >= 32 {
			sub, byteIdx = 2*g+1, 32*g+l-32
			q = float32((byteIdx + 3) % 16)
		}
		w := 0.5*want[sub][0]*q - 0.25*want[sub][1]
		if got[i] != w {
			t.Fatalf("y[%d] (sub-block %d, q %g) = %g, want %g", i, sub, q, got[i], w)
		}
	}
}

// TestDequantizeQ6_K spells out one super-block: every 6-bit value v at
// element i is (i*7) % 64, stored as its low nibble in ql and top 2 bits in qh,
// scales are i−8 for sub-block i and d = 0.125.
func TestDequantizeQ6_K(t *testing.T) {
	ql, qh, sc := make([]byte, 128), make([]byte, 64), make([]byte, 16)
	val := func(i int) int { return (i * 7) % 64 }
	for h := range 2 {
		for l := range 32 {
			for k := range 4 { // element 128h + 32k + l
				v := val(128*h + 32*k + l)
				qlIdx := 64*h + l + 32*(k%2)
				ql[qlIdx] |= byte(v&0xf) << (4 * (k / 2))
				qh[32*h+l] |= byte(v>>4) << (2 * k)
			}
		}
	}
	for i := range sc {
		sc[i] = byte(int8(i - 8))
	}
	blk := append(append(append(ql, qh...), sc...), f16(0.125)...)
	got := make([]float32, 256)
	if err := DequantizeQ6_K(got, blk); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		w := 0.125 * float32(i/16-8) * float32(val(i)-32)
		if got[i] != w {
			t.Fatalf("y[%d] = %g, want %g", i, got[i], w)
		}
	}
}

func TestQuantizeQ8_0Bounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 32*500)
	for i := range src {
		src[i] = float32(r.NormFloat64()) * float32(math.Pow(10, float64(i/3200-2)))
	}
	copy(src[:32], make([]float32, 32)) // an all-zero block
	src[40] = -3                        // a block whose max is negative
	raw, err := QuantizeQ8_0(src)
	if err != nil {
		t.Fatal(err)
	}
	back := make([]float32, len(src))
	if err := DequantizeQ8_0(back, raw); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for b := 0; b < len(src)/32; b++ {
		d := float64(half(raw[b*34:]))
		for j := b * 32; j < b*32+32; j++ {
			e := math.Abs(float64(back[j] - src[j]))
			// Half a step, plus the fp16 rounding of d spread over 127 steps.
			bound := d/2 + 127*d*(1.0/2048) + 1e-30
			if e > bound {
				t.Fatalf("block %d: |%g − %g| = %g > %g", b, back[j], src[j], e, bound)
			}
			if d > 0 {
				worst = max(worst, e/d)
			}
		}
	}
	if raw[34+2+8] != 0x81 {
		t.Errorf("max-magnitude element: %g, q = %d", back[40], int8(raw[34+2+8]))
	}
	for j := range 32 {
		if back[j] != 0 {
			t.Fatalf("zero block decodes to %g", back[j])
		}
	}
	t.Logf("Q8_0 round trip: worst error %.3f·d", worst)
	if _, err := QuantizeQ8_0(make([]float32, 31)); err == nil {
		t.Error("31 values accepted")
	}
}

// TestQuantizeQ8_0MatchesLlamaCpp quantizes every weight of llama.cpp's bf16
// qwen3-micro file and compares the bytes with its q8_0 file, tensor by tensor.
func TestQuantizeQ8_0MatchesLlamaCpp(t *testing.T) {
	bf := readGGUF(t, testutil.Fixture(t, "qwen3-micro-bf16.gguf"))
	q8 := readGGUF(t, testutil.Fixture(t, "qwen3-micro-q8_0.gguf"))
	n := 0
	for _, ti := range q8.f.Tensors {
		src, ok := bf.f.Tensor(ti.Name)
		if !ok {
			t.Fatalf("%s missing from the bf16 file", ti.Name)
		}
		var vals []float32
		switch src.Type {
		case gguf.TensorBF16:
			vals = make([]float32, src.Size/2)
			if err := model.Decode(vals, bf.data(src), model.BF16); err != nil {
				t.Fatal(err)
			}
		case gguf.TensorF32:
			if ti.Type != gguf.TensorF32 || !bytes.Equal(bf.data(src), q8.data(ti)) {
				t.Errorf("%s: F32 in bf16 file, %v in q8_0 file (or bytes differ)", ti.Name, ti.Type)
			}
			continue
		}
		if ti.Type != gguf.TensorQ8_0 {
			t.Errorf("%s: %v in the q8_0 file", ti.Name, ti.Type)
			continue
		}
		got, err := QuantizeQ8_0(vals)
		if err != nil {
			t.Fatal(err)
		}
		if want := q8.data(ti); !bytes.Equal(got, want) {
			diff := 0
			for i := range got {
				if got[i] != want[i] {
					diff++
				}
			}
			t.Errorf("%s: %d of %d bytes differ from llama.cpp's", ti.Name, diff, len(got))
		}
		n++
	}
	if n != 43 {
		t.Errorf("compared %d quantized tensors, want 43", n)
	}
}

type ggufFile struct {
	f   *gguf.File
	raw []byte
}

func (g ggufFile) data(t gguf.TensorInfo) []byte {
	o := g.f.DataOffset + int64(t.Offset)
	return g.raw[o : o+int64(t.Size)]
}

func readGGUF(t *testing.T, path string) ggufFile {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return ggufFile{f, raw}
}

func BenchmarkQuantizeQ8_0(b *testing.B) {
	src := make([]float32, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = float32(r.NormFloat64()) * 0.02
	}
	out := make([]byte, len(src)/32*34)
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		QuantizeQ8_0Into(out, src)
	}
}

func BenchmarkDequantizeQ8_0(b *testing.B) {
	src := make([]float32, 1<<20)
	for i := range src {
		src[i] = float32(i%77) * 0.01
	}
	raw, _ := QuantizeQ8_0(src)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		DequantizeQ8_0(src, raw)
	}
}
