package losses

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Huber is PyTorch's nn.HuberLoss with threshold δ (delta), for d = ŷ − y:
//
//	ℓ = ½d²            if |d| < δ        ∂ℓ/∂ŷ = d
//	ℓ = δ(|d| − ½δ)    otherwise         ∂ℓ/∂ŷ = δ·sign(d)
//
// averaged over the elements: quadratic near the target, linear (robust to
// outliers) far from it.
type Huber struct {
	elementwise
	Delta float64 `opt:"delta" default:"1.0" range:"(0,]" doc:"where the loss turns from quadratic to linear"`
}

var _ = add(framework.Plugin[framework.Loss]{Name: "huber", Doc: "quadratic within delta, linear beyond; PyTorch's HuberLoss",
	New: func() framework.Loss { return &Huber{} }})

// Eval computes the loss and its gradient.
func (h *Huber) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	delta := h.Delta
	return eval(pred, t, grad, func(p, y float64) (float64, float64) {
		d := p - y
		if math.Abs(d) < delta {
			return 0.5 * d * d, d
		}
		return delta * (math.Abs(d) - 0.5*delta), math.Copysign(delta, d)
	})
}
