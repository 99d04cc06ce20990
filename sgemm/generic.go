package sgemm

import "unsafe"

// genericMR and genericNR are the register tile of the portable kernel.
const (
	genericMR = 4
	genericNR = 4
)

// kernelGeneric is the portable micro-kernel: it computes the genericMR×genericNR
// tile C = alpha·(Apanel·Bpanel) + beta·C, where the packed panels hold kc
// steps of genericMR (A) and genericNR (B) values. beta == 0 means C is not read.
func kernelGeneric(kc int, a, b, c *float32, ldc int, alpha, beta float32) {
	ap := unsafe.Slice(a, kc*genericMR)
	bp := unsafe.Slice(b, kc*genericNR)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		av := ap[p*4 : p*4+4 : p*4+4]
		bv := bp[p*4 : p*4+4 : p*4+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	for i := 0; i < 4; i++ {
		row := cs[i*ldc : i*ldc+4 : i*ldc+4]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i][j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

var genericImpl = kernelImpl{
	name:  "generic",
	mr:    genericMR,
	nr:    genericNR,
	kern:  kernelGeneric,
	dot:   dotGeneric,
	axpy:  axpyGeneric,
	scale: scaleGeneric,
}
