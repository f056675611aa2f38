package optimizers

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// NAdam is torch.optim.NAdam (Dozat): Adam with Nesterov momentum and
// momentum decay ψ:
//
//	g ← g + λθ
//	μₜ   = β₁·(1 − ½·0.96^(t·ψ))
//	μₜ₊₁ = β₁·(1 − ½·0.96^((t+1)·ψ))
//	m ← β₁·m + (1 − β₁)·g
//	v ← β₂·v + (1 − β₂)·g²
//	m̂ = μₜ₊₁·m / (1 − Π_{i≤t+1} μᵢ) + (1 − μₜ)·g / (1 − Π_{i≤t} μᵢ)
//	v̂ = v / (1 − β₂ᵗ)
//	θ ← θ − γ·m̂ / (√v̂ + ε)
type NAdam struct {
	Beta1         float64 `opt:"beta1" default:"0.9" range:"[0,1)" doc:"β₁: decay of the first moment"`
	Beta2         float64 `opt:"beta2" default:"0.999" range:"[0,1)" doc:"β₂: decay of the second moment"`
	Eps           float64 `opt:"eps" default:"1e-8" range:"(0,]" doc:"ε added to √v̂"`
	MomentumDecay float64 `opt:"momentum_decay" default:"0.004" range:"[0,]" doc:"ψ: momentum schedule decay"`
	WeightDecay   float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state         states[nadamState]
	upd           rangeUpdate[vec.NAdamParams]
}

type nadamState struct {
	m, v      []float32
	step      int
	muProduct float32 // Π_{i≤t} μᵢ, kept in float32 as torch keeps it
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "nadam", Doc: "Adam with Nesterov momentum",
	New: func() framework.Optimizer { return &NAdam{} }})

// Step applies the NAdam update.
func (o *NAdam) Step(params []*framework.Param, lr float64) {
	c := vec.NAdamParams{
		B1: float32(o.Beta1), C1: float32(1 - o.Beta1),
		B2: float32(o.Beta2), C2: float32(1 - o.Beta2),
		Eps: float32(o.Eps),
		WD:  float32(o.WeightDecay),
	}
	for _, p := range params {
		st := o.state.get(p, func(n int) *nadamState {
			return &nadamState{m: make([]float32, n), v: make([]float32, n), muProduct: 1}
		})
		st.step++
		t := float64(st.step)
		mu := o.Beta1 * (1 - 0.5*math.Pow(0.96, t*o.MomentumDecay))
		muNext := o.Beta1 * (1 - 0.5*math.Pow(0.96, (t+1)*o.MomentumDecay))
		st.muProduct *= float32(mu)
		mp := float64(st.muProduct)
		c.BC2 = float32(1 - math.Pow(o.Beta2, t))
		c.CG = float32(lr * (1 - mu) / (1 - mp))
		c.CM = float32(lr * muNext / (1 - mp*muNext))
		// m, v as Adam; d = √(v/bc) + ε; θ ← θ − cg·g/d − cm·m/d
		o.upd.run(nadamKernel, p.Value, p.Grad, [3][]float32{st.m, st.v}, c)
	}
}

func nadamKernel(theta, grad []float32, s [3][]float32, c vec.NAdamParams) {
	vec.NAdam(theta, grad, s[0], s[1], c)
}
