package plugins_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	_ "github.com/gradsweep/gradsweep/plugins/functions"
	"github.com/gradsweep/gradsweep/plugins/layers"
	"github.com/gradsweep/gradsweep/plugins/losses"
)

// Options a plugin needs to be built at all; every other plugin is checked
// with its defaults, and these variants are checked too.
var layerVariants = map[string][]map[string]any{
	"dense": {
		{"units": 4}, {"units": 3, "init": "xavier"}, {"units": 5, "init": "he"},
		{"units": 2, "bias": false}, {"units": 4, "init": "zeros"},
	},
	"leaky_relu": {nil, {"negative_slope": 0.2}},
	"dropout":    {nil, {"p": 0.3}},
	"point":      {{"start": []any{0.3, -0.7}}},
}

var lossVariants = map[string][]map[string]any{
	"huber":         {nil, {"delta": 0.5}},
	"cross_entropy": {nil, {"label_smoothing": 0.1}},
	"function": {{"function": "beale"}, {"function": "himmelblau"}, {"function": "quadratic"}, {"function": "quadratic", "condition": 3.0},
		{"function": "rastrigin"}, {"function": "rosenbrock"}, {"function": "saddle"}},
}

func variants(table map[string][]map[string]any, name string) []map[string]any {
	if v, ok := table[name]; ok {
		return v
	}
	return []map[string]any{nil}
}

func randomMatrix(rng *rand.Rand, r, c int) *mat.Matrix {
	m := mat.New(r, c)
	for i := range m.Data {
		// keep inputs away from kinks (ReLU at 0) so differences are smooth
		v := 0.15 + rng.Float64()*1.5
		if rng.IntN(2) == 0 {
			v = -v
		}
		m.Data[i] = float32(v)
	}
	return m
}

// centralDiff estimates ∂f/∂v[i] by (f(v+h) − f(v−h)) / 2h.
func centralDiff(v []float32, i int, h float32, f func() float64) float64 {
	old := v[i]
	v[i] = old + h
	fp := f()
	v[i] = old - h
	fm := f()
	v[i] = old
	// divide by the step actually taken in float32
	return (fp - fm) / float64((old+h)-(old-h))
}

func closeEnough(analytic, numeric float64) bool {
	return math.Abs(analytic-numeric) <= 2e-3*math.Max(1, math.Max(math.Abs(analytic), math.Abs(numeric)))
}

