//go:build !(amd64 || arm64) || purego

package kernels

func availableSets() []*kernelSet { return []*kernelSet{&genericSet} }
