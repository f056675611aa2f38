package losses

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// MAE is the mean absolute error, PyTorch's nn.L1Loss:
//
//	L = (1/(B·K)) Σ |ŷ − y|,   ∂L/∂ŷ = sign(ŷ − y)/(B·K)   (0 at ŷ = y)
type MAE struct{ elementwise }

var _ = add(framework.Plugin[framework.Loss]{Name: "mae", Doc: "mean of |y - ŷ|, PyTorch's L1Loss",
	New: func() framework.Loss { return &MAE{} }})

// Eval computes the loss and its gradient.
func (MAE) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	return eval(pred, t, grad, func(p, y float64) (float64, float64) {
		d := p - y
		s := 0.0
		if d > 0 {
			s = 1
		} else if d < 0 {
			s = -1
		}
		return math.Abs(d), s
	})
}
