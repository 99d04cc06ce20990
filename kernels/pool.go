package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel calls fn(0), …, fn(n-1) concurrently and returns when all have
// returned; fn(0) runs on the calling goroutine. The others run on a pool of
// persistent workers that poll for work for a short while after each task
// before they park, as llama.cpp's thread pool does: a decode step is a few
// hundred products of 100–300 µs each, and waking a parked thread (on a
// virtual machine, an idle vCPU) for each of them costs a good part of that.
// When another Parallel call is in flight, this one starts goroutines of
// its own instead of waiting.
func Parallel(n int, fn func(worker int)) {
	if n <= 1 {
		fn(0)
		return
	}
	if !shared.busy.TryLock() {
		spawn(n, fn)
		return
	}
	defer shared.busy.Unlock()
	shared.run(n, fn)
}

// spawn is Parallel with one new goroutine per extra worker.
func spawn(n int, fn func(worker int)) {
	var wg sync.WaitGroup
	wg.Add(n - 1)
	for w := 1; w < n; w++ {
		go func() {
			defer wg.Done()
			fn(w)
		}()
	}
	fn(0)
	wg.Wait()
}

// pollFor is how long an idle worker polls for the next task before it
// parks.
const pollFor = 2 * time.Millisecond

// yieldEvery is how many polls a waiting goroutine makes between yields of
// its P (a few µs): often enough that goroutines waiting for a P (more
// workers than GOMAXPROCS, the garbage collector) are not held up, rarely
// enough that polling stays out of the scheduler.
const yieldEvery = 1024

// task is one Parallel call as the workers see it; it is never modified
// once published.
type task struct {
	gen uint64
	fn  func(worker int)
	n   int
}

// pool is the set of persistent workers 1, 2, … (worker 0 is the caller).
type pool struct {
	busy     sync.Mutex // held by the one Parallel call using the pool
	workers  int        // started; guarded by busy
	cur      atomic.Pointer[task]
	pending  atomic.Int32 // workers of cur still running
	mu       sync.Mutex   // guards parking
	wake     *sync.Cond
	sleepers atomic.Int32
}

var shared = newPool()

func newPool() *pool {
	p := &pool{}
	p.wake = sync.NewCond(&p.mu)
	p.cur.Store(&task{})
	return p
}

// run publishes fn to workers 1..n-1, runs fn(0) and waits for the rest.
func (p *pool) run(n int, fn func(worker int)) {
	prev := p.cur.Load()
	for ; p.workers < n-1; p.workers++ {
		go p.worker(p.workers+1, prev.gen)
	}
	p.pending.Store(int32(n - 1))
	p.cur.Store(&task{gen: prev.gen + 1, fn: fn, n: n})
	if p.sleepers.Load() > 0 {
		p.mu.Lock()
		p.wake.Broadcast()
		p.mu.Unlock()
	}
	fn(0)
	for i := 1; p.pending.Load() > 0; i++ {
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// worker runs worker index id of each task, from the one after gen seen.
func (p *pool) worker(id int, seen uint64) {
	for {
		t := p.next(seen)
		seen = t.gen
		if id < t.n {
			t.fn(id)
			p.pending.Add(-1)
		}
	}
}

// next returns the first task after gen seen: polling for pollFor, then
// parked until run wakes it.
func (p *pool) next(seen uint64) *task {
	start := time.Now()
	for i := 0; ; i++ {
		if t := p.cur.Load(); t.gen != seen {
			return t
		}
		if i%yieldEvery == yieldEvery-1 {
			if time.Since(start) > pollFor {
				break
			}
			runtime.Gosched()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sleepers.Add(1)
	defer p.sleepers.Add(-1)
	for {
		if t := p.cur.Load(); t.gen != seen {
			return t
		}
		p.wake.Wait()
	}
}
