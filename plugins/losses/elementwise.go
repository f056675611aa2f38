package losses

import (
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// elementwise is the shared shape of losses that compare each output with
// its own target, L = (1/(B·K)) Σ_ij ℓ(ŷ_ij, y_ij), PyTorch's
// reduction='mean' over every element. Regression targets are the data's
// values; class labels become targets too: for a single output column the
// label itself (0 or 1), otherwise a one-hot row.
type elementwise struct{}

// target is y_ij for the batch.
func target(t framework.Targets, i, j, cols int) float32 {
	if t.Values != nil {
		return t.Values.Data[i*t.Values.Cols+j]
	}
	if cols == 1 {
		return float32(t.Labels[i])
	}
	if int(t.Labels[i]) == j {
		return 1
	}
	return 0
}

// eval sums ℓ in float64 and writes the gradient: f returns ℓ(ŷ, y) and
// dℓ/dŷ; the mean's 1/(B·K) is applied here.
func eval(pred *mat.Matrix, t framework.Targets, grad *mat.Matrix, f func(p, y float64) (l, g float64)) float64 {
	grad.Resize(pred.Rows, pred.Cols)
	n := float64(len(grad.Data))
	var sum float64
	for i := 0; i < pred.Rows; i++ {
		row, g := pred.Row(i), grad.Row(i)
		for j, p := range row {
			l, d := f(float64(p), float64(target(t, i, j, pred.Cols)))
			sum += l
			g[j] = float32(d / n)
		}
	}
	return sum / n
}

// Class reads a row the way the targets were made (see target): a single
// output predicts the 0/1 label itself, so it means class 1 above 0.5
// (Keras' binary_accuracy, which its "accuracy" is for one output);
// several outputs predict a one-hot row, so the class is the argmax
// (Keras' categorical_accuracy).
func (elementwise) Class(row []float32) int32 {
	if len(row) == 1 {
		if row[0] > 0.5 {
			return 1
		}
		return 0
	}
	return framework.Argmax(row)
}

// Check accepts regression with one output per target column, and
// classification with one output per class (one-hot targets) or a single
// output for two classes (0/1 targets).
func (elementwise) Check(task framework.Task, outputs, targets int) error {
	switch {
	case task == framework.Regression && outputs != targets:
		return fmt.Errorf("the model has %s but the data has %s", framework.Count(outputs, "output", "outputs"), framework.Count(targets, "target column", "target columns"))
	case task == framework.Classification && outputs != targets && !(outputs == 1 && targets == 2):
		return fmt.Errorf("the model has %s but the data has %s (use %d outputs, or 1 for two classes)", framework.Count(outputs, "output", "outputs"), framework.Count(targets, "class", "classes"), targets)
	}
	return nil
}
