package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/safetensors"
)

var kindTitle = map[string]string{
	"config":      "config.json values (sizes, ids, types)",
	"safetensors": "safetensors headers and data",
	"gguf":        "GGUF headers, metadata and tokenizer",
	"pickle":      "pytorch_model.bin (zip + pickle)",
	"tokenizer":   "tokenizer.json (ReDoS, gzip, ids)",
	"checkpoint":  "finetune checkpoints (--resume)",
	"nan":         "non-finite weights",
	"clobber":     "outputs onto inputs",
	"flags":       "command-line flags and sizes",
}

var kinds = []string{"config", "safetensors", "gguf", "pickle", "tokenizer", "checkpoint", "nan", "clobber", "flags"}

func kindOrder(k string) int {
	for i, x := range kinds {
		if x == k {
			return i
		}
	}
	return len(kinds)
}

// gen writes the hostile inputs under dir.
type gen struct {
	root, dir, testdata string
	n                   int
}

// path returns a fresh case path under dir.
func (g *gen) path(name string) string {
	g.n++
	return filepath.Join(g.dir, fmt.Sprintf("c%03d-%s", g.n, name))
}

func (g *gen) write(p string, b []byte) string {
	check(os.MkdirAll(filepath.Dir(p), 0o755))
	check(os.WriteFile(p, b, 0o644))
	return p
}

func (g *gen) td(name string) string { return filepath.Join(g.testdata, name) }

