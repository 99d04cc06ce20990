#!/usr/bin/env bash
# Checks every `WORD $0x… // MNEMONIC …` of the generated arm64 assembly against llvm-mc's
# disassembly of the word: the instructions Go's assembler lacks (SDOT, SXTL, FCVTL, FMLA by
# element, …) are emitted as raw encodings by sgemm/gen_neon.go and kernels/gen_neon.go.
# Needs llvm-mc (LLVM). Prints the number of distinct words and any mismatch; exits 1 on one.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -hoE 'WORD \$0x[0-9a-f]{8} // .*' sgemm/kernel_arm64.s kernels/kernels_arm64.s | sort -u >/tmp/neon_words.$$
awk '{h = substr($2, 4); printf "0x%s,0x%s,0x%s,0x%s\n", substr(h, 7, 2), substr(h, 5, 2), substr(h, 3, 2), substr(h, 1, 2)}' /tmp/neon_words.$$ |
	llvm-mc -triple=aarch64 -mattr=+dotprod -disassemble | grep -v '^[[:space:]]*\.text' |
	paste -d'|' <(sed 's|.*// ||' /tmp/neon_words.$$) - |
	awk -F'|' '
		function norm(s) { s = tolower(s); gsub(/[[:space:]]+/, " ", s); gsub(/, /, ",", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
		{ a = norm($1); b = norm($2); sub(/^sshll2/, "sxtl2", b); sub(/^sshll/, "sxtl", b); sub(/,#0$/, "", b)
		  n++; if (a != b) { bad++; print "mismatch: " $1 " | " $2 } }
		END { printf "%d distinct WORDs, %d mismatches\n", n, bad; exit bad > 0 }'
rm -f /tmp/neon_words.$$
