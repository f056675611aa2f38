package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Dense is a fully connected layer, PyTorch's nn.Linear:
//
//	y = x·Wᵀ + b        W is [units, in], b is [units]
//
// Backward, for a batch X (B×in) and upstream gradient dY (B×units):
//
//	dW = dYᵀ·X,  db = Σ_rows dY,  dX = dY·W
//
// Initialisation (init):
//
//	uniform         W, b ~ U(−1/√in, 1/√in)        nn.Linear's default
//	xavier, glorot  W ~ U(−a, a), a = √(6/(in+units)); b = 0
//	he, kaiming     W ~ N(0, 2/in) (kaiming_normal_, fan_in, ReLU gain); b = 0
//	zeros           W = 0, b = 0
type Dense struct {
	Units       int    `opt:"units" range:"[1,]" doc:"output width"`
	Initializer string `opt:"init" default:"uniform" enum:"zeros,uniform,xavier,glorot,he,kaiming" doc:"weight initialisation"`
	Bias        bool   `opt:"bias" default:"true" doc:"learn an additive bias"`

	w, b   framework.Param
	wm     mat.Matrix // view of w as a matrix
	x      *mat.Matrix
	y, dx  mat.Matrix
	params []*framework.Param
}

var _ = add(framework.Plugin[framework.Layer]{Name: "dense", Doc: "fully connected: y = x·Wᵀ + b",
	New: func() framework.Layer { return &Dense{} }})

// Validate requires units.
func (d *Dense) Validate() error {
	if d.Units < 1 {
		return fmt.Errorf("option \"units\" is required (the layer's output width)")
	}
	return nil
}

// Size is the output width and the parameter count for inputs of width in
// (framework.Sizer).
func (d *Dense) Size(in int) (int, float64) {
	params := float64(d.Units) * float64(in)
	if d.Bias {
		params += float64(d.Units)
	}
	return d.Units, params
}

// Init allocates and initialises W and b.
func (d *Dense) Init(in int, rng *rand.Rand) (int, error) {
	if in < 1 {
		return 0, fmt.Errorf("dense: input width %d", in)
	}
	if d.Units < 1 {
		return 0, d.Validate()
	}
	out := d.Units
	d.w = framework.Param{Name: "weight", Shape: []int{out, in}, Value: make([]float32, out*in), Grad: make([]float32, out*in)}
	d.wm = mat.Matrix{Rows: out, Cols: in, Data: d.w.Value}
	d.params = []*framework.Param{&d.w}
	if d.Bias {
		d.b = framework.Param{Name: "bias", Shape: []int{out}, Value: make([]float32, out), Grad: make([]float32, out)}
		d.params = append(d.params, &d.b)
	}
	switch d.Initializer {
	case "zeros":
	case "", "uniform":
		bound := 1 / math.Sqrt(float64(in))
		fillUniform(d.w.Value, bound, rng)
		fillUniform(d.b.Value, bound, rng)
	case "xavier", "glorot":
		fillUniform(d.w.Value, math.Sqrt(6/float64(in+out)), rng)
	case "he", "kaiming":
		std := math.Sqrt(2 / float64(in))
		for i := range d.w.Value {
			d.w.Value[i] = float32(rng.NormFloat64() * std)
		}
	default:
		return 0, fmt.Errorf("dense: unknown init %q", d.Initializer)
	}
	return out, nil
}

func fillUniform(v []float32, bound float64, rng *rand.Rand) {
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// Params returns W and, with bias, b.
func (d *Dense) Params() []*framework.Param { return d.params }

// Forward computes x·Wᵀ + b.
func (d *Dense) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	d.x = x
	mat.MulABt(&d.y, x, &d.wm)
	if d.Bias {
		b := d.b.Value
		for i := 0; i < d.y.Rows; i++ {
			row := d.y.Row(i)
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	return &d.y
}

// Backward stores dW and db and returns dX.
func (d *Dense) Backward(dy *mat.Matrix, want bool) *mat.Matrix {
	mat.MulAtB(d.w.Grad, dy, d.x)
	if d.Bias {
		g := d.b.Grad
		clear(g)
		for i := 0; i < dy.Rows; i++ {
			for j, v := range dy.Row(i) {
				g[j] += v
			}
		}
	}
	if !want {
		return nil
	}
	mat.MulAB(&d.dx, dy, &d.wm)
	return &d.dx
}

// Weight is W (framework.WeightedLayer: its gradient flow is measured).
func (d *Dense) Weight() *framework.Param { return &d.w }

// Output is x·Wᵀ + b of the last forward pass.
func (d *Dense) Output() *mat.Matrix { return &d.y }