// microWith makes a qwen3-micro directory (weights linked) whose
// config.json has the given fields replaced (nil deletes).
func (g *gen) microWith(name string, edit map[string]any) string {
	d := g.path(name)
	check(os.MkdirAll(d, 0o755))
	check(os.Symlink(g.td("qwen3-micro/model.safetensors"), filepath.Join(d, "model.safetensors")))
	raw, err := os.ReadFile(g.td("qwen3-micro/config.json"))
	check(err)
	var cfg map[string]any
	check(json.Unmarshal(raw, &cfg))
	for k, v := range edit {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	b, _ := json.Marshal(cfg)
	g.write(filepath.Join(d, "config.json"), b)
	return d
}

func (g *gen) all() []hcase {
	var cs []hcase
	for _, f := range []func() []hcase{g.config, g.safetensors, g.gguf, g.pickle, g.tokenizer, g.checkpoint, g.nan, g.clobber, g.flags} {
		cs = append(cs, f()...)
	}
	return cs
}

func (g *gen) config() []hcase {
	var cs []hcase
	for _, e := range []struct {
		key  string
		val  any
		want string
	}{
		{"num_hidden_layers", 1000000000, "num_hidden_layers"},
		{"num_hidden_layers", -1, "num_hidden_layers"},
		{"num_hidden_layers", int64(math.MaxInt64), "num_hidden_layers"},
		{"num_hidden_layers", 1e9, "num_hidden_layers"},
		{"num_hidden_layers", "6", "num_hidden_layers"},
		{"num_hidden_layers", nil, "num_hidden_layers"},
		{"max_position_embeddings", -5, "max_position_embeddings"},
		{"vocab_size", 1 << 40, "vocab_size"},
		{"vocab_size", 0, "vocab_size"},
		{"hidden_size", 1 << 30, "hidden_size"},
		{"hidden_size", 255, "config.json"},
		{"intermediate_size", -768, "intermediate_size"},
		{"num_attention_heads", 3, "num_key_value_heads"},
		{"num_key_value_heads", 0, "num_key_value_heads"},
		{"head_dim", 1 << 20, "head_dim"},
		{"head_dim", 33, "head_dim"},
		{"eos_token_id", 0xfffffff0, "eos_token_id"},
		{"bos_token_id", -7, "bos_token_id"},
		{"rms_norm_eps", "tiny", "rms_norm_eps"},
		{"rms_norm_eps", -1, "rms_norm_eps"},
		{"model_type", "llama", "model_type"},
		{"rope_scaling", map[string]any{"rope_type": "yarn", "factor": 4}, "rope_scaling"},
		{"retrofit", map[string]any{"kv_source": []int{1, 0, 2, 3, 4, 5}}, "kv_source"},
		{"retrofit", map[string]any{"layer_map": []int{0, 1, 2, 3, 4, 99}}, "layer_map"},
		{"retrofit", map[string]any{"transforms": "{"}, "transforms"},
	} {
		d := g.microWith("config", map[string]any{e.key: e.val})
		cs = append(cs, hcase{"config", fmt.Sprintf("%s=%v", e.key, e.val), []string{"inspect", d}, e.want, false})
	}
	for _, body := range []string{"", "{", "[]", "null", `{"model_type": "qwen3"}`, strings.Repeat("[", 100000), `{"model_type": "` + strings.Repeat("q", 10<<20) + `"}`} {
		d := g.microWith("config", nil)
		g.write(filepath.Join(d, "config.json"), []byte(body))
		cs = append(cs, hcase{"config", fmt.Sprintf("config.json %.20q", body), []string{"eval", d, "--ids", "x"}, "config.json", false})
	}
	return cs
}

// stFile returns qwen3-micro's model.safetensors bytes and header.
func (g *gen) stFile() ([]byte, uint64) {
	raw, err := os.ReadFile(g.td("qwen3-micro/model.safetensors"))
	check(err)
	return raw, binary.LittleEndian.Uint64(raw)
}

func (g *gen) stDir(name string, weights []byte) string {
	d := g.path(name)
	g.write(filepath.Join(d, "model.safetensors"), weights)
	cfg, err := os.ReadFile(g.td("qwen3-micro/config.json"))
	check(err)
	g.write(filepath.Join(d, "config.json"), cfg)
	return d
}

func (g *gen) safetensors() []hcase {
	raw, hl := g.stFile()
	hdr := string(raw[8 : 8+hl])
	withHeader := func(h string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), raw[8+hl:]...)
	}
	var cs []hcase
	add := func(name string, b []byte) {
		d := g.stDir("st", b)
		cs = append(cs, hcase{"safetensors", name, []string{"inspect", d}, "model.safetensors", false})
	}
	add("empty", nil)
	add("7 bytes", raw[:7])
	add("header length 2^63", append(binary.LittleEndian.AppendUint64(nil, 1<<63), raw[8:]...))
	add("header length past end", append(binary.LittleEndian.AppendUint64(nil, uint64(len(raw))), raw[8:]...))
	add("truncated data", raw[:len(raw)/2])
	add("header not JSON", withHeader(strings.Repeat("x", len(hdr))))
	add("dtype", withHeader(strings.Replace(hdr, `"BF16"`, `"F8_E9"`, 1)))
	add("shape overflow", withHeader(strings.Replace(hdr, `"shape":[8192,256]`, `"shape":[9223372036854775807,9223372036854775807]`, 1)))
	add("negative shape", withHeader(strings.Replace(hdr, `"shape":[8192,256]`, `"shape":[-8192,-256]`, 1)))
	add("offsets reversed", withHeader(strings.Replace(hdr, `"data_offsets":[0,`, `"data_offsets":[99999999,`, 1)))
	add("offsets overlap", withHeader(strings.Replace(hdr, `"data_offsets":[0,`, `"data_offsets":[2,`, 1)))
	add("offset past end", withHeader(strings.Replace(hdr, `"data_offsets":[0,`, `"data_offsets":[0,999999999999`, 1)))
	add("deep nesting", withHeader(`{"a":`+strings.Repeat("[", 200000)+strings.Repeat("]", 200000)+`}`))
	add("duplicate key", withHeader(hdr[:len(hdr)-1]+`,"model.norm.weight":{"dtype":"BF16","shape":[256],"data_offsets":[0,512]}}`))
	d := g.stDir("st", raw)
	g.write(filepath.Join(d, "model.safetensors.index.json"), []byte(`{"weight_map": {"model.norm.weight": "../../etc/passwd"}}`))
	os.Rename(filepath.Join(d, "model.safetensors"), filepath.Join(d, "model-00001-of-00001.safetensors"))
	cs = append(cs, hcase{"safetensors", "index path traversal", []string{"inspect", d}, "index.json", false})
	return cs
}

