package threads

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder records the parts it was run in.
type recorder struct {
	mu    sync.Mutex
	parts []int // part i ran parts[i] times
	n     int
}

func (r *recorder) Part(i, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts == nil {
		r.parts = make([]int, n)
		r.n = n
	}
	if n != r.n {
		panic("parts of one call disagree on n")
	}
	r.parts[i]++
}

func runParts(t *testing.T, parts int) int {
	t.Helper()
	var r recorder
	Run(&r, parts)
	for i, c := range r.parts {
		if c != 1 {
			t.Fatalf("part %d of %d ran %d times", i, r.n, c)
		}
	}
	return r.n
}

// TestShare: an idle process lends up to Limit−1 helpers; busy trials share
// the budget (each gets Limit/busy threads, rounded up, while free).
func TestShare(t *testing.T) {
	defer SetLimit(SetLimit(4))
	for _, c := range []struct{ busy, parts, want int }{
		{0, 8, 4}, {1, 8, 4}, {1, 2, 2}, {1, 1, 1}, {2, 8, 2}, {3, 8, 2}, {4, 8, 1}, {6, 8, 1},
	} {
		for range c.busy {
			Enter()
		}
		if got := runParts(t, c.parts); got != c.want {
			t.Errorf("limit 4, %d busy, %d parts asked: ran in %d, want %d", c.busy, c.parts, got, c.want)
		}
		for range c.busy {
			Leave()
		}
	}
	SetLimit(1)
	if got := runParts(t, 8); got != 1 {
		t.Errorf("limit 1: ran in %d parts", got)
	}
}

// gauge counts the threads computing at once.
type gauge struct {
	now, peak atomic.Int64
}

func (g *gauge) Part(i, n int) {
	v := g.now.Add(1)
	for {
		p := g.peak.Load()
		if v <= p || g.peak.CompareAndSwap(p, v) {
			break
		}
	}
	time.Sleep(200 * time.Microsecond)
	g.now.Add(-1)
}

// TestBudget: trials running at once, each splitting as much as it can,
// never have more threads computing than the limit (helpers are lent only
// from the cores no trial uses), and none waits for another.
func TestBudget(t *testing.T) {
	for _, c := range []struct{ limit, trials int }{{3, 2}, {7, 3}, {2, 5}} {
		old := SetLimit(c.limit)
		var g gauge
		var wg, entered sync.WaitGroup
		entered.Add(c.trials)
		for range c.trials {
			wg.Add(1)
			go func() {
				defer wg.Done()
				Enter()
				defer Leave()
				entered.Done()
				entered.Wait() // a helper lent before a trial enters finishes its call first
				for range 50 {
					Run(&g, 8)
				}
			}()
		}
		wg.Wait()
		SetLimit(old)
		if p := g.peak.Load(); p > int64(max(c.limit, c.trials)) {
			t.Errorf("limit %d, %d trials: %d threads computed at once", c.limit, c.trials, p)
		}
		lender.mu.Lock()
		if lender.lent != 0 || lender.busy != 0 {
			t.Errorf("after the calls: %d helpers lent, %d busy", lender.lent, lender.busy)
		}
		lender.mu.Unlock()
	}
}

type panicker struct{}

func (panicker) Part(i, n int) {
	if i == n-1 {
		panic("boom")
	}
}

// TestPanic: a panic in a helper's part is raised in the caller, and the
// helper is lent again afterwards.
func TestPanic(t *testing.T) {
	defer SetLimit(SetLimit(2))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want boom", p)
			}
		}()
		Run(panicker{}, 2)
	}()
	if got := runParts(t, 2); got != 2 {
		t.Errorf("after a panic: ran in %d parts, want 2", got)
	}
}

type nop struct{}

func (*nop) Part(i, n int) {}

func TestNoAllocs(t *testing.T) {
	defer SetLimit(SetLimit(3))
	j := &nop{}
	Run(j, 3)
	if n := testing.AllocsPerRun(100, func() { Run(j, 3) }); n > 0 {
		t.Errorf("%v allocations per Run", n)
	}
}

// TestParkedHelpers: calls further apart than helpers poll find them
// parked, wake them or do their parts, and every part runs exactly once.
func TestParkedHelpers(t *testing.T) {
	defer SetLimit(SetLimit(3))
	for range 20 {
		if got := runParts(t, 3); got != 3 {
			t.Errorf("ran in %d parts, want 3", got)
		}
		time.Sleep(2 * spinFor)
	}
}
