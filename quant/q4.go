package quant

// DequantizeQ4_0 decodes Q4_0 blocks: element j of a block is the low nibble of
// byte j, element j+16 its high nibble, each y = (q − 8) · d.
func DequantizeQ4_0(dst []float32, raw []byte) error {
	if err := check("Q4_0", dst, raw, QK4_0, BlockQ4_0); err != nil {
		return err
	}
	for b := 0; b < len(dst)/QK4_0; b++ {
		blk := raw[b*BlockQ4_0 : (b+1)*BlockQ4_0]
		d := half(blk)
		y := dst[b*QK4_0 : (b+1)*QK4_0]
		for j := 0; j < QK4_0/2; j++ {
			q := blk[2+j]
			y[j] = float32(int(q&0xf)-8) * d
			y[j+QK4_0/2] = float32(int(q>>4)-8) * d
		}
	}
	return nil
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the 12
// packed bytes of a Q4_K block: sub-blocks 0-3 keep theirs in the low 6 bits of
// bytes j and j+4; sub-blocks 4-7 take their low 4 bits from byte j+4 and their
// top 2 bits from the spare top bits of bytes j−4 (scale) and j (min).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// DequantizeQ4_K decodes Q4_K super-blocks of 256: eight sub-blocks of 32, each
// y = d·sc·q − dmin·m. Each 32 bytes of nibbles hold two sub-blocks: low
// nibbles the first, high nibbles the second.
func DequantizeQ4_K(dst []float32, raw []byte) error {
	if err := check("Q4_K", dst, raw, QK_K, BlockQ4_K); err != nil {
		return err
	}
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := raw[b*BlockQ4_K : (b+1)*BlockQ4_K]
		d, dmin := half(blk[0:]), half(blk[2:])
		scales := blk[4 : 4+kScaleSize]
		qs := blk[4+kScaleSize:]
		y := dst[b*QK_K : (b+1)*QK_K]
		for g := 0; g < 4; g++ {
			sc1, m1 := scaleMinK4(2*g, scales)
			sc2, m2 := scaleMinK4(2*g+1, scales)
			d1, mm1 := d*float32(sc1), dmin*float32(m1)
			d2, mm2 := d*float32(sc2), dmin*float32(m2)
			q := qs[32*g : 32*g+32]
			out := y[64*g : 64*g+64]
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(q[l]&0xf)) - mm1
				out[32+l] = float32(d2*float32(q[l]>>4)) - mm2
			}
		}
	}
	return nil
}

// DequantizeQ6_K decodes Q6_K super-blocks of 256: sixteen sub-blocks of 16
// with int8 scales, y = d·sc·(q − 32), where each 6-bit q joins a nibble of ql
// with two bits of qh. Each half of 128 elements uses 64 bytes of ql, 32 of qh
// and 8 scales.
func DequantizeQ6_K(dst []float32, raw []byte) error {
	if err := check("Q6_K", dst, raw, QK_K, BlockQ6_K); err != nil {
		return err
	}
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := raw[b*BlockQ6_K : (b+1)*BlockQ6_K]
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		d := half(blk[208:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for h := 0; h < 2; h++ {
			l4, h2, s := ql[64*h:], qh[32*h:], sc[8*h:]
			out := y[128*h:]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int(l4[l]&0xf|(h2[l]>>0&3)<<4) - 32
				q2 := int(l4[l+32]&0xf|(h2[l]>>2&3)<<4) - 32
				q3 := int(l4[l]>>4|(h2[l]>>4&3)<<4) - 32
				q4 := int(l4[l+32]>>4|(h2[l]>>6&3)<<4) - 32
				out[l] = float32(d*float32(int8(s[is]))) * float32(q1)
				out[l+32] = float32(d*float32(int8(s[is+2]))) * float32(q2)
				out[l+64] = float32(d*float32(int8(s[is+4]))) * float32(q3)
				out[l+96] = float32(d*float32(int8(s[is+6]))) * float32(q4)
			}
		}
	}
	return nil
}
