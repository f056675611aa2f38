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
// Helpers are persistent goroutines parked on channels; lending one costs no
// allocation. Callers must split their work so that the result does not
// depend on the number of parts (never inside a sum): then every number is
// the same whatever the threads.
package threads

import (
	"runtime"
	"sync"
)

// Job is work split into parts. Part(i, n) does part i of n (0 ≤ i < n); the
// parts of one call run concurrently and must write disjoint memory.
type Job interface {
	Part(i, n int)
}

type helper struct {
	wake  chan struct{}
	done  chan struct{}
	job   Job
	part  int
	parts int
	err   any // a panic in Part, re-raised in the caller
}

func (h *helper) loop() {
	for range h.wake {
		h.run()
		h.done <- struct{}{}
	}
}

func (h *helper) run() {
	defer func() {
		if p := recover(); p != nil {
			h.err = p
		}
	}()
	h.job.Part(h.part, h.parts)
}

// maxHelpers bounds the helpers one call borrows (and the array that holds
// them on the caller's stack).
const maxHelpers = 63

var lender struct {
	mu    sync.Mutex
	limit int       // threads that may compute at once (0: GOMAXPROCS)
	busy  int       // trials inside Enter/Leave
	lent  int       // helpers working for a caller
	idle  []*helper // parked helpers
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

// Limit returns the number of threads that may compute at once.
func Limit() int {
	lender.mu.Lock()
	defer lender.mu.Unlock()
	return limitLocked()
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
			h = &helper{wake: make(chan struct{}), done: make(chan struct{}, 1)}
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

// Run does job in at most parts parts: part 0 on the caller's goroutine and
// one part on each helper it could borrow (so in fewer parts, down to one,
// when the cores are busy). It returns when every part is done; a panic in
// a part is raised again in the caller.
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
	for i, h := range hs[:n] {
		h.job, h.part, h.parts = job, i+1, n+1
		h.wake <- struct{}{}
	}
	var err any
	func() {
		defer func() { err = recover() }()
		job.Part(0, n+1)
	}()
	for _, h := range hs[:n] {
		<-h.done
		h.job = nil
		if h.err != nil && err == nil {
			err = h.err
		}
		h.err = nil
	}
	giveBack(hs[:n])
	if err != nil {
		panic(err)
	}
}
