package engine

// Decode attention over fp32 rows with the AVX-512 kernels (f32_amd64.s):
// an F32 cache read in place, or a Q8_0 cache widened a block of rows at a
// time. Callers check fastRows(d) first; elsewhere the group runs through
// sgemm (groupGemm).

// fastRows reports whether the AVX-512 row kernels take head dim d.
func fastRows(d int) bool { return hasAVX512 && d%32 == 0 }

// dotsF32 computes s[r·ls+t] = q[r·d:(r+1)·d] · k[t·stride : t·stride+d] for
// r < nq query rows and t < n key rows.
func dotsF32(s, q, k []float32, stride, n, d, nq, ls int) {
	if n == 0 {
		return
	}
	_ = s[(nq-1)*ls+n-1]
	_ = q[nq*d-1]
	_ = k[(n-1)*stride+d-1]
	for r := 0; r < nq; {
		switch {
		case nq-r >= 4:
			dotsF32x4(&s[r*ls], &q[r*d], &k[0], stride, n, d, ls)
			r += 4
		case nq-r >= 2:
			dotsF32x2(&s[r*ls], &q[r*d], &k[0], stride, n, d, ls)
			r += 2
		default:
			dotsF32x1(&s[r*ls], &q[r*d], &k[0], stride, n, d, ls)
			r++
		}
	}
}

// axpysF32 computes out[r·d:(r+1)·d] += Σ_t p[r·ls+t] · v[t·stride : t·stride+d]
// for r < nq rows of weights over n value rows.
func axpysF32(out, p, v []float32, stride, n, d, nq, ls int) {
	if n == 0 {
		return
	}
	_ = out[nq*d-1]
	_ = p[(nq-1)*ls+n-1]
	_ = v[(n-1)*stride+d-1]
	for r := 0; r < nq; {
		switch {
		case d == 128 && nq-r >= 2:
			axpysF32d128x2(&out[r*d], &p[r*ls], &v[0], stride, n, ls)
			r += 2
		case nq-r >= 4:
			axpysF32x4(&out[r*d], &p[r*ls], &v[0], stride, n, d, ls)
			r += 4
		case nq-r >= 2:
			axpysF32x2(&out[r*d], &p[r*ls], &v[0], stride, n, d, ls)
			r += 2
		default:
			axpysF32x1(&out[r*d], &p[r*ls], &v[0], stride, n, d, ls)
			r++
		}
	}
}

// widenQ8Rows widens n rows of a Q8_0 cache, d values each starting at
// src[0], src[stride], … (whole blocks), into dst [n × d].
func widenQ8Rows(dst []float32, src []byte, stride, n, d int) {
	if n == 0 {
		return
	}
	_ = dst[n*d-1]
	_ = src[(n-1)*stride+d/32*34-1]
	widenQ8(&dst[0], &src[0], stride, n, d/32)
}
