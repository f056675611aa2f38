package functions

import "github.com/gradsweep/gradsweep/framework"

// Beale is
//
//	f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²
//
// minimum 0 at (3, 0.5), with steep walls and flat plateaus. With
// tₖ = cₖ − x + x·yᵏ (c = 1.5, 2.25, 2.625):
//
//	∂f/∂x = Σ 2tₖ(yᵏ − 1),   ∂f/∂y = Σ 2tₖ·k·x·yᵏ⁻¹
type Beale struct{}

var _ = add(framework.Plugin[framework.Function]{Name: "beale", Doc: "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
	New: func() framework.Function { return &Beale{} }})

// Eval returns f and ∇f.
func (Beale) Eval(x, y float64) (f, dx, dy float64) {
	c := [3]float64{1.5, 2.25, 2.625}
	yk := 1.0 // y^(k-1)
	for k := 1; k <= 3; k++ {
		t := c[k-1] - x + x*yk*y
		f += t * t
		dx += 2 * t * (yk*y - 1)
		dy += 2 * t * float64(k) * x * yk
		yk *= y
	}
	return f, dx, dy
}
