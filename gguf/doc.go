// Package gguf reads and writes the GGUF container (ggml's model file format,
// versions 2 and 3): a header of typed metadata key/value pairs and tensor
// descriptions, followed by aligned tensor data. It knows nothing of models;
// the loader and exporter map GGUF names and shapes to retrofit's IR.
//
// Dimensions are kept as GGUF stores them: Dims[0] is the fastest-varying
// (innermost) dimension, the reverse of the row-major shapes of PyTorch.
package gguf
