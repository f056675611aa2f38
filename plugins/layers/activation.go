package layers

import (
	"math/rand/v2"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// activation is the shared machinery of parameter-free element-wise
// layers: it keeps the input and output of the last forward pass and the
// buffers it returns.
type activation struct {
	x  *mat.Matrix // input of the last Forward
	y  mat.Matrix  // output of the last Forward
	dx mat.Matrix
}

func (a *activation) Init(in int, _ *rand.Rand) (int, error) { return in, nil }
func (a *activation) Params() []*framework.Param             { return nil }

// forward keeps x and sets y = f(x) with an element-wise kernel of
// internal/vec, f(dst, src).
func (a *activation) forward(x *mat.Matrix, f func(dst, src []float32)) *mat.Matrix {
	a.x = x
	a.y.Resize(x.Rows, x.Cols)
	f(a.y.Data, x.Data)
	return &a.y
}

// backward sets dx with a gradient kernel of internal/vec, f(dx, dy).
func (a *activation) backward(dy *mat.Matrix, f func(dx, dy []float32)) *mat.Matrix {
	a.dx.Resize(dy.Rows, dy.Cols)
	f(a.dx.Data, dy.Data)
	return &a.dx
}
