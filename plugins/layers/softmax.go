package layers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Softmax maps each row to probabilities, y_j = e^(x_j − m) / Σ_k e^(x_k − m)
// with m = max_k x_k (the shift changes nothing mathematically and keeps
// exp from overflowing). Its backward pass is the Jacobian-vector product
// dx_j = y_j · (dy_j − Σ_k dy_k·y_k).
//
// For classification, prefer a linear output with the cross_entropy loss,
// which fuses softmax and log into one stable step; this layer is for
// models that need probabilities as outputs (e.g. with mse).
type Softmax struct{ activation }

var _ = add(framework.Plugin[framework.Layer]{Name: "softmax", Doc: "y_j = exp(x_j) / sum_k exp(x_k), per row",
	New: func() framework.Layer { return &Softmax{} }})

// Forward normalises each row.
func (s *Softmax) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	s.x = x
	s.y.Resize(x.Rows, x.Cols)
	for i := 0; i < x.Rows; i++ {
		in, out := x.Row(i), s.y.Row(i)
		m := in[0]
		for _, v := range in {
			m = max(m, v)
		}
		vec.ExpShift(out, in, m) // e^(x_j − m), summed in float64
		var sum float64
		for _, e := range out {
			sum += float64(e)
		}
		for j := range out {
			out[j] = float32(float64(out[j]) / sum)
		}
	}
	return &s.y
}

// Backward applies the softmax Jacobian row by row.
func (s *Softmax) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	if !want {
		return nil
	}
	s.dx.Resize(dy.Rows, dy.Cols)
	for i := 0; i < dy.Rows; i++ {
		g, y, dx := dy.Row(i), s.y.Row(i), s.dx.Row(i)
		var dot float64
		for j := range g {
			dot += float64(g[j]) * float64(y[j])
		}
		for j := range g {
			dx[j] = float32(float64(y[j]) * (float64(g[j]) - dot))
		}
	}
	return &s.dx
}
