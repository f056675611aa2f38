package layers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// ReLU is the rectified linear unit, y = max(0, x), with
// dy/dx = 1 for x > 0 and 0 otherwise (PyTorch's choice at x = 0).
type ReLU struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "relu", Doc: "y = max(0, x)",
	New: func() framework.Layer { return &ReLU{} }})

// Forward is written out (not through forward) because it is on the
// hot path of every benchmark network.
func (r *ReLU) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	r.x = x
	r.y.Resize(x.Rows, x.Cols)
	y := r.y.Data
	for i, v := range x.Data[:len(y)] {
		var keep uint32 // branch-free, as in Backward; NaN passes, as in torch.relu
		if !(v <= 0) {
			keep = 0xffffffff
		}
		y[i] = math.Float32frombits(math.Float32bits(v) & keep)
	}
	return &r.y
}

// Backward passes the gradient where the input was positive.
func (r *ReLU) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	r.dx.Resize(dy.Rows, dy.Cols)
	dx := r.dx.Data
	xs := r.x.Data[:len(dx)]
	// Branch-free: signs of activations are random, so a branch would be
	// mispredicted half the time. keep is all ones where x > 0 (false for
	// NaN, as in PyTorch) and zero elsewhere; it masks g's bits.
	for i, g := range dy.Data[:len(dx)] {
		var keep uint32
		if xs[i] > 0 {
			keep = 0xffffffff
		}
		dx[i] = math.Float32frombits(math.Float32bits(g) & keep)
	}
	return &r.dx
}

// InactiveRange is z ≤ 0: the unit outputs exactly 0 and passes no
// gradient (framework.RangeInactive; a unit inactive for a whole batch is
// dead).
func (r *ReLU) InactiveRange() framework.InactiveRange {
	return framework.InactiveRange{Lo: 0, Hi: float32(math.Inf(1))}
}

// Inactive is z ≤ 0 (InactiveRange).
func (r *ReLU) Inactive(z float32) bool { return r.InactiveRange().Inactive(z) }
