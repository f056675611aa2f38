package optimizers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Adagrad is torch.optim.Adagrad:
//
//	g ← g + λθ
//	γ̃ ← γ / (1 + (t − 1)·η)           η = lr_decay
//	s ← s + g²                         s starts at initial_accumulator_value
//	θ ← θ − γ̃ · g / (√s + ε)
//
// Each weight's step shrinks with the sum of its squared gradients: large
// steps for rarely updated weights, small ones for busy weights.
type Adagrad struct {
	LRDecay     float64 `opt:"lr_decay" default:"0" range:"[0,]" doc:"η: learning-rate decay per step"`
	InitialAcc  float64 `opt:"initial_accumulator_value" default:"0" range:"[0,]" doc:"initial value of s"`
	Eps         float64 `opt:"eps" default:"1e-10" range:"(0,]" doc:"ε added to √s"`
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state       states[adagradState]
	upd         rangeUpdate[vec.AdagradParams]
}

type adagradState struct {
	sum  []float32
	step int
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "adagrad", Doc: "per-weight step scaled by accumulated squared gradients",
	New: func() framework.Optimizer { return &Adagrad{} }})

// Step applies the Adagrad update.
func (o *Adagrad) Step(params []*framework.Param, lr float64) {
	c := vec.AdagradParams{Eps: float32(o.Eps), WD: float32(o.WeightDecay)}
	for _, p := range params {
		st := o.state.get(p, func(n int) *adagradState {
			s := &adagradState{sum: make([]float32, n)}
			for i := range s.sum {
				s.sum[i] = float32(o.InitialAcc)
			}
			return s
		})
		st.step++
		c.CLR = float32(lr / (1 + float64(st.step-1)*o.LRDecay))
		o.upd.run(adagradKernel, p.Value, p.Grad, [3][]float32{st.sum}, c)
	}
}

func adagradKernel(theta, grad []float32, s [3][]float32, c vec.AdagradParams) {
	vec.Adagrad(theta, grad, s[0], c) // s ← s + g²; θ ← θ − γ̃·g/(√s + ε)
}
