package layers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Sigmoid is the logistic function y = 1 / (1 + e^(−x)), with
// dy/dx = y·(1 − y). It is evaluated so that large |x| neither overflows
// nor loses the small tail.
type Sigmoid struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "sigmoid", Doc: "y = 1 / (1 + exp(-x))",
	New: func() framework.Layer { return &Sigmoid{} }})

// Forward applies the logistic function.
func (s *Sigmoid) Forward(x *mat.Matrix, _ bool) *mat.Matrix { return s.mapForward(x, sigmoid) }

// Backward multiplies by y·(1 − y).
func (s *Sigmoid) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	return s.mapBackward(dy, func(_, y float32) float32 { return y * (1 - y) })
}

// sigmoid is 1/(1+e^−x) for x ≥ 0 and e^x/(1+e^x) for x < 0.
func sigmoid(v float32) float32 {
	x := float64(v)
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-x)))
	}
	e := math.Exp(x)
	return float32(e / (1 + e))
}

// Inactive is |z| > 4: σ'(z) < 0.018, under a fourteenth of its peak 0.25
// (framework.InactiveUnits: the unit is saturated).
func (s *Sigmoid) Inactive(z float32) bool { return z > 4 || z < -4 }
