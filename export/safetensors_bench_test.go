package export

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

// BenchmarkSafeTensorsExport writes qwen3-small (29.4M bf16 parameters, 5
// shards) as an HF directory: in its own dtype (a streamed copy), converted
// to f32, and in 16 MB shards. MB/s counts the weight bytes written.
func BenchmarkSafeTensorsExport(b *testing.B) {
	m := loadST(b, testutil.Fixture(b, "qwen3-small"))
	for _, c := range []struct {
		name string
		opts SafeTensorsOptions
	}{
		{"bf16", SafeTensorsOptions{}},
		{"f32", SafeTensorsOptions{DType: model.F32, ForceDType: true}},
		{"bf16-shards16MB", SafeTensorsOptions{ShardBytes: 16 << 20}},
	} {
		b.Run(c.name, func(b *testing.B) {
			shards, _, err := stPlan(m, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			var bytes int64
			for _, s := range shards {
				for _, t := range s.tensors {
					bytes += t.size
				}
			}
			b.SetBytes(bytes)
			parent := b.TempDir()
			b.ResetTimer()
			for b.Loop() {
				dir := filepath.Join(parent, "out")
				if err := SafeTensors(m, dir, c.opts); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
