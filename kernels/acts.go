package kernels

import (
	"math"
	"sync"

	"github.com/x448/float16"
)

// acts holds activations x[n×cols] converted for the Fast kernels of one
// weight type: bf16 values (BF16 weights), or 8-bit quants q with one scale
// d per block (32 for Q8_0/Q4_0 weights, 256 for Q4_K/Q6_K weights, whose
// Q8_K blocks also carry bs, the sums of each 16 consecutive quants).
type acts struct {
	bf []uint16
	q  []int8
	d  []float32
	bs []int16
	// packed is a kernel's own layout of the activations, built once per
	// call (its capacity is reused through the pool).
	packed []uint32
}

var actsPool = sync.Pool{New: func() any { return new(acts) }}

func (a *acts) release() { actsPool.Put(a) }

func growSlice[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// quantizeActs converts x[n×cols] for Fast kernels against weights of type
// t, splitting the rows across up to threads goroutines.
func quantizeActs(k *kernelSet, t Type, x []float32, n, cols, threads int) *acts {
	a := actsPool.Get().(*acts)
	switch t {
	case BF16:
		a.bf = growSlice(a.bf, n*cols)
	case Q8_0, Q4_0:
		a.q = growSlice(a.q, n*cols)
		a.d = growSlice(a.d, n*cols/32)
	case Q4_K, Q6_K:
		a.q = growSlice(a.q, n*cols)
		a.d = growSlice(a.d, n*cols/256)
		a.bs = growSlice(a.bs, n*cols/16)
	default:
		return a
	}
	rows := func(i0, i1 int) {
		lo, hi := i0*cols, i1*cols
		switch t {
		case BF16:
			if k.actBF16 != nil && cols%16 == 0 {
				k.actBF16(a.bf[lo:hi], x[lo:hi])
				return
			}
			for i, v := range x[lo:hi] {
				a.bf[lo+i] = toBF16(v)
			}
		case Q8_0, Q4_0:
			if k.actQ8_0 != nil {
				k.actQ8_0(a.q[lo:hi], a.d[lo/32:hi/32], x[lo:hi])
				return
			}
			for b := lo / 32; b < hi/32; b++ {
				a.d[b] = quantizeQ8_0Block(a.q[32*b:32*b+32], x[32*b:32*b+32])
			}
		case Q4_K, Q6_K:
			if k.actQ8_K != nil {
				k.actQ8_K(a.q[lo:hi], a.d[lo/256:hi/256], a.bs[lo/16:hi/16], x[lo:hi])
				return
			}
			for b := lo / 256; b < hi/256; b++ {
				a.d[b] = quantizeQ8_KBlock(a.q[256*b:256*b+256], a.bs[16*b:16*b+16], x[256*b:256*b+256])
			}
		}
	}
	if threads = min(threads, n, n*cols/(1<<14)); threads <= 1 {
		rows(0, n)
		return a
	}
	Parallel(threads, func(k int) { rows(k*n/threads, (k+1)*n/threads) })
	return a
}

// nearestInt rounds v (|v| ≤ 2^22) to the nearest integer, halves to even,
// as ggml's nearest_int does with the 1.5·2^23 trick.
func nearestInt(v float32) int32 {
	return int32(math.Float32bits(v+12582912)&0x7fffff) - 0x400000
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// toBF16 rounds v to bfloat16, nearest even (NaN stays NaN), as ggml's
// GGML_FP32_TO_BF16 does.
func toBF16(v float32) uint16 {
	u := math.Float32bits(v)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// quantizeQ8_0Block quantizes 32 activations as ggml's x86 quantize_row_q8_0
// does: d = max|x|/127 (returned rounded to fp16, as the block stores it),
// q = round-half-even(x·(127/max|x|)).
func quantizeQ8_0Block(q []int8, x []float32) float32 {
	x, q = x[:32], q[:32]
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	for j, v := range x {
		q[j] = int8(nearestInt(float32(v * id)))
	}
	return float16.Fromfloat32(amax / 127).Float32()
}

// quantizeQ8_KBlock quantizes 256 activations as ggml's quantize_row_q8_K_ref
// does: the element of largest magnitude maps to −127, q = round-half-even
// (x·(−127/max)) capped at 127, d = 1/iscale in fp32, and bs[j] = the sum of
// q[16j:16j+16].
func quantizeQ8_KBlock(q []int8, bs []int16, x []float32) float32 {
	x, q, bs = x[:256], q[:256], bs[:16]
	var amax, mx float32
	for _, v := range x {
		if ax := abs32(v); ax > amax {
			amax, mx = ax, v
		}
	}
	if amax == 0 {
		clear(q)
		clear(bs)
		return 0
	}
	iscale := -127 / mx
	for j, v := range x {
		q[j] = int8(min(127, nearestInt(float32(iscale*v))))
	}
	for j := range bs {
		var s int16
		for _, v := range q[16*j : 16*j+16] {
			s += int16(v)
		}
		bs[j] = s
	}
	return 1 / iscale
}
