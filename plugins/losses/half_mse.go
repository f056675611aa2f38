package losses

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// HalfMSE is the seed note's squared error with a factor ½ "for
// convenience", averaged over the elements:
//
//	L = (1/(B·K)) Σ ½(y − ŷ)²,   ∂L/∂ŷ = (ŷ − y)/(B·K)
//
// For one linear unit ŷ = wx + b this gives ∂L/∂w = (ŷ − y)·x, so the
// descent step is w ← w − α(ŷ − y)x. (The note writes (y − ŷ)·x, which has
// the sign slipped: following it would climb the loss.)
type HalfMSE struct{ elementwise }

var _ = add(framework.Plugin[framework.Loss]{Name: "half_mse", Doc: "mean of ½(y - ŷ)², the seed note's loss",
	New: func() framework.Loss { return &HalfMSE{} }})

// Eval computes the loss and its gradient.
func (HalfMSE) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	return eval(pred, t, grad, func(p, y float64) (float64, float64) {
		d := p - y
		return 0.5 * d * d, d
	})
}