// ggufFile rewrites the GGUF fixture's header after edit (the data section
// is kept), or returns raw bytes edited by rawEdit.
func (g *gen) ggufWith(edit func(f *gguf.File)) []byte {
	raw, err := os.ReadFile(g.td("qwen3-micro-q8_0.gguf"))
	check(err)
	f, err := gguf.Read(bytes.NewReader(raw), int64(len(raw)))
	check(err)
	edit(f)
	var buf bytes.Buffer
	_, err = gguf.WriteHeader(&buf, f)
	check(err)
	return append(buf.Bytes(), raw[f.DataOffset:]...)
}

func setKV(f *gguf.File, key string, v gguf.Value) {
	for i := range f.KV {
		if f.KV[i].Key == key {
			f.KV[i].Value = v
			return
		}
	}
	f.KV = append(f.KV, gguf.KV{Key: key, Value: v})
}

func (g *gen) gguf() []hcase {
	raw, err := os.ReadFile(g.td("qwen3-micro-q8_0.gguf"))
	check(err)
	var cs []hcase
	add := func(name string, b []byte, args ...string) {
		p := g.write(g.path("g")+".gguf", b)
		if len(args) == 0 {
			args = []string{"inspect"}
		}
		cs = append(cs, hcase{"gguf", name, append(append([]string{}, args...), p), filepath.Base(p), false})
	}
	patch := func(off int, v uint64) []byte {
		b := append([]byte(nil), raw...)
		binary.LittleEndian.PutUint64(b[off:], v)
		return b
	}
	add("empty", nil)
	add("magic", append([]byte("GGML"), raw[4:]...))
	add("version 99", append(append(append([]byte(nil), raw[:4]...), 99, 0, 0, 0), raw[8:]...))
	add("tensor count 2^60", patch(8, 1<<60))
	add("kv count 2^60", patch(16, 1<<60))
	add("truncated header", raw[:5000])
	add("truncated data", raw[:len(raw)-1000])
	add("eos 0xfffffff0", g.ggufWith(func(f *gguf.File) { setKV(f, "tokenizer.ggml.eos_token_id", gguf.Uint32(0xfffffff0)) }))
	add("block_count 2^31", g.ggufWith(func(f *gguf.File) { setKV(f, "qwen3.block_count", gguf.Uint32(1<<31)) }))
	add("block_count string", g.ggufWith(func(f *gguf.File) { setKV(f, "qwen3.block_count", gguf.String("6")) }))
	add("head_count 0", g.ggufWith(func(f *gguf.File) { setKV(f, "qwen3.attention.head_count", gguf.Uint32(0)) }))
	add("context_length 2^31", g.ggufWith(func(f *gguf.File) { setKV(f, "qwen3.context_length", gguf.Uint32(1<<31)) }))
	add("fewer tokens than rows", g.ggufWith(func(f *gguf.File) {
		v, _ := f.Get("tokenizer.ggml.tokens")
		toks, _ := v.StringsValue()
		setKV(f, "tokenizer.ggml.tokens", gguf.Strings(toks[:len(toks)-5]))
		f.KV = slicesDelete(f.KV, "tokenizer.ggml.token_type")
	}))
	add("layout out of range", g.ggufWith(func(f *gguf.File) { setKV(f, "retrofit.kv_source", gguf.Int32s([]int32{0, 5, 2, 3, 4, 5})) }))
	add("tensor type unknown", g.ggufWith(func(f *gguf.File) { f.Tensors[0].Type = 99 }))
	add("tensor dims overflow", g.ggufWith(func(f *gguf.File) { f.Tensors[0].Dims = []uint64{1 << 40, 1 << 40} }))
	add("tensor offset past end", g.ggufWith(func(f *gguf.File) { f.Tensors[len(f.Tensors)-1].Offset = 1 << 40 }))
	add("alignment 0", g.ggufWith(func(f *gguf.File) { setKV(f, "general.alignment", gguf.Uint32(0)) }))
	add("tokenize with bad merges", g.ggufWith(func(f *gguf.File) { setKV(f, "tokenizer.ggml.merges", gguf.Strings([]string{"a", "b c d"})) }), "tokenize", "--text", "hello")
	return cs
}

