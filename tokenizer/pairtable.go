package tokenizer

import "math/bits"

// pairTable is an open-addressing hash table from a pair of ids (a<<32|b) to
// a merge (rank<<32|merged id); several times faster than a Go map here.
type pairTable struct {
	keys  []uint64
	vals  []uint64
	shift uint
}

const emptyKey = ^uint64(0) // ids are < 2^31, so no pair has this key

func newPairTable(n int) pairTable {
	size := 1 << bits.Len(uint(2*n+1))
	t := pairTable{keys: make([]uint64, size), vals: make([]uint64, size), shift: uint(64 - bits.Len(uint(size-1)))}
	for i := range t.keys {
		t.keys[i] = emptyKey
	}
	return t
}

func (t *pairTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

// set inserts or replaces k.
func (t *pairTable) set(k, v uint64) {
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		if t.keys[i] == k || t.keys[i] == emptyKey {
			t.keys[i], t.vals[i] = k, v
			return
		}
	}
}

func (t *pairTable) get(k uint64) (uint64, bool) {
	if len(t.keys) == 0 {
		return 0, false
	}
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i], true
		case emptyKey:
			return 0, false
		}
	}
}
