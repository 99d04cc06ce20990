package sgemm

// allImpls lists every kernel set usable on this machine.
func allImpls() []*kernelImpl { return availableImpls() }
