// Package all registers every checkpoint format retrofit reads: import it
// for its side effects before calling loaders.Load.
package all

import (
	_ "github.com/retrofit-llm/retrofit/loaders/gguf"        // GGUF files
	_ "github.com/retrofit-llm/retrofit/loaders/pytorch"     // torch.save pytorch_model.bin
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors" // HF safetensors directories
)
