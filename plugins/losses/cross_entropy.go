package losses

import (
	"fmt"
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// CrossEntropy is PyTorch's nn.CrossEntropyLoss on logits x and integer
// class labels c: softmax and negative log-likelihood in one step,
//
//	log p_j = x_j − logsumexp(x),  logsumexp(x) = m + log Σ_k e^(x_k − m),  m = max_k x_k
//	ℓ = −[(1 − ε)·log p_c + (ε/K) Σ_k log p_k]
//	∂ℓ/∂x_j = p_j − (1 − ε)·[j = c] − ε/K
//
// averaged over the batch, with ε = label_smoothing (0 by default).
// Log-sum-exp keeps the loss finite for logits of any finite size.
type CrossEntropy struct {
	LabelSmoothing float64 `opt:"label_smoothing" default:"0" range:"[0,1]" doc:"ε: mix the one-hot target with the uniform distribution"`
}

var _ = add(framework.Plugin[framework.Loss]{Name: "cross_entropy", Doc: "softmax + negative log-likelihood on class labels (CrossEntropyLoss)",
	New: func() framework.Loss { return &CrossEntropy{} }})

// Class is the argmax of the logits (of the softmax probabilities alike).
func (*CrossEntropy) Class(row []float32) int32 { return framework.Argmax(row) }

// Check requires classification with one output (logit) per class.
func (*CrossEntropy) Check(task framework.Task, outputs, targets int) error {
	if task != framework.Classification {
		return fmt.Errorf("cross_entropy needs class labels, but the data is %s (use mse, huber or mae)", task)
	}
	if outputs != targets {
		return fmt.Errorf("the model has %s but the data has %s: cross_entropy needs one logit per class", framework.Count(outputs, "output", "outputs"), framework.Count(targets, "class", "classes"))
	}
	return nil
}

// Eval computes the mean loss and its gradient. Each logit is
// exponentiated once, by vec.ExpShift (float32, within vec.ExpMaxULP, the
// same bits on every CPU): e_j = exp(x_j − m) gives both the log-sum-exp
// (Σ e in float64) and the softmax p_j = e_j / Σ e.
func (c *CrossEntropy) Eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix) float64 {
	grad.Resize(pred.Rows, pred.Cols)
	invB := 1 / float64(pred.Rows)
	k := float64(pred.Cols)
	eps := c.LabelSmoothing
	var sum float64
	for i := 0; i < pred.Rows; i++ {
		x, g := pred.Row(i), grad.Row(i)
		m := x[0]
		for _, v := range x[1:] {
			if v > m {
				m = v
			}
		}
		vec.ExpShift(g, x, m) // e_j = e^(x_j − m) in float32, turned into the gradient below
		var s float64
		for _, e := range g {
			s += float64(e)
		}
		logS := math.Log(s)
		label := int(t.Labels[i])
		inv := 1 / s
		for j := range g {
			q := eps / k
			if j == label {
				q += 1 - eps
			}
			g[j] = float32((float64(g[j])*inv - q) * invB)
		}
		// −log p_c = lse − x_c, with lse = m + log Σ e
		lse := float64(m) + logS
		loss := lse - float64(x[label])
		if eps != 0 {
			var sumLogP float64
			for _, v := range x {
				sumLogP += float64(v) - lse
			}
			loss = (1-eps)*loss - eps/k*sumLogP
		}
		sum += loss
	}
	return sum * invB
}
