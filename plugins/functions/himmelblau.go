package functions

import "github.com/gradsweep/gradsweep/framework"

// Himmelblau has four equal minima (value 0, one at (3, 2)):
//
//	f(x, y) = (x² + y − 11)² + (x + y² − 7)²
//	∂f/∂x = 4x(x² + y − 11) + 2(x + y² − 7)
//	∂f/∂y = 2(x² + y − 11) + 4y(x + y² − 7)
//
// so where an optimizer ends depends on where it starts and how it moves.
type Himmelblau struct{}

var _ = add(framework.Plugin[framework.Function]{Name: "himmelblau", Doc: "(x² + y − 11)² + (x + y² − 7)²",
	New: func() framework.Function { return &Himmelblau{} }})

// Eval returns f and ∇f.
func (Himmelblau) Eval(x, y float64) (f, dx, dy float64) {
	u, v := x*x+y-11, x+y*y-7
	return u*u + v*v, 4*x*u + 2*v, 2*u + 4*y*v
}
