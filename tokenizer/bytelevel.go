package tokenizer

// byteToRune is GPT-2's reversible byte→unicode table: printable Latin-1
// bytes map to themselves, the rest to U+0100 upwards in byte order.
var byteToRune = func() (t [256]rune) {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = 256 + n
			n++
		}
	}
	return t
}()

// runeToByte inverts byteToRune; entries not produced by it are -1.
var runeToByte = func() (t [324]int16) {
	for i := range t {
		t[i] = -1
	}
	for b, r := range byteToRune {
		t[r] = int16(b)
	}
	return t
}()

// byteLevelEncode appends the byte-level form of s to dst.
func byteLevelEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		r := byteToRune[s[i]]
		if r < 0x80 {
			dst = append(dst, byte(r))
		} else {
			dst = append(dst, byte(0xC0|r>>6), byte(0x80|r&0x3F))
		}
	}
	return dst
}

// byteLevelDecode appends the bytes a token's byte-level form stands for. As
// in HF's ByteLevel decoder, a token holding any character outside the table
// is copied as its raw UTF-8 bytes.
func byteLevelDecode(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		if r < 0 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
			return append(dst[:start], tok...)
		}
		dst = append(dst, byte(runeToByte[r]))
	}
	return dst
}
