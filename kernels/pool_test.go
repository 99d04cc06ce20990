package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallel: every worker index runs exactly once per call and the call
// returns only after all have finished, for pool calls back to back, after
// the workers have parked, and for calls made concurrently (which start
// goroutines of their own).
func TestParallel(t *testing.T) {
	check := func(n int) {
		counts := make([]atomic.Int32, n)
		var done atomic.Int32
		Parallel(n, func(w int) {
			counts[w].Add(1)
			if w%2 == 1 {
				time.Sleep(50 * time.Microsecond)
			}
			done.Add(1)
		})
		if got := done.Load(); got != int32(n) {
			t.Errorf("Parallel(%d) returned after %d of %d workers", n, got, n)
		}
		for w := range counts {
			if c := counts[w].Load(); c != 1 {
				t.Errorf("Parallel(%d): worker %d ran %d times", n, w, c)
			}
		}
	}
	for _, n := range []int{1, 2, 3, 8, 2, 5, 1} {
		check(n)
	}
	time.Sleep(3 * pollFor) // the workers park
	check(4)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				check(1 + (g+i)%4)
			}
		}()
	}
	wg.Wait()
}
