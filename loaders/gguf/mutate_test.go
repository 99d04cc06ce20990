package gguf

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggufc "github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/loaders"
)

// TestLoadMutations feeds a few thousand randomly corrupted tiny models
// (bytes, 32- and 64-bit fields overwritten with values of every magnitude)
// through the whole loader: each must load or fail with an error, never
// panic, and a loaded model's tensors must decode. The container parser
// itself is fuzzed by gguf.FuzzReader.
func TestLoadMutations(t *testing.T) {
	seeds := [][]byte{}
	for _, mutate := range []func(*ggufc.File){shrink, func(g *ggufc.File) {
		shrink(g)
		setKV(g, KeyKVSource, ggufc.Int32s([]int32{0, 0}))
		setKV(g, KeyDepthMix, ggufc.Bools([]bool{false, true}))
		setKV(g, KeyDepthStride, ggufc.Uint32(1))
		setKV(g, KeyLayerMap, ggufc.Int32s([]int32{0, 1}))
		setKV(g, "tokenizer.ggml.tokens", ggufc.Strings([]string{"a", "b"}))
		setKV(g, "tokenizer.ggml.token_type", ggufc.Int32s([]int32{1, 3}))
		setKV(g, "tokenizer.ggml.eos_token_id", ggufc.Uint32(1))
	}} {
		raw, err := os.ReadFile(synth(t, mutate))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, raw)
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 11))
	loaded := 0
	const n = 3000
	for it := range n {
		seed := seeds[it%len(seeds)]
		raw := append([]byte(nil), seed...)
		for range 1 + r.IntN(3) {
			i := r.IntN(len(raw))
			switch r.IntN(3) {
			case 0:
				raw[i] = byte(r.Uint32())
			case 1:
				if i+8 <= len(raw) {
					binary.LittleEndian.PutUint64(raw[i:], r.Uint64()>>r.IntN(64))
				}
			default:
				if i+4 <= len(raw) {
					binary.LittleEndian.PutUint32(raw[i:], r.Uint32()>>r.IntN(32))
				}
			}
		}
		p := filepath.Join(dir, "m.gguf")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := loaders.Load(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			continue
		}
		loaded++
		for _, tt := range m.Tensors {
			if _, err := tt.Float32(); err != nil {
				t.Errorf("mutation %d: loaded tensor %s does not decode: %v", it, tt.Name, err)
			}
		}
		m.Close()
	}
	t.Logf("%d of %d mutated files loaded, the rest were refused", loaded, n)
}

// shrink turns synth's model into a minimal one (hidden 4, one head of 2,
// vocab 4), so that inputs stay around two kilobytes.
func shrink(f *ggufc.File) {
	for _, kv := range [][2]any{{"embedding_length", 4}, {"feed_forward_length", 4}, {"attention.head_count", 1},
		{"attention.head_count_kv", 1}, {"attention.key_length", 2}} {
		setKV(f, "qwen3."+kv[0].(string), ggufc.Uint32(uint32(kv[1].(int))))
	}
	dims := map[string][]uint64{
		"token_embd.weight": {4, 4}, "attn_q.weight": {4, 2}, "attn_k.weight": {4, 2}, "attn_v.weight": {4, 2},
		"attn_output.weight": {2, 4}, "attn_q_norm.weight": {2}, "attn_k_norm.weight": {2},
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		suffix := t.Name
		if _, rest, ok := strings.Cut(strings.TrimPrefix(t.Name, "blk."), "."); ok && strings.HasPrefix(t.Name, "blk.") {
			suffix = rest
		}
		if d, ok := dims[suffix]; ok {
			t.Dims = d
		} else if len(t.Dims) == 1 {
			t.Dims = []uint64{4}
		} else {
			t.Dims = []uint64{4, 4}
		}
	}
}

func TestShrunkLoads(t *testing.T) {
	m := mustLoad(t, synth(t, shrink))
	if m.Config.Hidden != 4 || m.Config.HeadDim != 2 || m.Config.VocabSize != 4 {
		t.Errorf("config %+v", m.Config)
	}
}
