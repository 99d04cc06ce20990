// retrofit-check: runs a GGUF through llama.cpp's C API and prints, as one JSON
// object, what retrofit's tests compare with its own engine:
//   "nll"        per-token NLL of ids[1:] from one prefill of ids[:-1] (all logits)
//   "nll_decode" the same, fed one token at a time through the KV cache
//   "greedy"     -n greedy tokens after the first -p ids, decoded one at a time
// usage: retrofit-check -m MODEL -i IDS_FILE [-p N_PROMPT] [-n N_GEN] [-ctk f32|f16] [-c N_CTX] [-kvonly 1]
// IDS_FILE holds whitespace-separated token ids. Logs go to stderr (the KV
// cache size line among them).
#include "llama.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

static double nll_of(const float * logits, int n_vocab, int target) {
    double mx = logits[0];
    for (int i = 1; i < n_vocab; ++i) {
        mx = std::max(mx, (double) logits[i]);
    }
    double sum = 0.0;
    for (int i = 0; i < n_vocab; ++i) {
        sum += std::exp((double) logits[i] - mx);
    }
    return std::log(sum) + mx - logits[target];
}

static int argmax(const float * logits, int n_vocab) {
    int best = 0;
    for (int i = 1; i < n_vocab; ++i) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    return best;
}

// decode ids[from:to) at positions from.. in one batch; outputs for all tokens when all_logits
static bool decode(llama_context * ctx, const std::vector<llama_token> & ids, int from, int to, bool all_logits) {
    llama_batch batch = llama_batch_init(to - from, 0, 1);
    for (int i = from; i < to; ++i) {
        const int j = i - from;
        batch.token[j]     = ids[i];
        batch.pos[j]       = i;
        batch.n_seq_id[j]  = 1;
        batch.seq_id[j][0] = 0;
        batch.logits[j]    = all_logits || i == to - 1;
    }
    batch.n_tokens = to - from;
    const int rc = llama_decode(ctx, batch);
    llama_batch_free(batch);
    if (rc != 0) {
        fprintf(stderr, "retrofit-check: llama_decode failed: %d\n", rc);
    }
    return rc == 0;
}

static void print_array(const char * name, const std::vector<double> & v, bool last) {
    printf("\"%s\":[", name);
    for (size_t i = 0; i < v.size(); ++i) {
        printf("%s%.9g", i ? "," : "", v[i]);
    }
    printf("]%s", last ? "" : ",");
}

int main(int argc, char ** argv) {
    std::string model_path, ids_path, ctk = "f32";
    int n_prompt = 0, n_gen = 0, n_ctx = 0, kv_only = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "-m") { model_path = argv[i + 1]; }
        else if (a == "-i") { ids_path = argv[i + 1]; }
        else if (a == "-p") { n_prompt = atoi(argv[i + 1]); }
        else if (a == "-n") { n_gen = atoi(argv[i + 1]); }
        else if (a == "-c") { n_ctx = atoi(argv[i + 1]); }
        else if (a == "-ctk") { ctk = argv[i + 1]; }
        else if (a == "-kvonly") { kv_only = atoi(argv[i + 1]); }
        else { fprintf(stderr, "retrofit-check: unknown argument %s\n", a.c_str()); return 2; }
    }
    std::vector<llama_token> ids;
    {
        std::ifstream f(ids_path);
        for (long x; f >> x;) {
            ids.push_back((llama_token) x);
        }
    }
    if (model_path.empty() || ids.size() < 2) {
        fprintf(stderr, "usage: %s -m MODEL -i IDS_FILE [-p N_PROMPT] [-n N_GEN] [-ctk f32|f16] [-c N_CTX]\n", argv[0]);
        return 2;
    }
    const int n = (int) ids.size() - 1; // scored tokens
    if (n_prompt <= 0 || n_prompt > (int) ids.size()) {
        n_prompt = (int) ids.size();
    }

    llama_backend_init();
    llama_model_params mparams = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mparams);
    if (!model) {
        fprintf(stderr, "retrofit-check: failed to load %s\n", model_path.c_str());
        return 1;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx           = n_ctx > 0 ? n_ctx : std::max(n, n_prompt + n_gen);
    cparams.n_batch         = cparams.n_ctx;
    cparams.n_ubatch        = cparams.n_ctx;
    cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cparams.type_k          = ctk == "f16" ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cparams.type_v          = cparams.type_k;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (!ctx) {
        fprintf(stderr, "retrofit-check: failed to create a context\n");
        return 1;
    }
    llama_memory_t mem = llama_get_memory(ctx);

    // the context is created: its KV cache size is in the log
    if (kv_only) {
        printf("{}\n");
        llama_free(ctx);
        llama_model_free(model);
        return 0;
    }

    std::vector<double> nll, nll_decode, greedy;
    // one prefill with every logit
    if (!decode(ctx, ids, 0, n, true)) {
        return 1;
    }
    for (int i = 0; i < n; ++i) {
        nll.push_back(nll_of(llama_get_logits_ith(ctx, i), n_vocab, ids[i + 1]));
    }
    // the same tokens one at a time through the cache
    llama_memory_clear(mem, true);
    for (int i = 0; i < n; ++i) {
        if (!decode(ctx, ids, i, i + 1, true)) {
            return 1;
        }
        nll_decode.push_back(nll_of(llama_get_logits_ith(ctx, -1), n_vocab, ids[i + 1]));
    }
    // greedy generation after the prompt, one token at a time
    if (n_gen > 0) {
        llama_memory_clear(mem, true);
        std::vector<llama_token> seq(ids.begin(), ids.begin() + n_prompt);
        if (!decode(ctx, seq, 0, n_prompt, false)) {
            return 1;
        }
        for (int i = 0; i < n_gen; ++i) {
            const llama_token t = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
            greedy.push_back(t);
            seq.push_back(t);
            if (i + 1 < n_gen && !decode(ctx, seq, (int) seq.size() - 1, (int) seq.size(), false)) {
                return 1;
            }
        }
    }
    printf("{");
    print_array("nll", nll, false);
    print_array("nll_decode", nll_decode, false);
    print_array("greedy", greedy, true);
    printf("}\n");

    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
