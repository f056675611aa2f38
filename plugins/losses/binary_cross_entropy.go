package losses

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// BinaryCrossEntropy is PyTorch's nn.BCEWithLogitsLoss: the model outputs
// logits x, p = σ(x), and for targets y ∈ [0, 1]
//
//	ℓ = −[y·log p + (1 − y)·log(1 − p)] = max(x, 0) − x·y + log(1 + e^(−|x|))
//	∂ℓ/∂x = σ(x) − y
//
// The right-hand form never takes the log of 0 or the exp of a large
// number, so the loss stays finite for any finite logit. Averaged over the
// elements.
type BinaryCrossEntropy struct{ elementwise }

var _ = add(framework.Plugin[framework.Loss]{Name: "binary_cross_entropy", Doc: "sigmoid + binary cross-entropy on logits (BCEWithLogitsLoss)",
	New: func() framework.Loss { return &BinaryCrossEntropy{} }})

// Eval computes the loss and its gradient.
func (BinaryCrossEntropy) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	return eval(pred, t, grad, func(x, y float64) (float64, float64) {
		var p float64
		if x >= 0 {
			p = 1 / (1 + math.Exp(-x))
		} else {
			e := math.Exp(x)
			p = e / (1 + e)
		}
		return math.Max(x, 0) - x*y + math.Log1p(math.Exp(-math.Abs(x))), p - y
	})
}

// Class reads outputs as logits: a single output is class 1 when its
// logit is > 0 (σ(x) > 0.5, as PyTorch users threshold BCEWithLogitsLoss);
// several outputs (one-hot targets) give the argmax.
func (BinaryCrossEntropy) Class(row []float32) int32 {
	if len(row) == 1 {
		if row[0] > 0 {
			return 1
		}
		return 0
	}
	return framework.Argmax(row)
}