func slicesDelete(kvs []gguf.KV, key string) []gguf.KV {
	var out []gguf.KV
	for _, kv := range kvs {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

// binDir writes a pytorch_model.bin whose data.pkl is pkl (plus config.json).
func (g *gen) binDir(pkl []byte, extra map[string][]byte) string {
	d := g.path("pt")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate})
	check(err)
	w.Write(pkl)
	for n, b := range extra {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		w.Write(b)
	}
	check(zw.Close())
	g.write(filepath.Join(d, "pytorch_model.bin"), buf.Bytes())
	cfg, err := os.ReadFile(g.td("qwen3-micro/config.json"))
	check(err)
	g.write(filepath.Join(d, "config.json"), cfg)
	return d
}

func (g *gen) pickle() []hcase {
	var cs []hcase
	add := func(name, pkl, want string) {
		d := g.binDir([]byte(pkl), nil)
		cs = append(cs, hcase{"pickle", name, []string{"inspect", d}, want, false})
	}
	add("32 MiB of EMPTY_LIST", "\x80\x02"+strings.Repeat("]", 32<<20)+".", "pickle opcodes")
	add("os.system via GLOBAL", "\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.", "os.system")
	add("eval via STACK_GLOBAL", "\x80\x04\x8c\x08builtins\x8c\x04eval\x93X\x01\x00\x00\x001\x85R.", "builtins.eval")
	add("subprocess via INST", "\x80\x02(X\x02\x00\x00\x00idisubprocess\ncheck_output\n.", "subprocess")
	add("getattr chain", "\x80\x02cbuiltins\ngetattr\n.", "getattr")
	add("50 MB key", "\x80\x02}q\x00X"+string(binary.LittleEndian.AppendUint32(nil, 50<<20))+strings.Repeat("k", 50<<20)+"K\x01s.", "not a tensor name")
	add("50 MB global line", "\x80\x02c"+strings.Repeat("m", 50<<20)+"\nx\n)R.", "end of line")
	add("length past end", "\x80\x02X\xff\xff\xff\x7fab.", "runs past")
	add("no STOP", "\x80\x02}", "STOP")
	add("deep nesting", "\x80\x02"+strings.Repeat("(", 1<<19)+".", "data.pkl")
	add("not a dict", "\x80\x02K\x01.", "state dict")
	d := g.path("pt")
	g.write(filepath.Join(d, "pytorch_model.bin"), []byte("PK\x03\x04 not really a zip"))
	cfg, _ := os.ReadFile(g.td("qwen3-micro/config.json"))
	g.write(filepath.Join(d, "config.json"), cfg)
	cs = append(cs, hcase{"pickle", "broken zip", []string{"inspect", d}, "pytorch_model.bin", false})
	return cs
}

// tokDir is a qwen3-micro directory with tokenizer.json replaced.
func (g *gen) tokDir(js []byte) string {
	d := g.microWith("tok", nil)
	g.write(filepath.Join(d, "tokenizer.json"), js)
	return d
}

func splitTokenizer(pattern string) []byte {
	js := map[string]any{
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": map[string]int{"x": 0, "y": 1, "a": 2}, "merges": []string{}},
	}
	b, _ := json.Marshal(js)
	return b
}

