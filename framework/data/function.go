package data

import (
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// FunctionSource is the data source `function: NAME`: optimization on a
// 2-D test function (the function plugins). Its "model" is a point, two
// float32 parameters initialised at start, and its loss is the function's
// value there, so one epoch is one gradient step on the function. The
// experiment loader takes the model and loss from Model (an experiment
// with this source omits model and loss), and the data is one sample that
// the point ignores.
type FunctionSource struct {
	Function     string    `opt:"function" required:"true" doc:"the test function: beale, himmelblau, quadratic, rastrigin, rosenbrock, saddle (see the function plugins)"`
	Start        []float64 `opt:"start" required:"true" doc:"the initial point [x, y]"`
	Condition    float64   `opt:"condition" given:"HasCondition" doc:"quadratic only: κ, the curvature along y (default 10)"`
	HasCondition bool
	Noise        float64 `opt:"noise" default:"0" range:"[0,1e6]" doc:"standard deviation of the seeded Gaussian noise added to each gradient coordinate (simulates SGD's noise)"`
}

func init() {
	framework.Sources.Register(framework.Plugin[framework.DataSource]{Name: "function",
		Doc: "a point [x, y] trained on a 2-D test function (model and loss are set from it)", New: func() framework.DataSource { return new(FunctionSource) }})
}

// Validate checks the start point and the function's options.
func (s *FunctionSource) Validate() error {
	if len(s.Start) != 2 {
		return &framework.OptionError{Option: "start", Err: fmt.Errorf("must be a point [x, y], got %d numbers", len(s.Start))}
	}
	_, err := framework.NewFunction(s.Function, s.Condition, s.HasCondition)
	return err
}

// Load returns the one sample the point is trained on: a regression set
// with one zero feature and one zero target, which the point and the
// function loss ignore.
func (s *FunctionSource) Load(framework.DataEnv) (*framework.Dataset, error) {
	return &framework.Dataset{Name: "function " + s.Function, Task: framework.Regression,
		X: mat.New(1, 1), Y: mat.New(1, 1), Features: []string{"none"}}, nil
}

// Model is the point model and the function loss the source trains
// (framework.ModelSource).
func (s *FunctionSource) Model() ([]framework.LayerSpec, framework.LayerSpec) {
	point := map[string]any{"start": []any{s.Start[0], s.Start[1]}, "noise": s.Noise}
	loss := map[string]any{"function": s.Function}
	if s.HasCondition {
		loss["condition"] = s.Condition
	}
	return []framework.LayerSpec{{Type: "point", Options: point}}, framework.LayerSpec{Type: "function", Options: loss}
}
