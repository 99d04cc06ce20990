#!/usr/bin/env bash
# Instruction counts of the generated assembly loops (README "Platforms"):
# 1. the SGEMM micro-kernels: instructions, FMAs and loads in the unrolled main loop, per k step
#    and per output element (the portable Go kernel counted from `go tool objdump` of its arm64
#    build);
# 2. the Fast GEMV kernels of package kernels (decode, one weight row per output element): the
#    instructions of the main loop, loop control included, per 32 weights of a row, i.e. per
#    output element per 32-element block, amd64 beside arm64.
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

# 2. Fast GEMV loops: the code from the loop label to its back-branch, per 32 weights.
cd ../kernels
echo
echo "| GEMV kernel | weights | set | integer dot | weights per iteration | instructions per iteration | per output per 32 weights |"
echo "|---|---|---|---|---|---|---|"
gemv() { # file, kernel, loop label, back-branch, weights per iteration, type, set, dot instruction
	awk -v s="$3:" -v e="$4" -v k="$2" -v el="$5" -v t="$6" -v set="$7" -v dot="$8" '
		$0 == s { f = 1; next }
		f && /^[A-Za-z0-9_]+:$/ { next }
		f { n++ }
		f && index($0, e) { printf "| %s | %s | %s | %s | %d | %d | %.1f |\n", k, t, set, dot, el, n, n * 32 / el; exit }' "$1"
}
for t in Q8_0 Q4_0; do
	gemv kernels_amd64.s gemv${t}VNNI gemv${t}VNNI_r1_loopu "JMP gemv${t}VNNI_r1_loopu" 64 $t avx512vnni VPDPBUSD
	gemv kernels_amd64.s gemv${t}AVX2 gemv${t}AVX2_r1_loopu "JMP gemv${t}AVX2_r1_loopu" 64 $t avx2 VPMADDUBSW
	gemv kernels_arm64.s gemv${t}SDOT gemv${t}SDOT_pair "BGE gemv${t}SDOT_pair" 64 $t neon+dotprod SDOT
done
for t in Q4_K Q6_K; do
	gemv kernels_amd64.s gemv${t}AVX512 gemv${t}AVX512_r1_blk "JNZ gemv${t}AVX512_r1_blk" 256 $t avx512vnni VPMADDUBSW
	gemv kernels_amd64.s gemv${t}AVX2 gemv${t}AVX2_r1_blk "JNZ gemv${t}AVX2_r1_blk" 256 $t avx2 VPMADDUBSW
	gemv kernels_arm64.s gemv${t}SDOT gemv${t}SDOT_pair "BGE gemv${t}SDOT_pair" 512 $t neon+dotprod SDOT
done
gemv kernels_amd64.s gemvBF16 gemvBF16_r1_loopu "JMP gemvBF16_r1_loopu" 64 BF16 "avx512vnni (GEMV)" "VDPBF16PS"
gemv kernels_amd64.s gemvBF16AVX2 gemvBF16AVX2_r1_loopu "JMP gemvBF16AVX2_r1_loopu" 64 BF16 avx2 "VFMADD231PS"
gemv kernels_arm64.s gemvBF16NEON gemvBF16NEON_pair "BGE gemvBF16NEON_pair" 64 BF16 neon "FMLA (fp32)"
