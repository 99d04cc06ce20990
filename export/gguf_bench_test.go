package export

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// qwen3_06B is the shape of Qwen3-0.6B: 28 layers, hidden 1024, 16/8 heads of
// 128, MLP 3072, vocab 151936, tied embeddings.
var qwen3_06B = map[string]any{
	"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "vocab_size": 151936,
	"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
	"num_key_value_heads": 8, "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000,
	"max_position_embeddings": 40960, "tie_word_embeddings": true, "bos_token_id": 151643, "eos_token_id": 151645,
	"attention_bias": false, "torch_dtype": "bfloat16",
}

// writeSyntheticCheckpoint writes a Qwen3-0.6B-shaped HF directory with random
// bf16 weights (one safetensors file, streamed) and the real Qwen3 tokenizer
// when the fixture is at hand. It returns the largest tensor's bytes.
func writeSyntheticCheckpoint(tb testing.TB, dir string) int64 {
	cfgJSON, _ := json.Marshal(qwen3_06B)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if p, ok := testutil.Find(tb, "qwen3-"+name); ok {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
	}
	cfg, layout, _, err := model.ParseHFConfig(cfgJSON)
	if err != nil {
		tb.Fatal(err)
	}
	shapes := model.ExpectedShapes(cfg, layout)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	specs := make([]safetensors.Spec, len(names))
	var largest int64
	for i, n := range names {
		specs[i] = safetensors.Spec{Name: n, DType: "BF16", Shape: shapes[n]}
		largest = max(largest, 2*model.Elements(shapes[n]))
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := safetensors.NewWriter(bw, map[string]string{"format": "pt"}, specs)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for _, n := range names {
		left := 2 * model.Elements(shapes[n])
		for left > 0 {
			chunk := buf[:min(int64(len(buf)), left)]
			for i := 0; i < len(chunk); i += 8 {
				x := r.Uint64()
				for k := 0; k < 4; k++ {
					h := uint16(x >> (16 * k))
					// sign, exponent 2^-12..2^-4, random mantissa: typical weights.
					v := h&0x807f | uint16(115+int(h>>7&7))<<7
					binary.LittleEndian.PutUint16(chunk[i+2*k:], v)
				}
			}
			w.Write(chunk)
			left -= int64(len(chunk))
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	// Written back to disk, like a downloaded checkpoint.
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	return largest
}

// BenchmarkGGUFExport converts a Qwen3-0.6B-shaped checkpoint to GGUF in a
// child process (so its peak RSS is the conversion's alone) and reports GB/s
// of output (and of safetensors input) and the child's peak RSS (VmHWM), which must stay under
// 1.5 × the largest tensor + 100 MB.
func BenchmarkGGUFExport(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the child's peak RSS is read from /proc/self/status (Linux only)")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "qwen3-0.6b")
	os.Mkdir(src, 0o755)
	largest := writeSyntheticCheckpoint(b, src)
	st, err := os.Stat(filepath.Join(src, "model.safetensors"))
	if err != nil {
		b.Fatal(err)
	}
	srcBytes := st.Size()
	limitMB := (1.5*float64(largest) + 100e6) / 1e6
	for _, dt := range []model.DType{model.BF16, model.Q8_0} {
		b.Run(dt.String(), func(b *testing.B) {
			out := filepath.Join(dir, "out.gguf")
			var peakKB int64
			var elapsed time.Duration
			var size int64
			for b.Loop() {
				start := time.Now()
				cmd := exec.Command(os.Args[0], "-test.run=^TestGGUFExportProcess$", "-test.v")
				cmd.Env = append(os.Environ(), "RETROFIT_GGUF_EXPORT_SRC="+src, "RETROFIT_GGUF_EXPORT_DST="+out, "RETROFIT_GGUF_EXPORT_DTYPE="+dt.String())
				outb, err := cmd.CombinedOutput()
				elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("child: %v\n%s", err, outb)
				}
				i := strings.Index(string(outb), "VmHWM_kB=")
				if i < 0 {
					b.Fatalf("child printed no VmHWM:\n%s", outb)
				}
				kb, _ := strconv.ParseInt(strings.Fields(string(outb[i+len("VmHWM_kB="):]))[0], 10, 64)
				peakKB = max(peakKB, kb)
				st, err := os.Stat(out)
				if err != nil {
					b.Fatal(err)
				}
				size = st.Size()
			}
			b.ReportMetric(float64(size)*float64(b.N)/elapsed.Seconds()/1e9, "GB/s")
			b.ReportMetric(float64(srcBytes)*float64(b.N)/elapsed.Seconds()/1e9, "src-GB/s")
			b.ReportMetric(float64(peakKB)/1e3, "peak-RSS-MB")
			b.ReportMetric(limitMB, "RSS-limit-MB")
			if float64(peakKB)/1e3 > limitMB {
				b.Errorf("peak RSS %.0f MB exceeds 1.5 × largest tensor (%.0f MB) + 100 MB = %.0f MB", float64(peakKB)/1e3, float64(largest)/1e6, limitMB)
			}
			os.Remove(out)
		})
	}
}

// TestGGUFExportProcess is the child of BenchmarkGGUFExport: it converts the
// checkpoint named by the environment and prints its peak RSS. It does
// nothing in a normal test run.
func TestGGUFExportProcess(t *testing.T) {
	src := os.Getenv("RETROFIT_GGUF_EXPORT_SRC")
	if src == "" {
		t.Skip("child process of BenchmarkGGUFExport")
	}
	dt, err := model.ParseDType(os.Getenv("RETROFIT_GGUF_EXPORT_DTYPE"))
	if err != nil {
		t.Fatal(err)
	}
	m := loadHFDir(t, src)
	if err := GGUF(m, os.Getenv("RETROFIT_GGUF_EXPORT_DST"), GGUFOptions{DType: dt}); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("VmHWM_kB=%s\n", strings.Fields(v)[0])
		}
	}
}

// TestGGUFExportStreams is the streaming claim as a test: exporting a
// generated 304 MB checkpoint (Qwen3-shaped: 8 layers, hidden 1024,
// vocab 32768) to Q8_0 in a child process peaks below 1.5 × its largest
// tensor (64 MB) + 100 MB of resident memory — less than the input alone.
func TestGGUFExportStreams(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "synthetic")
	size, largest := testutil.SyntheticCheckpoint(t, src, testutil.Qwen3Shape(32768, 1024, 4096, 8, 8, 4), true)
	limit := 1.5*float64(largest) + 100e6
	out := filepath.Join(dir, "out.gguf")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGGUFExportProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "RETROFIT_GGUF_EXPORT_SRC="+src, "RETROFIT_GGUF_EXPORT_DST="+out, "RETROFIT_GGUF_EXPORT_DTYPE=q8_0")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, outb)
	}
	i := strings.Index(string(outb), "VmHWM_kB=")
	if i < 0 {
		t.Fatalf("child printed no VmHWM:\n%s", outb)
	}
	kb, _ := strconv.ParseInt(strings.Fields(string(outb[i+len("VmHWM_kB="):]))[0], 10, 64)
	peak := float64(kb) * 1e3
	t.Logf("input %d MB, largest tensor %d MB: peak RSS %.0f MB, limit %.0f MB", size>>20, largest>>20, peak/1e6, limit/1e6)
	if peak > limit || peak >= float64(size) {
		t.Errorf("peak RSS %.0f MB exceeds 1.5 × largest tensor + 100 MB = %.0f MB (input %d MB)", peak/1e6, limit/1e6, size>>20)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < size/2 {
		t.Errorf("output %v, %v", st, err)
	}
}
