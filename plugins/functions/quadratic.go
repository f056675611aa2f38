package functions

import "github.com/gradsweep/gradsweep/framework"

// Quadratic is the ill-conditioned bowl of "Why Momentum Really Works":
//
//	f(x, y) = ½(x² + κ·y²),   ∇f = (x, κ·y)
//
// with curvatures 1 and κ (the condition number), minimum 0 at (0, 0).
// Gradient descent with rate α contracts x by (1 − α) and y by (1 − ακ)
// per step, so it converges for 0 < α < 2/κ.
type Quadratic struct {
	Condition float64 `opt:"condition" default:"10" range:"(0,1e6]" doc:"κ, the curvature along y (the curvature along x is 1)"`
}

var _ = add(framework.Plugin[framework.Function]{Name: "quadratic", Doc: "½(x² + κ·y²), option condition κ",
	New: func() framework.Function { return &Quadratic{} }})

// Eval returns f and ∇f.
func (q *Quadratic) Eval(x, y float64) (f, dx, dy float64) {
	return 0.5 * (x*x + q.Condition*y*y), x, q.Condition * y
}
