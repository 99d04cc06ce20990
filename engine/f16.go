package engine

import "github.com/x448/float16"

// toF16 rounds src to fp16 (nearest even) into dst.
func toF16(dst []uint16, src []float32) {
	src = src[:len(dst)]
	n := 0
	if hasAVX512 {
		n = len(dst) &^ 15
		if n > 0 {
			cvtF32toF16AVX512(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] = float16.Fromfloat32(src[i]).Bits()
	}
}

// fromF16 widens src to fp32 (exactly) into dst.
func fromF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := 0
	if hasAVX512 {
		n = len(src) &^ 15
		if n > 0 {
			cvtF16AVX512(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = float16.Frombits(src[i]).Float32()
	}
}

// dotsF16 computes s[r·T+t] = q[r·d:(r+1)·d] · k[t·stride : t·stride+d] for
// r < nq query rows and t < T key rows of an fp16 cache.
func dotsF16(s, q []float32, k []uint16, stride, T, d, nq int) {
	if T == 0 {
		return
	}
	_ = s[nq*T-1]
	_ = q[nq*d-1]
	_ = k[(T-1)*stride+d-1]
	if hasAVX512 && d%16 == 0 {
		for r := 0; r < nq; {
			switch {
			case nq-r >= 4:
				dotsF16x4(&s[r*T], &q[r*d], &k[0], stride, T, d)
				r += 4
			case nq-r >= 2:
				dotsF16x2(&s[r*T], &q[r*d], &k[0], stride, T, d)
				r += 2
			default:
				dotsF16x1(&s[r*T], &q[r*d], &k[0], stride, T, d)
				r++
			}
		}
		return
	}
	for r := 0; r < nq; r++ {
		qr := q[r*d : (r+1)*d]
		for t := 0; t < T; t++ {
			kt := k[t*stride : t*stride+d]
			var acc float32
			for i, x := range qr {
				acc += x * float16.Frombits(kt[i]).Float32()
			}
			s[r*T+t] = acc
		}
	}
}

// axpysF16 computes out[r·d:(r+1)·d] += Σ_t p[r·T+t] · v[t·stride : t·stride+d]
// for r < nq rows of weights over T value rows of an fp16 cache.
func axpysF16(out, p []float32, v []uint16, stride, T, d, nq int) {
	if T == 0 {
		return
	}
	_ = out[nq*d-1]
	_ = p[nq*T-1]
	_ = v[(T-1)*stride+d-1]
	if hasAVX512 && d%32 == 0 {
		for r := 0; r < nq; {
			switch {
			case d == 128 && nq-r >= 2:
				axpysF16d128x2(&out[r*d], &p[r*T], &v[0], stride, T)
				r += 2
			case nq-r >= 4:
				axpysF16x4(&out[r*d], &p[r*T], &v[0], stride, T, d)
				r += 4
			case nq-r >= 2:
				axpysF16x2(&out[r*d], &p[r*T], &v[0], stride, T, d)
				r += 2
			default:
				axpysF16x1(&out[r*d], &p[r*T], &v[0], stride, T, d)
				r++
			}
		}
		return
	}
	for r := 0; r < nq; r++ {
		o := out[r*d : (r+1)*d]
		for t := 0; t < T; t++ {
			w := p[r*T+t]
			vt := v[t*stride : t*stride+d]
			for i := range o {
				o[i] += w * float16.Frombits(vt[i]).Float32()
			}
		}
	}
}
