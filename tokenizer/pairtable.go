package tokenizer

import "math/bits"

// pairTable is an open-addressing hash table from a pair of ids (a<<32|b) to
// a merge (rank<<32|merged id); several times faster than a Go map here. Key
// and value share a slot so that a lookup touches one cache line.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct{ key, val uint64 }

const emptyKey = ^uint64(0) // ids are < 2^31, so no pair has this key

func newPairTable(n int) pairTable {
	size := 1 << bits.Len(uint(2*n+1))
	t := pairTable{slots: make([]pairSlot, size), shift: uint(64 - bits.Len(uint(size-1)))}
	for i := range t.slots {
		t.slots[i].key = emptyKey
	}
	return t
}

func (t *pairTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

// set inserts or replaces k.
func (t *pairTable) set(k, v uint64) {
	mask := uint64(len(t.slots) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		if s := &t.slots[i]; s.key == k || s.key == emptyKey {
			s.key, s.val = k, v
			return
		}
	}
}

func (t *pairTable) get(k uint64) (uint64, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.key {
		case k:
			return s.val, true
		case emptyKey:
			return 0, false
		}
	}
}
