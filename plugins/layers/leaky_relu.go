package layers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
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
	s := float32(l.NegativeSlope)
	return l.mapForward(x, func(v float32) float32 {
		if v > 0 {
			return v
		}
		return s * v
	})
}

// Backward multiplies by 1 or s.
func (l *LeakyReLU) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	s := float32(l.NegativeSlope)
	return l.mapBackward(dy, func(x, _ float32) float32 {
		if x > 0 {
			return 1
		}
		return s
	})
}
