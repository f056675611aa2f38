package losses

import (
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Function is the loss of the `function` data source: the value of a 2-D
// test function (framework.Functions) at the model's output, a point
// (x, y), averaged over the batch's rows (one row on that source):
//
//	L = (1/B) Σ_i f(x_i, y_i),   ∂L/∂(x_i, y_i) = ∇f(x_i, y_i) / B
//
// It ignores the targets. The experiment loader sets it, with the point
// model, from the dataset section; it is not written by hand.
type Function struct {
	Name         string  `opt:"function" doc:"the test function (see the function plugins)"`
	Condition    float64 `opt:"condition" given:"HasCondition" doc:"the quadratic's κ"`
	HasCondition bool

	f framework.Function
}

var _ = add(framework.Plugin[framework.Loss]{Name: "function", Doc: "the value of a 2-D test function at the model's output (the function data source)",
	New: func() framework.Loss { return &Function{} }})

// Validate builds the function.
func (l *Function) Validate() error {
	f, err := framework.NewFunction(l.Name, l.Condition, l.HasCondition)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

// Eval returns the mean of f over the rows and writes ∇f / B.
func (l *Function) Eval(pred *mat.Matrix, _ framework.Targets, grad *mat.Matrix) float64 {
	grad.Resize(pred.Rows, pred.Cols)
	b := float64(pred.Rows)
	var sum float64
	for i := range pred.Rows {
		r, g := pred.Row(i), grad.Row(i)
		f, dx, dy := l.f.Eval(float64(r[0]), float64(r[1]))
		sum += f
		g[0], g[1] = float32(dx/b), float32(dy/b)
	}
	return sum / b
}

// Check requires a point, two outputs, and no classes.
func (l *Function) Check(task framework.Task, outputs, _ int) error {
	if task != framework.Regression {
		return fmt.Errorf("the function loss takes the function data source (a point on a test function), not %s data", task)
	}
	if outputs != 2 {
		return fmt.Errorf("the function loss evaluates a point [x, y]: it needs 2 outputs, got %d", outputs)
	}
	return nil
}

// Class is 0: a point has no class.
func (l *Function) Class([]float32) int32 { return 0 }
