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

// mapForward sets y = f(x) element-wise.
func (a *activation) mapForward(x *mat.Matrix, f func(float32) float32) *mat.Matrix {
	a.x = x
	a.y.Resize(x.Rows, x.Cols)
	for i, v := range x.Data[:len(a.y.Data)] {
		a.y.Data[i] = f(v)
	}
	return &a.y
}

// mapBackward sets dx = dy ⊙ df(x, y), df being f' written in terms of the
// input x and output y, whichever is cheaper.
func (a *activation) mapBackward(dy *mat.Matrix, df func(x, y float32) float32) *mat.Matrix {
	a.dx.Resize(dy.Rows, dy.Cols)
	xs, ys := a.x.Data[:len(a.dx.Data)], a.y.Data[:len(a.dx.Data)]
	for i, g := range dy.Data[:len(a.dx.Data)] {
		a.dx.Data[i] = g * df(xs[i], ys[i])
	}
	return &a.dx
}
