package optimizers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Adam is torch.optim.Adam (Kingma & Ba), momentum and RMSprop combined:
//
//	g ← g + λθ
//	m ← β₁·m + (1 − β₁)·g
//	v ← β₂·v + (1 − β₂)·g²
//	m̂ ← m / (1 − β₁ᵗ),  v̂ ← v / (1 − β₂ᵗ)        (bias correction)
//	amsgrad: v̂max ← max(v̂max, v̂), used in place of v̂
//	θ ← θ − γ·m̂ / (√v̂ + ε)
//
// ε is added after the square root, as in PyTorch.
type Adam struct {
	adamCore
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "adam", Doc: "adaptive moments with bias correction",
	New: func() framework.Optimizer { return &Adam{} }})

// Step applies the Adam update.
func (o *Adam) Step(params []*framework.Param, lr float64) {
	o.step(params, lr, float32(o.WeightDecay), 0)
}

// adamCore is the state and moment update shared by Adam and AdamW.
type adamCore struct {
	Beta1   float64 `opt:"beta1" default:"0.9" range:"[0,1)" doc:"β₁: decay of the first moment (mean)"`
	Beta2   float64 `opt:"beta2" default:"0.999" range:"[0,1)" doc:"β₂: decay of the second moment (uncentred variance)"`
	Eps     float64 `opt:"eps" default:"1e-8" range:"(0,]" doc:"ε added to √v̂"`
	AMSGrad bool    `opt:"amsgrad" default:"false" doc:"use the running maximum of v̂ (AMSGrad)"`
	state   states[adamState]
	upd     rangeUpdate[vec.AdamParams]
}

type adamState struct {
	m, v, vmax []float32
	step       int
}

func newAdamState(n int) *adamState {
	return &adamState{m: make([]float32, n), v: make([]float32, n), vmax: make([]float32, n)}
}

// step runs one Adam step with L2 decay l2 folded into the gradient and
// decoupled decay factor decay (θ ← θ(1 − γλ) first; AdamW).
func (o *adamCore) step(params []*framework.Param, lr float64, l2 float32, decoupled float64) {
	// 1−β is computed in float64 and rounded once, as torch does with its
	// Python-float coefficients.
	c := vec.AdamParams{
		B1: float32(o.Beta1), C1: float32(1 - o.Beta1),
		B2: float32(o.Beta2), C2: float32(1 - o.Beta2),
		Eps:     float32(o.Eps),
		WD:      l2,
		Keep:    float32(1 - lr*decoupled), // 1 (no decay) when decoupled = 0
		AMSGrad: o.AMSGrad,
	}
	for _, p := range params {
		st := o.state.get(p, newAdamState)
		st.step++
		t := float64(st.step)
		c.BC2Sqrt = float32(math.Sqrt(1 - math.Pow(o.Beta2, t)))
		c.StepSize = float32(lr / (1 - math.Pow(o.Beta1, t)))
		// θ ← θ·keep; m ← β₁m + c₁g; v ← β₂v + c₂g·g; θ ← θ − s·m/(√v/bc + ε)
		o.upd.run(adamKernel, p.Value, p.Grad, [3][]float32{st.m, st.v, st.vmax}, c)
	}
}

func adamKernel(theta, grad []float32, s [3][]float32, c vec.AdamParams) {
	vec.Adam(theta, grad, s[0], s[1], s[2], c)
}
