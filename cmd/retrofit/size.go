package main

import (
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits are the suffixes parseSize accepts, case-insensitively:
// decimal (kB = 1000) and binary (KiB = 1024) multiples of a byte.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// maxSize bounds parsed sizes (1 EB): more is a typo, not a shard.
const maxSize = int64(1) << 60

// parseSize reads a byte count such as "2GB", "500MB", "1.5GiB" or "4096":
// a decimal number (digits, at most one '.') and an optional unit. The
// result must be a whole number of bytes between 1 and 2^60; anything else
// — "2XB", "2GBs", "2,5GB", "0.5", "-1", "" — is an error naming the input.
func parseSize(s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("%q is not a size like 2GB, 500MB or 1.5GiB: %s", s, why)
	}
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return bad("want a number first")
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return bad(fmt.Sprintf("unknown unit %q (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", t[i:]))
	}
	if len(num) > 30 {
		return bad("too many digits")
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad("want a number first")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return bad("not a whole number of bytes")
	}
	n := r.Num()
	if n.Sign() <= 0 {
		return bad("must be at least 1 byte")
	}
	if n.Cmp(big.NewInt(maxSize)) > 0 {
		return bad("larger than 1 EiB")
	}
	return n.Int64(), nil
}
