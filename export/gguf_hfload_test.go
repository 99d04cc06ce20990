package export

import (
	"testing"

	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
)

// loadHFDir opens an HF checkpoint directory with the safetensors loader
// (lazy, memory-mapped tensors), closed when the test ends.
func loadHFDir(t testing.TB, dir string) *model.Model {
	t.Helper()
	m, err := loaders.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
