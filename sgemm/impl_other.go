//go:build !(amd64 || arm64) || purego

package sgemm

func availableImpls() []*kernelImpl { return []*kernelImpl{&genericImpl} }
