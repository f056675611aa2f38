// Package threads lends the cores that no trial is using to the trials that
// run: a trial whose work splits into independent parts (the row or column
// blocks of a matrix product, the ranges of a parameter update) borrows idle
// helper goroutines for the time of one call and runs the parts on them.
//
// The budget is process-wide: at most Limit threads compute at once, counting
// every busy trial (Enter/Leave) and every lent helper. Borrowing never
// waits: a caller takes the helpers that are free at that moment, up to its
// fair share (Limit divided among the busy trials, rounded up), and runs the
// rest of the work itself. So as trials finish, the survivors pick up the
// freed cores at their next call, and no trial ever waits on another.
//
// Helpers are persistent goroutines: after a call they poll for the next one
// for 50 µs (the products of a training step come microseconds apart), then
// park on a channel. Lending one costs no allocation, and the parts of a
// call are claimed by whichever thread is free first, so a helper the
// system does not schedule in time leaves its part to the caller. Callers must split their work so that the result does not
// depend on the number of parts (never inside a sum): then every number is
// the same whatever the threads.
package threads

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Job is work split into parts. Part(i, n) does part i of n (0 ≤ i < n); the
// parts of one call run concurrently and must write disjoint memory.
type Job interface {
	Part(i, n int)
}

// A helper's states. The caller that borrowed it posts a call (posted);
// the helper takes it (running) unless the caller took it back first, and
// reports done. Between calls the helper polls for a while (spinning), then
// parks on its wake channel (parked), so that the products of one training
// step, microseconds apart, find it awake.
const (
	parked int32 = iota
	spinning
	posted
	running
	done
)

// call is one Run: its parts are claimed one at a time, by the caller and
// by the helpers that start in time, so a helper the system does not
// schedule soon leaves its part to the others instead of holding the call.
type call struct {
	job   Job
	parts int32
	next  atomic.Int32 // the next part to claim
}

var calls = sync.Pool{New: func() any { return new(call) }}

// work does parts of c until none is left; a panic is returned.
func (c *call) work() (err any) {
	defer func() { err = recover() }()
	for {
		i := c.next.Add(1) - 1
		if i >= c.parts {
			return nil
		}
		c.job.Part(int(i), int(c.parts))
	}
}

type helper struct {
	state atomic.Int32
	wake  chan struct{} // a call was posted to a parked helper
	done  chan struct{} // one token per call taken (buffered)
	c     *call
	err   any // a panic in a part, raised again in the caller
}

// spinFor is how long a helper polls for its next call, and a caller for
// its helpers, before parking.
const spinFor = 50 * time.Microsecond

// poll calls ready until it is true or spinFor has passed, yielding the
// processor between calls (so that a goroutine waiting for it runs).
func poll(ready func() bool) bool {
	var deadline time.Time
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%16 == 0 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(spinFor)
			} else if now.After(deadline) {
				return false
			}
		}
		runtime.Gosched()
	}
}

func (h *helper) loop() {
	for {
		if !poll(h.isPosted) {
			if s := h.state.Load(); s != posted && h.state.CompareAndSwap(s, parked) {
				<-h.wake
			}
		}
		if !h.state.CompareAndSwap(posted, running) {
			continue // taken back by the caller (or a stale wake-up)
		}
		h.err = h.c.work()
		h.state.Store(done)
		h.done <- struct{}{}
	}
}

func (h *helper) isPosted() bool { return h.state.Load() == posted }
func (h *helper) isDone() bool   { return h.state.Load() == done }

// post offers the helper call c.
func (h *helper) post(c *call) {
	h.c = c
	if h.state.Swap(posted) == parked {
		select {
		case h.wake <- struct{}{}:
		default: // a token from a call taken back is still there
		}
	}
}

// finish takes the call back from a helper that has not started it, or
// waits until the helper is done with it; it returns the helper's panic.
func (h *helper) finish() any {
	if !h.state.CompareAndSwap(posted, spinning) {
		poll(h.isDone)
		<-h.done
	}
	err := h.err
	h.c, h.err = nil, nil
	return err
}

// maxHelpers bounds the helpers one call borrows (and the array that holds
// them on the caller's stack).
const maxHelpers = 63

var lender struct {
	mu    sync.Mutex
	limit int       // threads that may compute at once (0: GOMAXPROCS)
	busy  int       // trials inside Enter/Leave
	lent  int       // helpers working for a caller
	idle  []*helper // helpers not lent
}

// SetLimit sets the number of threads that may compute at once and returns
// the previous setting; n ≤ 0 means runtime.GOMAXPROCS(0). With 1, nothing
// is ever split (every call runs on its caller's goroutine alone).
func SetLimit(n int) int {
	lender.mu.Lock()
	defer lender.mu.Unlock()
	old := lender.limit
	lender.limit = max(n, 0)
	return old
}

func limitLocked() int {
	if lender.limit > 0 {
		return lender.limit
	}
	return runtime.GOMAXPROCS(0)
}

// Enter counts the calling goroutine as a busy trial until Leave: its core
// is not lent, and the budget is shared among the busy trials. (Helpers
// lent before it entered finish the call they work for, then are lent
// within the new budget.)
func Enter() {
	lender.mu.Lock()
	lender.busy++
	lender.mu.Unlock()
}

// Leave ends an Enter; the trial's core may be lent again.
func Leave() {
	lender.mu.Lock()
	lender.busy--
	lender.mu.Unlock()
}

// borrow takes up to want helpers that are free now, within the caller's
// share of the budget, into hs; it returns how many it took.
func borrow(hs *[maxHelpers]*helper, want int) int {
	lender.mu.Lock()
	defer lender.mu.Unlock()
	limit, busy := limitLocked(), max(lender.busy, 1)
	share := (limit + busy - 1) / busy // threads, the caller's own included
	take := min(want, share-1, limit-busy-lender.lent, maxHelpers)
	for i := 0; i < take; i++ {
		var h *helper
		if n := len(lender.idle); n > 0 {
			h = lender.idle[n-1]
			lender.idle = lender.idle[:n-1]
		} else {
			h = &helper{wake: make(chan struct{}, 1), done: make(chan struct{}, 1)}
			h.state.Store(spinning)
			go h.loop()
		}
		hs[i] = h
	}
	lender.lent += max(take, 0)
	return max(take, 0)
}

func giveBack(hs []*helper) {
	lender.mu.Lock()
	defer lender.mu.Unlock()
	lender.idle = append(lender.idle, hs...)
	lender.lent -= len(hs)
}

// Run does job in at most parts parts, on the caller's goroutine and on the
// helpers it could borrow: as many parts as threads (so in fewer parts,
// down to one, when the cores are busy), each claimed by whichever thread
// is free first. It returns when every part is done; a panic in a part is
// raised again in the caller.
func Run(job Job, parts int) {
	if parts <= 1 {
		job.Part(0, 1)
		return
	}
	var hs [maxHelpers]*helper
	n := borrow(&hs, parts-1)
	if n == 0 {
		job.Part(0, 1)
		return
	}
	c := calls.Get().(*call)
	c.job, c.parts = job, int32(n+1)
	c.next.Store(0)
	for _, h := range hs[:n] {
		h.post(c)
	}
	err := c.work()
	for _, h := range hs[:n] {
		if e := h.finish(); e != nil && err == nil {
			err = e
		}
	}
	giveBack(hs[:n])
	c.job = nil
	calls.Put(c)
	if err != nil {
		panic(err)
	}
}
