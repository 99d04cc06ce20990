package pytorch

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Argument kinds of pickle opcodes, for scanPickle.
const (
	argNone   = iota
	argFixed  // n bytes
	argLen1   // 1-byte length, then that many bytes
	argLen4   // 4-byte length, then that many bytes
	argLen8   // 8-byte length, then that many bytes
	argLines1 // one newline-terminated line
	argLines2 // two lines
)

type opArg struct{ kind, n int }

// pickleOps lists every opcode of pickle protocols 0-5 with its argument.
var pickleOps = map[byte]opArg{
	'(': {}, '.': {}, '0': {}, '1': {}, '2': {}, 'N': {}, 0x88: {}, 0x89: {}, 'R': {}, 'b': {},
	'a': {}, 'e': {}, 'd': {}, '}': {}, 's': {}, 'u': {}, 'l': {}, ']': {}, 't': {}, ')': {},
	0x85: {}, 0x86: {}, 0x87: {}, 'o': {}, 0x81: {}, 0x92: {}, 'Q': {}, 0x8f: {}, 0x90: {},
	0x91: {}, 0x93: {}, 0x94: {}, 0x97: {}, 0x98: {},
	'K': {argFixed, 1}, 'h': {argFixed, 1}, 'q': {argFixed, 1}, 0x80: {argFixed, 1}, 0x82: {argFixed, 1},
	'M': {argFixed, 2}, 0x83: {argFixed, 2},
	'J': {argFixed, 4}, 'j': {argFixed, 4}, 'r': {argFixed, 4}, 0x84: {argFixed, 4},
	'G': {argFixed, 8}, 0x95: {argFixed, 8},
	0x8a: {argLen1, 0}, 'U': {argLen1, 0}, 0x8c: {argLen1, 0}, 'C': {argLen1, 0},
	'T': {argLen4, 0}, 'X': {argLen4, 0}, 'B': {argLen4, 0}, 0x8b: {argLen4, 0},
	0x8d: {argLen8, 0}, 0x8e: {argLen8, 0}, 0x96: {argLen8, 0},
	'I': {argLines1, 0}, 'L': {argLines1, 0}, 'F': {argLines1, 0}, 'S': {argLines1, 0},
	'V': {argLines1, 0}, 'g': {argLines1, 0}, 'p': {argLines1, 0}, 'P': {argLines1, 0},
	'c': {argLines2, 0}, 'i': {argLines2, 0},
}

// maxPickleOps bounds the opcodes of a pickle, and so the objects the
// unpickler builds (each opcode makes at most one). A state dict takes
// about 25 per tensor: a million is forty thousand tensors.
var maxPickleOps = 1 << 20

// maxPickleLine bounds the text argument of a protocol-0 opcode (a class
// name, a number, a tensor name).
const maxPickleLine = 64 << 10

// scanPickle walks the opcodes of a pickle up to STOP and checks that every
// argument, length-prefixed ones included, lies inside data, and that there
// are at most maxPickleOps of them. The unpickler allocates a
// length-prefixed argument before reading it, and an object per opcode, so
// this keeps a corrupt length from asking for gigabytes and a stream of
// EMPTY_LIST opcodes from building millions of objects.
func scanPickle(data []byte) error {
	for pos, ops := 0, 0; pos < len(data); ops++ {
		if ops >= maxPickleOps {
			return fmt.Errorf("more than %d pickle opcodes (a state dict needs about 25 per tensor)", maxPickleOps)
		}
		op := data[pos]
		arg, ok := pickleOps[op]
		if !ok {
			return fmt.Errorf("unknown pickle opcode 0x%02x at offset %d", op, pos)
		}
		at := pos
		pos++
		need := 0
		switch arg.kind {
		case argFixed:
			need = arg.n
		case argLen1, argLen4, argLen8:
			w := map[int]int{argLen1: 1, argLen4: 4, argLen8: 8}[arg.kind]
			if len(data)-pos < w {
				return fmt.Errorf("pickle opcode 0x%02x at offset %d: length runs past the end", op, at)
			}
			var n uint64
			switch w {
			case 1:
				n = uint64(data[pos])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(data[pos:]))
			case 8:
				n = binary.LittleEndian.Uint64(data[pos:])
			}
			pos += w
			if n > uint64(len(data)-pos) {
				return fmt.Errorf("pickle opcode 0x%02x at offset %d: length %d runs past the end of the %d-byte pickle", op, at, n, len(data))
			}
			need = int(n)
		case argLines1, argLines2:
			for range arg.kind - argLines1 + 1 {
				i := bytes.IndexByte(data[pos:min(len(data), pos+maxPickleLine+1)], '\n')
				if i < 0 {
					return fmt.Errorf("pickle opcode 0x%02x at offset %d: no end of line within %d bytes", op, at, maxPickleLine)
				}
				pos += i + 1
			}
		}
		if need > len(data)-pos {
			return fmt.Errorf("pickle opcode 0x%02x at offset %d: argument runs past the end", op, at)
		}
		if op == 0x95 { // FRAME: its size must fit, its contents are opcodes
			if n := binary.LittleEndian.Uint64(data[pos:]); n > uint64(len(data)-pos-8) {
				return fmt.Errorf("pickle frame at offset %d: size %d runs past the end", at, n)
			}
		}
		pos += need
		if op == '.' {
			return nil
		}
	}
	return fmt.Errorf("pickle ends without STOP")
}
