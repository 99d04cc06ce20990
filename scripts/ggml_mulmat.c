// ggml_mulmat times ggml's own CPU matrix product y = x·Wᵀ (ggml_mul_mat)
// for the weight types and Qwen3-0.6B shapes of `go test ./kernels -bench`,
// as the kernel-level peer of package kernels. Build against a llama.cpp
// build (no cgo in retrofit; this is a separate C program):
//
//	L=/work/llama; gcc -O2 -o /tmp/ggml_mulmat scripts/ggml_mulmat.c \
//	  -I$L/src-stock/ggml/include -L$L/build-stock/bin -lggml -lggml-base -lggml-cpu -lm \
//	  -Wl,-rpath,$L/build-stock/bin
//	/tmp/ggml_mulmat 1 [type] [rows]   # threads, optional filters (e.g. q8_0 151936)
//
// It prints one line per type/shape/n: wall GB/s of weights (n = 1) or
// GFLOP/s (n = 512), and the same per second of process CPU time.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ggml.h"
#include "ggml-cpu.h"

static double now(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	int nth = argc > 1 ? atoi(argv[1]) : 1;
	enum ggml_type types[] = {GGML_TYPE_BF16, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K};
	int shapes[][2] = {{1024, 1024}, {2048, 1024}, {3072, 1024}, {1024, 3072}, {151936, 1024}};
	int ns[] = {1, 512};
	struct ggml_threadpool_params tpp = ggml_threadpool_params_default(nth);
	struct ggml_threadpool *tp = ggml_threadpool_new(&tpp);
	srand(1);
	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
		for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
			for (size_t ni = 0; ni < 2; ni++) {
				int rows = shapes[si][0], cols = shapes[si][1], n = ns[ni];
				if (rows > 100000 && n > 1) continue;
				enum ggml_type t = types[ti];
				if (argc > 2 && strcmp(argv[2], ggml_type_name(t)) != 0) continue;
				if (argc > 3 && atoi(argv[3]) != rows) continue;
				size_t wbytes = ggml_row_size(t, cols) * rows;
				struct ggml_init_params ip = {wbytes + (size_t)4 * cols * n + (size_t)4 * rows * n + (1 << 20), NULL, false};
				struct ggml_context *ctx = ggml_init(ip);
				struct ggml_tensor *W = ggml_new_tensor_2d(ctx, t, cols, rows);
				struct ggml_tensor *X = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, n);
				float *tmp = malloc(sizeof(float) * cols * 64);
				for (int r = 0; r < rows; r += 64) {
					int nr = rows - r < 64 ? rows - r : 64;
					for (int i = 0; i < nr * cols; i++) tmp[i] = (float)rand() / RAND_MAX * 2 - 1;
					ggml_quantize_chunk(t, tmp, (char *)W->data + ggml_row_size(t, cols) * r, 0, nr, cols, NULL);
				}
				free(tmp);
				float *x = X->data;
				for (int i = 0; i < cols * n; i++) x[i] = (float)rand() / RAND_MAX * 2 - 1;
				struct ggml_tensor *Y = ggml_mul_mat(ctx, W, X);
				struct ggml_cgraph *gf = ggml_new_graph(ctx);
				ggml_build_forward_expand(gf, Y);
				struct ggml_cplan plan = ggml_graph_plan(gf, nth, tp);
				plan.work_data = malloc(plan.work_size + 1);
				ggml_graph_compute(gf, &plan); // warm up
				int reps = 0;
				double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), w1;
				do {
					ggml_graph_compute(gf, &plan);
					reps++;
					w1 = now(CLOCK_MONOTONIC);
				} while (w1 - w0 < 1.0);
				double c1 = now(CLOCK_PROCESS_CPUTIME_ID);
				double ws = (w1 - w0) / reps, cs = (c1 - c0) / reps;
				if (n == 1)
					printf("%-5s %6dx%-5d n=%-3d %8.2f GB/s %8.2f GB/cpu-s\n", ggml_type_name(t), rows, cols, n, wbytes / ws / 1e9, wbytes / cs / 1e9);
				else
					printf("%-5s %6dx%-5d n=%-3d %8.2f GFLOP/s %8.2f GFLOP/cpu-s\n", ggml_type_name(t), rows, cols, n, 2.0 * n * rows * cols / ws / 1e9, 2.0 * n * rows * cols / cs / 1e9);
				fflush(stdout);
				free(plan.work_data);
				ggml_free(ctx);
			}
		}
	}
	ggml_threadpool_free(tp);
	return 0;
}
