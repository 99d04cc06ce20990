#!/usr/bin/env bash
# Instruction counts of the SGEMM micro-kernel loops (README "Platforms"): for each generated
# assembly kernel, the instructions, FMAs and loads in its unrolled main loop, per k step and
# per output element. The portable Go kernel is counted from `go tool objdump` of its arm64 build.
set -euo pipefail
cd "$(dirname "$0")/../sgemm"
row() { # file, loop label, back-branch, tile rows, tile cols, k steps per iteration
	awk -v s="$2:" -v e="$3" -v mr="$4" -v nr="$5" -v u="$6" '
		$0 == s { f = 1; next }
		f && /^[A-Za-z0-9_]+:$/ { next }
		f { n++; if ($0 ~ /FMLA|VFMADD231PS/) m++; if ($1 ~ /^(VMOVUPS|VBROADCASTSS|VLD1\.P)$/) l++ }
		f && index($0, e) {
			printf "| %s | %d×%d | %.1f | %.3f | %.4f | %.3f |\n", substr(s, 1, length(s) - 6), mr, nr,
				n / u, n / u / (mr * nr), m / u / (mr * nr), l / u / (mr * nr); exit }' "$1"
}
echo "| kernel | tile | instructions per k step | per output per k | FMA instructions per output per k | loads per output per k |"
echo "|---|---|---|---|---|---|"
row kernel_arm64.s kernelNEON_loop "BNE kernelNEON_loop" 8 12 4
row kernel_amd64.s kernelAVX2_loop "JNZ kernelAVX2_loop" 6 16 4
row kernel_amd64.s kernelAVX512_loop "JNZ kernelAVX512_loop" 12 32 4
# The Go kernel on arm64: the loop is the code between the k-loop's first instruction (line 22 of
# generic.go) and the branch back to it.
bin=$(mktemp)
GOARCH=arm64 go test -c -o "$bin" . >/dev/null
go tool objdump -s 'sgemm\.kernelGeneric$' "$bin" | awk '
	$1 ~ /generic.go:22$/ && !top { top = $2 }
	top { n++; if ($4 == "FMADDS") m++; if ($4 ~ /^FLD/) l++ }
	top && $4 ~ /^B/ && $5 ~ /^-/ { printf "| generic Go (arm64) | 4×4 | %d | %.3f | %.4f | %.3f |\n", n, n / 16, m / 16, l / 16; exit }'
rm -f "$bin"