func (g *gen) tokenizer() []hcase {
	var cs []hcase
	long := strings.Repeat("x", 40)
	for _, p := range []string{`(x+x+)+y`, `(a*)*b`, `(\s*\s*\s*\s*\s*)*$`, `[`} {
		d := g.tokDir(splitTokenizer(p))
		cs = append(cs, hcase{"tokenizer", "Split " + p, []string{"tokenize", d, "--text", long}, "tokenizer", false})
	}
	d := g.tokDir(splitTokenizer(`(x|xx)*y`))
	cs = append(cs, hcase{"tokenizer", "Split (x|xx)*y (alternation, passes the screen)", []string{"tokenize", d, "--text", long}, "time limit", false})
	d = g.tokDir(splitTokenizer(`\s*\s*\s*\s*\s*\s*x`))
	cs = append(cs, hcase{"tokenizer", `polynomial \s*…x on 3000 spaces`, []string{"tokenize", d, "--text", strings.Repeat(" ", 3000) + "a"}, "time limit", false})
	d = g.tokDir(splitTokenizer(`(x+x+)+y`))
	cs = append(cs, hcase{"tokenizer", "ReDoS in generate", []string{"generate", d, "--prompt", long}, "tokenizer", false})
	cs = append(cs, hcase{"tokenizer", "ReDoS in eval", []string{"eval", d, "--text", g.write(filepath.Join(d, "t.txt"), []byte(long))}, "tokenizer", false})
	// gzip: a forged size trailer, a 2 GiB bomb, garbage
	var empty bytes.Buffer
	zw := gzip.NewWriter(&empty)
	zw.Close()
	forged := empty.Bytes()
	binary.LittleEndian.PutUint32(forged[len(forged)-4:], 0xffffffff)
	p := g.write(g.path("forged")+"/tokenizer.json.gz", forged)
	cs = append(cs, hcase{"tokenizer", "gzip size trailer 4 GiB", []string{"tokenize", p, "--text", "a"}, "tokenizer.json.gz", false})
	// 2048 gzip members of 1 MiB of zeros each: one stream to a reader.
	var member, bomb bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	for i := 0; i < 2048; i++ {
		bomb.Write(member.Bytes())
	}
	p = g.write(g.path("bomb")+"/tokenizer.json.gz", bomb.Bytes())
	cs = append(cs, hcase{"tokenizer", fmt.Sprintf("gzip bomb %d KB → 2 GiB", bomb.Len()>>10), []string{"tokenize", p, "--text", "a"}, "tokenizer.json.gz", false})
	p = g.write(g.path("garbage")+"/tokenizer.json.gz", []byte("\x1f\x8b\x08\x00garbage"))
	cs = append(cs, hcase{"tokenizer", "gzip garbage", []string{"tokenize", p, "--text", "a"}, "tokenizer.json.gz", false})
	for name, js := range map[string]string{
		"sparse id 16M":       `{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "model": {"type": "BPE", "vocab": {"a": 16000000}, "merges": []}}`,
		"negative id":         `{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}`,
		"merge of unknown":    `{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}}`,
		"WordPiece":           `{"model": {"type": "WordPiece", "vocab": {"a": 0}}}`,
		"not JSON":            `{"model": `,
		"ids past the model":  `{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 9000, "b": 0}, "merges": []}}`,
		"no pre_tokenizer":    `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`,
		"added token id 2^40": `{"added_tokens": [{"id": 1099511627776, "content": "<s>"}], "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`,
	} {
		d := g.tokDir([]byte(js))
		cs = append(cs, hcase{"tokenizer", name, []string{"generate", d, "--prompt", "aaa", "--max-tokens", "2"}, "tokenizer", false})
	}
	return cs
}

func (g *gen) checkpoint() []hcase {
	d := g.path("ft")
	text, err := os.ReadFile(g.td("docs-val.txt"))
	check(err)
	train := g.write(filepath.Join(d, "train.txt"), text[:6000])
	val := g.write(filepath.Join(d, "val.txt"), text[6000:7000])
	base := []string{"finetune", g.td("qwen3-micro"), "--data", train, "--eval", val, "--ctx", "32", "--batch", "2"}
	out := filepath.Join(d, "ft")
	cmd := execRetrofit(append(base, "--steps", "1", "--out", out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		fail("making a checkpoint: %v\n%s", err, b)
	}
	good, err := os.ReadFile(filepath.Join(out, "checkpoint.bin"))
	check(err)
	hl := binary.LittleEndian.Uint64(good[8:])
	var cs []hcase
	add := func(name string, b []byte, want string) {
		o := g.path("ck")
		g.write(filepath.Join(o, "checkpoint.bin"), b)
		cs = append(cs, hcase{"checkpoint", name, append(append([]string{}, base...), "--steps", "2", "--resume", "--out", o), want, false})
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	add("flipped bit", flip, "checksum")
	add("trailing garbage", append(append([]byte(nil), good...), "junk"...), "checkpoint.bin")
	add("truncated", good[:len(good)-100], "checkpoint.bin")
	add("header length 2^62", append(append(append([]byte(nil), good[:8]...), binary.LittleEndian.AppendUint64(nil, 1<<62)...), good[16:]...), "header length")
	reseal := func(edit func(h map[string]any)) []byte {
		var h map[string]any
		check(json.Unmarshal(good[16:16+hl], &h))
		edit(h)
		hb, _ := json.Marshal(h)
		b := append(append([]byte(nil), good[:8]...), binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))...)
		b = append(b, hb...)
		b = append(b, good[16+hl:len(good)-4]...)
		return binary.LittleEndian.AppendUint32(b, crc32c(b))
	}
	add("moments flag", reseal(func(h map[string]any) { h["params"].([]any)[0].(map[string]any)["moments"] = false }), "moments")
	add("data_pos -1", reseal(func(h map[string]any) { h["data_pos"] = -1 }), "data_pos")
	add("step -100", reseal(func(h map[string]any) { h["step"] = -100 }), "step")
	add("shape", reseal(func(h map[string]any) { h["params"].([]any)[0].(map[string]any)["shape"] = []int{1 << 30, 1 << 30} }), "does not match")
	return cs
}

