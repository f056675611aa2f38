package layers

import (
	"math/rand/v2"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Dropout zeroes each input with probability p during training and scales
// the survivors by 1/(1 − p) (inverted dropout, PyTorch's nn.Dropout), so
// evaluation is the identity. The mask is drawn from a stream seeded at
// Init, so a trial is reproducible.
type Dropout struct {
	activation
	P    float64 `opt:"p" default:"0.5" range:"[0,1)" doc:"probability of zeroing an element"`
	rng  *rand.Rand
	mask []float32 // 0 or 1/(1−p) per element of the last training batch
	eval bool      // the last Forward was in evaluation mode
}

var _ = add(framework.Plugin[framework.Layer]{Name: "dropout", Doc: "zero inputs with probability p while training",
	New: func() framework.Layer { return &Dropout{} }})

// Init seeds the mask stream from the model's random source.
func (d *Dropout) Init(in int, rng *rand.Rand) (int, error) {
	d.rng = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	return in, nil
}

// Forward draws a fresh mask in training and is the identity otherwise.
func (d *Dropout) Forward(x *mat.Matrix, training bool) *mat.Matrix {
	d.eval = !training || d.P == 0
	if d.eval {
		return x
	}
	n := x.Rows * x.Cols
	if cap(d.mask) < n {
		d.mask = make([]float32, n)
	}
	d.mask = d.mask[:n]
	scale := float32(1 / (1 - d.P))
	for i := range d.mask {
		if d.rng.Float64() < d.P {
			d.mask[i] = 0
		} else {
			d.mask[i] = scale
		}
	}
	d.y.Resize(x.Rows, x.Cols)
	for i, v := range x.Data[:n] {
		d.y.Data[i] = v * d.mask[i]
	}
	return &d.y
}

// Backward multiplies the gradient by the same mask.
func (d *Dropout) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want || d.eval {
		return dy
	}
	d.dx.Resize(dy.Rows, dy.Cols)
	for i, g := range dy.Data[:len(d.mask)] {
		d.dx.Data[i] = g * d.mask[i]
	}
	return &d.dx
}
