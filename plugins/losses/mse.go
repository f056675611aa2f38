package losses

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// MSE is the mean squared error, PyTorch's nn.MSELoss:
//
//	L = (1/(B·K)) Σ (ŷ − y)²,   ∂L/∂ŷ = 2(ŷ − y)/(B·K)
type MSE struct{ elementwise }

var _ = add(framework.Plugin[framework.Loss]{Name: "mse", Doc: "mean of (y - ŷ)², PyTorch's MSELoss",
	New: func() framework.Loss { return &MSE{} }})

// Eval computes the loss and its gradient.
func (MSE) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	return eval(pred, t, grad, func(p, y float64) (float64, float64) {
		d := p - y
		return d * d, 2 * d
	})
}