// nan writes qwen3-micro with a non-finite final norm weight.
func (g *gen) nan() []hcase {
	var cs []hcase
	for _, v := range []uint16{0x7fc0, 0x7f80} {
		raw, _ := g.stFile()
		f, err := safetensors.Parse(raw)
		check(err)
		e, ok := f.Info("model.norm.weight")
		if !ok {
			check(fmt.Errorf("qwen3-micro: no model.norm.weight"))
		}
		b := append([]byte(nil), raw...)
		for o := e.Offset; o < e.Offset+e.Size; o += 2 {
			binary.LittleEndian.PutUint16(b[o:], v)
		}
		d := g.stDir("nan", b)
		for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
			t, _ := os.ReadFile(g.td("qwen3-micro/" + name))
			g.write(filepath.Join(d, name), t)
		}
		what := map[uint16]string{0x7fc0: "NaN", 0x7f80: "Inf"}[v]
		cs = append(cs,
			hcase{"nan", what + " eval", []string{"eval", d, "--text", g.td("docs-val.txt"), "--max-tokens", "200"}, "not finite", false},
			hcase{"nan", what + " generate", []string{"generate", d, "--prompt", "The list", "--max-tokens", "4"}, "NaN or infinite", false})
	}
	return cs
}

func (g *gen) clobber() []hcase {
	d := g.path("clobber")
	gg := g.write(filepath.Join(d, "in.gguf"), mustRead(g.td("qwen3-micro-q8_0.gguf")))
	hf := filepath.Join(d, "hf")
	for _, n := range []string{"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"} {
		g.write(filepath.Join(hf, n), mustRead(g.td("qwen3-micro/"+n)))
	}
	check(os.Link(gg, filepath.Join(d, "link.gguf")))
	a := filepath.Join(d, "A")
	check(os.MkdirAll(a, 0o755))
	check(os.Symlink(hf, filepath.Join(a, "model")))
	train := g.write(filepath.Join(d, "train.txt"), mustRead(g.td("docs-val.txt"))[:4000])
	g.write(filepath.Join(d, "metrics.jsonl"), mustRead(train))
	return []hcase{
		{"clobber", "export gguf onto itself", []string{"export", gg, "--format", "gguf", "--dtype", "f16", "-o", gg}, "is an input", false},
		{"clobber", "export onto a hard link of the input", []string{"export", gg, "--format", "gguf", "-o", filepath.Join(d, "link.gguf")}, "is an input", false},
		{"clobber", "export hf to its own weights", []string{"export", hf, "--format", "gguf", "-o", filepath.Join(hf, "model.safetensors")}, "is an input", false},
		{"clobber", "export hf into its own directory", []string{"export", hf, "--format", "safetensors", "-o", hf + "/."}, "is an input", false},
		{"clobber", "export gguf onto a directory", []string{"export", gg, "--format", "gguf", "-o", hf}, "is a directory", false},
		{"clobber", "convert gguf onto itself", []string{"convert", gg, "--to", "cla", "--format", "gguf", "-o", gg}, "is an input", false},
		{"clobber", "finetune A/model --out A", []string{"finetune", filepath.Join(a, "model"), "--data", train, "--steps", "1", "--out", a}, "is an input", false},
		{"clobber", "finetune --out onto the data", []string{"finetune", hf, "--data", filepath.Join(d, "metrics.jsonl"), "--steps", "1", "--out", d}, "metrics.jsonl", false},
	}
}

