package functions

import "github.com/gradsweep/gradsweep/framework"

// Rosenbrock is the banana valley with a = 1, b = 100:
//
//	f(x, y) = (a − x)² + b·(y − x²)²
//	∂f/∂x = −2(a − x) − 4b·x·(y − x²),   ∂f/∂y = 2b·(y − x²)
//
// minimum 0 at (1, 1), at the end of a long, flat, curved valley.
type Rosenbrock struct{}

var _ = add(framework.Plugin[framework.Function]{Name: "rosenbrock", Doc: "(1 − x)² + 100·(y − x²)²",
	New: func() framework.Function { return &Rosenbrock{} }})

// Eval returns f and ∇f.
func (Rosenbrock) Eval(x, y float64) (f, dx, dy float64) {
	const a, b = 1, 100
	u, v := a-x, y-x*x
	return u*u + b*v*v, -2*u - 4*b*x*v, 2 * b * v
}
