package layers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Sigmoid is the logistic function y = 1 / (1 + e^(−x)), with
// dy/dx = y·(1 − y). It is evaluated so that large |x| neither overflows
// nor loses the small tail.
type Sigmoid struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "sigmoid", Doc: "y = 1 / (1 + exp(-x))",
	New: func() framework.Layer { return &Sigmoid{} }})

// Forward applies the logistic function (vec.Sigmoid: float32, within
// vec.MaxULP of the exact value).
func (s *Sigmoid) Forward(x *mat.Matrix, _ bool) *mat.Matrix { return s.forward(x, vec.Sigmoid) }

// Backward multiplies by y·(1 − y).
func (s *Sigmoid) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	return s.backward(dy, func(dx, dy []float32) { vec.SigmoidGrad(dx, dy, s.y.Data) })
}

// InactiveRange is |z| > 4: σ'(z) < 0.018, under a fourteenth of its peak
// 0.25 (framework.RangeInactive: the unit is saturated).
func (s *Sigmoid) InactiveRange() framework.InactiveRange {
	return framework.InactiveRange{Lo: math.Nextafter32(-4, float32(math.Inf(-1))), Hi: 4}
}

// Inactive is |z| > 4 (InactiveRange).
func (s *Sigmoid) Inactive(z float32) bool { return s.InactiveRange().Inactive(z) }
