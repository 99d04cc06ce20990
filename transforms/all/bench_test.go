package all_test

import (
	"testing"

	"github.com/retrofit-llm/retrofit/transforms"
)

// BenchmarkKVSharerSearch times a KVSharer Plan (calibration run and search)
// on qwen3-micro with the reproduction's 30 samples × 64 tokens taken from
// ids_docs_val.
func BenchmarkKVSharerSearch(b *testing.B) {
	ids := refIDs(b, "qwen3-micro", "ids_docs_val")
	var calib [][]int
	for s := 0; s < 30; s++ {
		calib = append(calib, ids[s*64:(s+1)*64])
	}
	m := load(b, "qwen3-micro")
	tr, _ := transforms.Lookup("kvsharer")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Plan(m, map[string]string{"share": "1/3"}, transforms.Env{Calib: calib}); err != nil {
			b.Fatal(err)
		}
	}
}
