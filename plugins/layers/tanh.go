package layers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Tanh is y = tanh(x), with dy/dx = 1 − y².
type Tanh struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "tanh", Doc: "y = tanh(x)",
	New: func() framework.Layer { return &Tanh{} }})

// Forward applies tanh (vec.Tanh: float32, within vec.MaxULP of the exact
// value).
func (t *Tanh) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	return t.forward(x, vec.Tanh)
}

// Backward multiplies by 1 − y².
func (t *Tanh) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	return t.backward(dy, func(dx, dy []float32) { vec.TanhGrad(dx, dy, t.y.Data) })
}

// InactiveRange is |z| > 2: tanh'(z) < 0.071, under a fourteenth of its
// peak 1 (framework.RangeInactive: the unit is saturated).
func (t *Tanh) InactiveRange() framework.InactiveRange {
	return framework.InactiveRange{Lo: math.Nextafter32(-2, float32(math.Inf(-1))), Hi: 2}
}

// Inactive is |z| > 2 (InactiveRange).
func (t *Tanh) Inactive(z float32) bool { return t.InactiveRange().Inactive(z) }