// TestLayerGradients checks every registered layer's Backward against
// central finite differences of f(x, θ) = Σ r ⊙ Forward(x), for the input
// and every parameter, in evaluation mode (dropout's training mask is
// checked in TestDropoutMask). A new layer is checked the moment it
// registers.
func TestLayerGradients(t *testing.T) {
	reg := framework.NewRegistry[framework.Layer]("layer")
	layers.Register(reg)
	for _, name := range reg.Names() {
		for _, opts := range variants(layerVariants, name) {
			rng := rand.New(rand.NewPCG(1, 2))
			l, err := reg.New(name, opts)
			if err != nil {
				t.Fatalf("%s %v: %v", name, opts, err)
			}
			const in, batch = 5, 3
			out, err := l.Init(in, rng)
			if err != nil {
				t.Fatalf("%s: Init: %v", name, err)
			}
			for _, p := range l.Params() { // zeros init would hide bugs: perturb
				for i := range p.Value {
					p.Value[i] = float32(rng.NormFloat64() * 0.5)
				}
			}
			x := randomMatrix(rng, batch, in)
			r := randomMatrix(rng, batch, out)
			f := func() float64 {
				y := l.Forward(x, false)
				s := 0.0
				for i, v := range y.Data {
					s += float64(v) * float64(r.Data[i])
				}
				return s
			}
			f()
			dx := l.Backward(r, true)
			grads := map[string][]float64{}
			for _, p := range l.Params() {
				grads[p.Name] = toF64(p.Grad)
			}
			dxs := toF64(dx.Data)
			const h = 1e-2
			for i := range x.Data {
				if num := centralDiff(x.Data, i, h, f); !closeEnough(dxs[i], num) {
					t.Errorf("%s %v: dL/dx[%d] = %.6g, finite difference %.6g", name, opts, i, dxs[i], num)
				}
			}
			for _, p := range l.Params() {
				for i := range p.Value {
					if num := centralDiff(p.Value, i, h, f); !closeEnough(grads[p.Name][i], num) {
						t.Errorf("%s %v: dL/d%s[%d] = %.6g, finite difference %.6g", name, opts, p.Name, i, grads[p.Name][i], num)
					}
				}
			}
		}
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestLossGradients checks every registered loss's gradient against
// central finite differences, with regression targets and with class
// labels wherever the loss accepts them.
func TestLossGradients(t *testing.T) {
	reg := framework.NewRegistry[framework.Loss]("loss")
	losses.Register(reg)
	for _, name := range reg.Names() {
		for _, opts := range variants(lossVariants, name) {
			l, err := reg.New(name, opts)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			const batch = 4
			k := 3
			if l.Check(framework.Regression, k, k) != nil && l.Check(framework.Classification, k, k) != nil {
				k = 2 // a loss on a point [x, y] (function)
			}
			pred := randomMatrix(rng, batch, k)
			var cases []framework.Targets
			if l.Check(framework.Regression, k, k) == nil {
				y := mat.New(batch, k)
				for i := range y.Data { // targets off the kinks of mae/huber
					y.Data[i] = pred.Data[i] + float32(0.2+0.6*rng.Float64())*float32(1-2*rng.IntN(2))
				}
				cases = append(cases, framework.Targets{Values: y})
			}
			if l.Check(framework.Classification, k, k) == nil {
				cases = append(cases, framework.Targets{Labels: []int32{0, 2, 1, 2}})
			}
			if len(cases) == 0 {
				t.Fatalf("%s accepts neither regression nor classification", name)
			}
			for _, tg := range cases {
				var grad mat.Matrix
				f := func() float64 { var g mat.Matrix; return l.Eval(pred, tg, &g) }
				l.Eval(pred, tg, &grad)
				an := toF64(grad.Data)
				for i := range pred.Data {
					if num := centralDiff(pred.Data, i, 1e-2, f); !closeEnough(an[i], num) {
						t.Errorf("%s %v (labels=%v): dL/dŷ[%d] = %.6g, finite difference %.6g", name, opts, tg.Labels != nil, i, an[i], num)
					}
				}
			}
		}
	}
}

// Large logits must give finite losses and gradients (log-sum-exp and the
// stable BCE form), not Inf or NaN.
func TestLossesStableForLargeLogits(t *testing.T) {
	reg := framework.NewRegistry[framework.Loss]("loss")
	losses.Register(reg)
	pred := &mat.Matrix{Rows: 2, Cols: 2, Data: []float32{1e4, -1e4, -3e4, 3e4}}
	for _, name := range []string{"cross_entropy", "binary_cross_entropy"} {
		l, _ := reg.New(name, nil)
		var g mat.Matrix
		v := l.Eval(pred, framework.Targets{Labels: []int32{1, 0}}, &g)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: loss %v for large logits", name, v)
		}
		for _, x := range g.Data {
			if x != x || math.IsInf(float64(x), 0) {
				t.Errorf("%s: gradient %v", name, g.Data)
			}
		}
		// wrong by 2e4 logits: loss ≈ 2e4 (cross_entropy) — finite and large
		if v < 1e3 {
			t.Errorf("%s: loss %v, want a large finite value", name, v)
		}
	}
}

// Inverted dropout: in training each element is either zeroed or scaled by
// 1/(1−p), the gradient uses the same mask, and evaluation is the identity.
func TestDropoutMask(t *testing.T) {
	reg := framework.NewRegistry[framework.Layer]("layer")
	layers.Register(reg)
	l, _ := reg.New("dropout", map[string]any{"p": 0.25})
	rng := rand.New(rand.NewPCG(5, 6))
	l.Init(8, rng)
	x := mat.New(50, 8)
	for i := range x.Data {
		x.Data[i] = 1
	}
	y := l.Forward(x, true)
	zeros := 0
	for _, v := range y.Data {
		switch v {
		case 0:
			zeros++
		case float32(1 / 0.75):
		default:
			t.Fatalf("dropout output %v is neither 0 nor 1/(1-p)", v)
		}
	}
	if frac := float64(zeros) / 400; frac < 0.15 || frac > 0.35 {
		t.Errorf("dropped fraction %.2f, want ≈ 0.25", frac)
	}
	ones := mat.New(50, 8)
	copy(ones.Data, x.Data)
	dx := l.Backward(ones, true)
	for i := range dx.Data {
		if dx.Data[i] != y.Data[i] {
			t.Fatalf("gradient mask differs from forward mask at %d", i)
		}
	}
	if e := l.Forward(x, false); e.Data[0] != 1 || e.Data[399] != 1 {
		t.Errorf("evaluation is not the identity")
	}
}

// ReLU at the edges, as PyTorch: relu(NaN) = NaN, relu(−0) = 0, and the
// gradient passes only where x > 0 (not at 0, not at NaN).
func TestReLUEdges(t *testing.T) {
	reg := framework.NewRegistry[framework.Layer]("layer")
	layers.Register(reg)
	l, _ := reg.New("relu", nil)
	l.Init(4, nil)
	nan := float32(math.NaN())
	x := &mat.Matrix{Rows: 1, Cols: 4, Data: []float32{nan, float32(math.Copysign(0, -1)), -2, 3}}
	y := l.Forward(x, true)
	if !math.IsNaN(float64(y.Data[0])) || y.Data[1] != 0 || math.Signbit(float64(y.Data[1])) || y.Data[2] != 0 || y.Data[3] != 3 {
		t.Errorf("relu(%v) = %v", x.Data, y.Data)
	}
	dx := l.Backward(&mat.Matrix{Rows: 1, Cols: 4, Data: []float32{5, 5, 5, 5}}, true)
	if dx.Data[0] != 0 || dx.Data[1] != 0 || dx.Data[2] != 0 || dx.Data[3] != 5 {
		t.Errorf("relu gradient %v", dx.Data)
	}
}

// A shape mismatch says "1 output", not "1 outputs".
func TestLossCheckCountsInWords(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{(&losses.CrossEntropy{}).Check(framework.Classification, 1, 3), "the model has 1 output but the data has 3 classes"},
		{(&losses.MSE{}).Check(framework.Regression, 2, 1), "the model has 2 outputs but the data has 1 target column"},
		{(&losses.MSE{}).Check(framework.Classification, 1, 3), "the model has 1 output but the data has 3 classes"},
	} {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("%v, want %s…", c.err, c.want)
		}
	}
}
