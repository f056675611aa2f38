package layers

import (
	"fmt"
	"math/rand/v2"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Point is the "model" of the `function` data source: two trainable
// coordinates p = (x, y), initialised at start, whose output ignores the
// input and is p itself on every row:
//
//	y_i = p,   ∂L/∂p = Σ_i ∂L/∂y_i (+ noise·N(0, 1) per coordinate)
//
// The `function` loss evaluates the test function at p, so training the
// point is running the optimizer on the function. noise adds seeded
// Gaussian noise to the gradient (drawn from the trial's seed), to mimic
// the noise of SGD's sampled gradients. Its parameter is named "weight"
// (shape [2]), float32 like every parameter.
type Point struct {
	Start []float64 `opt:"start" doc:"the initial point [x, y]"`
	Noise float64   `opt:"noise" default:"0" range:"[0,1e6]" doc:"standard deviation of the Gaussian noise added to each gradient coordinate"`

	p      framework.Param
	y, dx  mat.Matrix
	inCols int
	rng    *rand.Rand
	params []*framework.Param
}

var _ = add(framework.Plugin[framework.Layer]{Name: "point", Doc: "two coordinates [x, y] as the model (the function data source)",
	New: func() framework.Layer { return &Point{} }})

// Validate requires a start of two coordinates.
func (l *Point) Validate() error {
	if len(l.Start) != 2 {
		return &framework.OptionError{Option: "start", Err: fmt.Errorf("must be a point [x, y], got %d numbers", len(l.Start))}
	}
	return nil
}

// Size is the output width and the parameter count (framework.Sizer).
func (l *Point) Size(int) (int, float64) { return 2, 2 }

// Init sets the point to start. The noise generator is drawn from rng.
func (l *Point) Init(_ int, rng *rand.Rand) (int, error) {
	l.p = framework.Param{Name: "weight", Shape: []int{2}, Value: []float32{float32(l.Start[0]), float32(l.Start[1])}, Grad: make([]float32, 2)}
	l.params = []*framework.Param{&l.p}
	l.rng = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	return 2, nil
}

// Forward returns the point on every row of the batch.
func (l *Point) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	l.y.Resize(x.Rows, 2)
	l.inCols = x.Cols
	for i := range x.Rows {
		copy(l.y.Row(i), l.p.Value)
	}
	return &l.y
}

// Backward sums dy over the rows into the gradient and adds the noise;
// the input gradient, when wanted, is zero (the output ignores the input).
func (l *Point) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	g := l.p.Grad
	g[0], g[1] = 0, 0
	for i := range dy.Rows {
		r := dy.Row(i)
		g[0] += r[0]
		g[1] += r[1]
	}
	if l.Noise > 0 {
		g[0] += float32(l.Noise * l.rng.NormFloat64())
		g[1] += float32(l.Noise * l.rng.NormFloat64())
	}
	if !want {
		return nil
	}
	l.dx.Resize(dy.Rows, l.inCols)
	clear(l.dx.Data)
	return &l.dx
}

// Params returns the point.
func (l *Point) Params() []*framework.Param { return l.params }
