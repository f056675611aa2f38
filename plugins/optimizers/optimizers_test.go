package optimizers_test

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/plugins/optimizers"
)

func fresh() *framework.Registry[framework.Optimizer] {
	r := framework.NewRegistry[framework.Optimizer]("optimizer")
	optimizers.Register(r)
	return r
}

func param(vals ...float32) *framework.Param {
	return &framework.Param{Name: "0.weight", Shape: []int{len(vals)}, Value: vals, Grad: make([]float32, len(vals))}
}

// step runs one step of optimizer o with gradient g.
func step(o framework.Optimizer, p *framework.Param, lr float64, g ...float32) {
	copy(p.Grad, g)
	o.Step([]*framework.Param{p}, lr)
}

func near(t *testing.T, what string, got float32, want float64) {
	t.Helper()
	if math.Abs(float64(got)-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.9g, want %.9g", what, got, want)
	}
}

// Hand-computed steps of each documented rule, on one weight.
func TestHandComputedSteps(t *testing.T) {
	reg := fresh()
	newOpt := func(name string, opts map[string]any) framework.Optimizer {
		o, err := reg.New(name, opts)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("sgd", func(t *testing.T) {
		p := param(1)
		o := newOpt("sgd", nil)
		step(o, p, 0.1, 0.5) // 1 − 0.1·0.5
		near(t, "θ1", p.Value[0], 0.95)
		step(o, p, 0.1, -2) // 0.95 + 0.2
		near(t, "θ2", p.Value[0], 1.15)
	})
	t.Run("sgd weight decay", func(t *testing.T) {
		p := param(2)
		step(newOpt("sgd", map[string]any{"weight_decay": 0.5}), p, 0.1, 1) // g = 1 + 0.5·2 = 2
		near(t, "θ1", p.Value[0], 1.8)
	})
	t.Run("momentum", func(t *testing.T) {
		p := param(1)
		o := newOpt("momentum", nil) // μ = 0.9
		step(o, p, 0.1, 1)           // b = 1, θ = 0.9
		near(t, "θ1", p.Value[0], 0.9)
		step(o, p, 0.1, 1) // b = 1.9, θ = 0.71
		near(t, "θ2", p.Value[0], 0.71)
	})
	t.Run("nesterov", func(t *testing.T) {
		p := param(1)
		o := newOpt("nesterov", nil)
		step(o, p, 0.1, 1) // b = 1, θ = 1 − 0.1·(1 + 0.9) = 0.81
		near(t, "θ1", p.Value[0], 0.81)
		step(o, p, 0.1, 1) // b = 1.9, θ = 0.81 − 0.1·(1 + 1.71) = 0.539
		near(t, "θ2", p.Value[0], 0.539)
	})
	t.Run("adagrad", func(t *testing.T) {
		p := param(1)
		o := newOpt("adagrad", nil)
		step(o, p, 0.1, 2) // s = 4, θ = 1 − 0.1·2/2 = 0.9
		near(t, "θ1", p.Value[0], 0.9)
		step(o, p, 0.1, 3) // s = 13, θ = 0.9 − 0.3/√13
		near(t, "θ2", p.Value[0], 0.9-0.3/math.Sqrt(13))
	})
	t.Run("rmsprop", func(t *testing.T) {
		p := param(1)
		step(newOpt("rmsprop", nil), p, 0.01, 2) // v = 0.01·4 = 0.04, θ = 1 − 0.01·2/0.2 = 0.9
		near(t, "θ1", p.Value[0], 1-0.01*2/(0.2+1e-8))
	})
	t.Run("adadelta", func(t *testing.T) {
		p := param(1)
		step(newOpt("adadelta", nil), p, 1, 2) // v = 0.4, Δ = √1e-6/√(0.4+1e-6)·2
		near(t, "θ1", p.Value[0], 1-math.Sqrt(1e-6)/math.Sqrt(0.4+1e-6)*2)
	})
	t.Run("adam", func(t *testing.T) {
		p := param(1)
		o := newOpt("adam", nil)
		// first step: m̂ = g, v̂ = g², so θ = 1 − γ·g/(|g| + ε) ≈ 1 − γ
		step(o, p, 0.01, 5)
		near(t, "θ1", p.Value[0], 1-0.01*5/(5+1e-8))
		// second: m = 0.09·5+0.1·(−1)... computed in float64 from the rule
		m := 0.9*(0.1*5) + 0.1*-1
		v := 0.999*(0.001*25) + 0.001*1
		mh, vh := m/(1-0.81), v/(1-0.999*0.999)
		step(o, p, 0.01, -1)
		near(t, "θ2", p.Value[0], 1-0.01*5/(5+1e-8)-0.01*mh/(math.Sqrt(vh)+1e-8))
	})
	t.Run("adamw decouples decay", func(t *testing.T) {
		p := param(2)
		step(newOpt("adamw", map[string]any{"weight_decay": 0.1}), p, 0.01, 5)
		near(t, "θ1", p.Value[0], 2*(1-0.01*0.1)-0.01)
		q := param(2) // adam folds the decay into g instead: g = 5.2, step still ≈ γ
		step(newOpt("adam", map[string]any{"weight_decay": 0.1}), q, 0.01, 5)
		near(t, "adam θ1", q.Value[0], 2-0.01)
	})
	t.Run("nadam", func(t *testing.T) {
		p := param(1)
		step(newOpt("nadam", nil), p, 0.01, 2)
		mu1 := 0.9 * (1 - 0.5*math.Pow(0.96, 0.004))
		mu2 := 0.9 * (1 - 0.5*math.Pow(0.96, 0.008))
		m := 0.1 * 2.0
		denom := math.Sqrt(0.001*4/0.001) + 1e-8
		want := 1 - 0.01*(1-mu1)*2/(1-mu1)/denom - 0.01*mu2*m/(1-mu1*mu2)/denom
		near(t, "θ1", p.Value[0], want)
	})
}

type golden struct {
	Torch string      `json:"torch"`
	Init  []float64   `json:"init"`
	Grads [][]float64 `json:"grads"`
	Cases []struct {
		Optimizer  string         `json:"optimizer"`
		Options    map[string]any `json:"options"`
		LR         float64        `json:"lr"`
		Trajectory [][]float64    `json:"trajectory"`
	} `json:"cases"`
}

func ulps(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if (ia < 0) != (ib < 0) || math.Signbit(float64(a)) != math.Signbit(float64(b)) {
		if a == b {
			return 0
		}
		return math.MaxInt32
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

// TestAgainstPyTorch replays six steps of every optimizer and compares the
// parameters with the values torch.optim produced (testdata/torch_golden.py,
// run with Debian's python3-torch). float32 arithmetic in a different order
// may differ in the last bits (PyTorch's kernels fuse some multiply-adds):
// a difference above 4e-7 relative to max(1, |θ|), a few float32 ulps of a
// unit-sized weight, is a bug. The worst difference in ulps is logged.
func TestAgainstPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/torch_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	reg := fresh()
	covered := map[string]bool{}
	for _, c := range g.Cases {
		covered[c.Optimizer] = true
		o, err := reg.New(c.Optimizer, c.Options)
		if err != nil {
			t.Fatalf("%s %v: %v", c.Optimizer, c.Options, err)
		}
		p := param(make([]float32, len(g.Init))...)
		for i, v := range g.Init {
			p.Value[i] = float32(v)
		}
		worst := int64(0)
		for k, want := range c.Trajectory {
			for i, v := range g.Grads[k] {
				p.Grad[i] = float32(v)
			}
			o.Step([]*framework.Param{p}, c.LR)
			for i, w := range want {
				d := ulps(p.Value[i], float32(w))
				worst = max(worst, d)
				if math.Abs(float64(p.Value[i])-w) > 4e-7*math.Max(1, math.Abs(w)) {
					t.Errorf("%s %v step %d θ[%d] = %.9g, torch %.9g (%d ulp)", c.Optimizer, c.Options, k+1, i, p.Value[i], w, d)
				}
			}
		}
		t.Logf("%-9s %v: worst %d ulp from torch %s over %d steps", c.Optimizer, c.Options, worst, g.Torch, len(c.Trajectory))
	}
	for _, name := range reg.Names() {
		if !covered[name] {
			t.Errorf("optimizer %q has no PyTorch golden trajectory", name)
		}
	}
}

// An optimizer's state belongs to its parameter: two parameters stepped by
// one optimizer behave as if each had its own.
func TestStatePerParameter(t *testing.T) {
	reg := fresh()
	for _, name := range reg.Names() {
		shared, _ := reg.New(name, nil)
		a, b := param(1, 2), param(3, 4)
		b.Name = "0.bias"
		for k := 0; k < 3; k++ {
			copy(a.Grad, []float32{0.5, -0.25})
			copy(b.Grad, []float32{-1, 0.75})
			shared.Step([]*framework.Param{a, b}, 0.05)
		}
		oa, _ := reg.New(name, nil)
		ob, _ := reg.New(name, nil)
		a2, b2 := param(1, 2), param(3, 4)
		for k := 0; k < 3; k++ {
			step(oa, a2, 0.05, 0.5, -0.25)
			step(ob, b2, 0.05, -1, 0.75)
		}
		for i := range a.Value {
			if a.Value[i] != a2.Value[i] || b.Value[i] != b2.Value[i] {
				t.Errorf("%s: shared state differs from separate optimizers", name)
			}
		}
	}
}

func TestBadOptions(t *testing.T) {
	reg := fresh()
	for _, c := range []struct {
		name string
		opts map[string]any
	}{
		{"adam", map[string]any{"beta1": 1.0}},
		{"adam", map[string]any{"betta1": 0.9}},
		{"sgd", map[string]any{"weight_decay": -1}},
		{"nesterov", map[string]any{"dampening": 0.1}}, // PyTorch: Nesterov needs dampening 0
		{"rmsprop", map[string]any{"centered": "maybe"}},
		{"adagrad", map[string]any{"eps": "x"}},
	} {
		if _, err := reg.New(c.name, c.opts); err == nil {
			t.Errorf("%s %v: no error", c.name, c.opts)
		}
	}
	_, err := reg.New("adamm", nil)
	if err == nil || !strings.Contains(err.Error(), `did you mean "adam"`) {
		t.Errorf("unknown name error = %v", err)
	}
}
