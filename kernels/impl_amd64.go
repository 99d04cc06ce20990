//go:build amd64 && !purego

package kernels

func availableSets() []*kernelSet { return []*kernelSet{&genericSet} }