func (g *gen) flags() []hcase {
	m := g.td("qwen3-micro")
	o := filepath.Join(g.dir, "flag-out")
	ids := g.write(g.path("ids")+".json", []byte("[1, 2, 3, 4, 5]"))
	// qwen3-micro with a 16-position context, so a capped generation is short.
	short := g.microWith("ctx16", map[string]any{"max_position_embeddings": 16})
	for _, n := range []string{"tokenizer.json", "tokenizer_config.json"} {
		g.write(filepath.Join(short, n), mustRead(g.td("qwen3-micro/"+n)))
	}
	cs := []hcase{}
	add := func(want string, args ...string) {
		cs = append(cs, hcase{"flags", strings.Join(args[:min(len(args), 6)], " "), args, want, false})
	}
	for _, s := range []string{"2TB", "2XB", "2GBs", "0.5", "2,5GB", "-1", "0", "", "1e9", "99999999999999999999GB", "NaN", "0x10"} {
		if s == "2TB" {
			continue // valid: one shard
		}
		add("--shard-size", "export", m, "--format", "safetensors", "--shard-size", s, "-o", o)
	}
	add("--shard-size applies", "export", m, "--format", "gguf", "--shard-size", "2GB", "-o", o)
	add("--unroll applies", "export", m, "--format", "safetensors", "--unroll", "-o", o)
	add("--dtype", "export", m, "--format", "gguf", "--dtype", "q4_k", "-o", o)
	add("--format", "export", m, "--format", "onnx", "-o", o)
	add("--calib applies", "convert", m, "--to", "cla", "--calib", g.td("docs-val.txt"), "-o", o)
	add("--calib-ctx", "convert", m, "--to", "kvsharer", "--calib", g.td("docs-val.txt"), "--calib-ctx", "1", "-o", o)
	add("--output does not apply", "convert", m, "--to", "cla", "--plan", "-o", o)
	add("NAME.factor=2", "convert", m, "--to", "cla", "--to", "mlkv", "--opt", "factor=2", "-o", o)
	add("nosuch", "convert", m, "--to", "nosuch", "-o", o)
	add("--kd-weight applies", "finetune", m, "--data", g.td("docs-val.txt"), "--steps", "1", "--kd-weight", "0.5", "--out", o)
	add("max-tokens", "generate", m, "--prompt", "x", "--max-tokens", "1e15")
	add("--max-tokens", "generate", m, "--prompt", "x", "--max-tokens", "-1")
	add("--stride", "eval", m, "--ids", ids, "--ctx", "4", "--stride", "8")
	add("--ctx 0", "eval", m, "--ids", ids, "--ctx", "0")
	add("--doc-sep applies", "eval", m, "--ids", ids, "--doc-sep", "x")
	add("not a token id", "tokenize", m, "--decode", "--text", "1 99999999999999999999")
	add("flag provided but not defined", "inspect", m, "--nosuch")
	cs = append(cs,
		hcase{"flags", "generate --max-tokens 2^63-1 is capped", []string{"generate", short, "--prompt", "x", "--max-tokens", "9223372036854775807", "--stats=false"}, "capped at 15", true},
		hcase{"flags", "export --shard-size 2TB is one shard", []string{"export", m, "--format", "safetensors", "--shard-size", "2TB", "-o", o + "-2tb"}, "wrote", true},
		hcase{"flags", "convert --opt layers=2,4,5", []string{"convert", m, "--to", "depthattn", "--opt", "layers=2,4,5", "--plan"}, "depth_mix   [0 0 1 0 1 1]", true})
	return cs
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	check(err)
	return b
}
