package layers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// LeakyReLU is y = x for x > 0 and y = s·x otherwise (s = negative_slope),
// with dy/dx = 1 or s; PyTorch's nn.LeakyReLU.
type LeakyReLU struct {
	activation
	NegativeSlope float64 `opt:"negative_slope" default:"0.01" range:"[0,1)" doc:"slope s for negative inputs"`
}

var _ = add(framework.Plugin[framework.Layer]{Name: "leaky_relu", Doc: "y = x if x > 0 else s·x",
	New: func() framework.Layer { return &LeakyReLU{} }})

// Forward applies the leaky rectifier.
func (l *LeakyReLU) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	return l.forward(x, func(y, x []float32) { vec.LeakyReLU(y, x, float32(l.NegativeSlope)) })
}

// Backward multiplies by 1 or s.
func (l *LeakyReLU) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	return l.backward(dy, func(dx, dy []float32) { vec.LeakyReLUGrad(dx, dy, l.x.Data, float32(l.NegativeSlope)) })
}
