package functions

import "github.com/gradsweep/gradsweep/framework"

// Saddle is the simplest saddle point:
//
//	f(x, y) = x² − y²,   ∇f = (2x, −2y)
//
// unbounded below: gradient descent escapes along y from any start off
// y = 0, the loss falling without bound (the divergence check bounds it
// from above only, so a trial runs its epochs unless the loss overflows to
// −Inf, which counts as diverged).
type Saddle struct{}

var _ = add(framework.Plugin[framework.Function]{Name: "saddle", Doc: "x² − y²",
	New: func() framework.Function { return &Saddle{} }})

// Eval returns f and ∇f.
func (Saddle) Eval(x, y float64) (f, dx, dy float64) {
	return x*x - y*y, 2 * x, -2 * y
}
