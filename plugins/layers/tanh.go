package layers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Tanh is y = tanh(x), with dy/dx = 1 − y².
type Tanh struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "tanh", Doc: "y = tanh(x)",
	New: func() framework.Layer { return &Tanh{} }})

// Forward applies tanh.
func (t *Tanh) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	return t.mapForward(x, func(v float32) float32 { return float32(math.Tanh(float64(v))) })
}

// Backward multiplies by 1 − y².
func (t *Tanh) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	return t.mapBackward(dy, func(_, y float32) float32 { return 1 - y*y })
}

// Inactive is |z| > 2: tanh'(z) < 0.071, under a fourteenth of its peak 1
// (framework.InactiveUnits: the unit is saturated).
func (t *Tanh) Inactive(z float32) bool { return z > 2 || z < -2 }
