package optimizers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Adadelta is torch.optim.Adadelta:
//
//	g ← g + λθ
//	v ← ρ·v + (1 − ρ)·g²
//	Δ ← √(u + ε) / √(v + ε) · g
//	u ← ρ·u + (1 − ρ)·Δ²
//	θ ← θ − γ·Δ
//
// The step carries its own units (the RMS of past steps over the RMS of
// gradients), so γ = 1, PyTorch's default, is the usual choice.
type Adadelta struct {
	Rho         float64 `opt:"rho" default:"0.9" range:"[0,1)" doc:"ρ: decay of both running averages"`
	Eps         float64 `opt:"eps" default:"1e-6" range:"(0,]" doc:"ε inside both square roots"`
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state       states[adadeltaState]
	upd         rangeUpdate[vec.AdadeltaParams]
}

type adadeltaState struct{ v, u []float32 }

var _ = add(framework.Plugin[framework.Optimizer]{Name: "adadelta", Doc: "RMSprop with step sizes in the units of the weights",
	New: func() framework.Optimizer { return &Adadelta{} }})

// Step applies the Adadelta update.
func (o *Adadelta) Step(params []*framework.Param, lr float64) {
	c := vec.AdadeltaParams{
		Rho: float32(o.Rho), CRho: float32(1 - o.Rho),
		Eps: float32(o.Eps),
		LR:  float32(lr),
		WD:  float32(o.WeightDecay),
	}
	for _, p := range params {
		st := o.state.get(p, func(n int) *adadeltaState {
			return &adadeltaState{v: make([]float32, n), u: make([]float32, n)}
		})
		o.upd.run(adadeltaKernel, p.Value, p.Grad, [3][]float32{st.v, st.u}, c)
	}
}

func adadeltaKernel(theta, grad []float32, s [3][]float32, c vec.AdadeltaParams) {
	vec.Adadelta(theta, grad, s[0], s[1], c)
}
