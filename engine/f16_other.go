//go:build !amd64 || purego

package engine

const hasAVX512 = false

func dotsF16x1(s, q *float32, k *uint16, stride, T, d int)    { panic("unreachable") }
func dotsF16x2(s, q *float32, k *uint16, stride, T, d int)    { panic("unreachable") }
func dotsF16x4(s, q *float32, k *uint16, stride, T, d int)    { panic("unreachable") }
func axpysF16x1(out, p *float32, v *uint16, stride, T, d int) { panic("unreachable") }
func axpysF16x2(out, p *float32, v *uint16, stride, T, d int) { panic("unreachable") }
func axpysF16x4(out, p *float32, v *uint16, stride, T, d int) { panic("unreachable") }
func cvtF16AVX512(dst *float32, src *uint16, n int)           { panic("unreachable") }
func cvtF32toF16AVX512(dst *uint16, src *float32, n int)      { panic("unreachable") }

func dotsF32x1(s, q, k *float32, stride, n, d, ls int)          { panic("unreachable") }
func dotsF32x2(s, q, k *float32, stride, n, d, ls int)          { panic("unreachable") }
func dotsF32x4(s, q, k *float32, stride, n, d, ls int)          { panic("unreachable") }
func axpysF32x1(out, p, v *float32, stride, n, d, ls int)       { panic("unreachable") }
func axpysF32x2(out, p, v *float32, stride, n, d, ls int)       { panic("unreachable") }
func axpysF32x4(out, p, v *float32, stride, n, d, ls int)       { panic("unreachable") }
func widenQ8(dst *float32, src *byte, stride, rows, blocks int) { panic("unreachable") }

func axpysF16d128x2(out, p *float32, v *uint16, stride, T int) { panic("unreachable") }
func axpysF32d128x2(out, p, v *float32, stride, n, ls int)     { panic("unreachable") }
