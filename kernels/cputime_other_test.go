//go:build !unix

package kernels

func cpuTime() float64 { return 0 }
