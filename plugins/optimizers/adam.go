package optimizers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
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
	b1, b2, eps := float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
	c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
	for _, p := range params {
		st := o.state.get(p, newAdamState)
		st.step++
		t := float64(st.step)
		bc1 := 1 - math.Pow(o.Beta1, t)
		bc2Sqrt := float32(math.Sqrt(1 - math.Pow(o.Beta2, t)))
		stepSize := float32(lr / bc1)
		keep := float32(1 - lr*decoupled)
		for i := range p.Value {
			if decoupled != 0 {
				p.Value[i] *= keep
			}
			g := grad(p, i, l2)
			st.m[i] = b1*st.m[i] + c1*g
			st.v[i] = b2*st.v[i] + c2*g*g
			v := st.v[i]
			if o.AMSGrad {
				st.vmax[i] = max(st.vmax[i], v)
				v = st.vmax[i]
			}
			denom := float32(math.Sqrt(float64(v)))/bc2Sqrt + eps
			p.Value[i] -= stepSize * st.m[i] / denom
		}
	}
}
