package optimizers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// RMSprop is torch.optim.RMSprop:
//
//	g ← g + λθ
//	v ← α·v + (1 − α)·g²
//	ṽ ← v;  centered: ḡ ← α·ḡ + (1 − α)·g,  ṽ ← v − ḡ²
//	μ > 0:  b ← μ·b + g/(√ṽ + ε),  θ ← θ − γ·b
//	μ = 0:  θ ← θ − γ·g/(√ṽ + ε)
//
// Adagrad with a moving average instead of a sum, so old gradients fade and
// steps do not shrink to nothing.
type RMSprop struct {
	Alpha       float64 `opt:"alpha" default:"0.99" range:"[0,1)" doc:"α: decay of the squared-gradient average"`
	Eps         float64 `opt:"eps" default:"1e-8" range:"(0,]" doc:"ε added to √ṽ"`
	Momentum    float64 `opt:"momentum" default:"0" range:"[0,1)" doc:"μ: momentum on the scaled step"`
	Centered    bool    `opt:"centered" default:"false" doc:"subtract the squared mean gradient (variance estimate)"`
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state       states[rmspropState]
	upd         rangeUpdate[vec.RMSpropParams]
}

type rmspropState struct{ v, gAvg, b []float32 }

var _ = add(framework.Plugin[framework.Optimizer]{Name: "rmsprop", Doc: "step scaled by a moving RMS of gradients",
	New: func() framework.Optimizer { return &RMSprop{} }})

// Step applies the RMSprop update.
func (o *RMSprop) Step(params []*framework.Param, lr float64) {
	c := vec.RMSpropParams{
		Alpha: float32(o.Alpha), CAlpha: float32(1 - o.Alpha),
		Eps:      float32(o.Eps),
		Mu:       float32(o.Momentum), // the velocity b is used when μ > 0
		LR:       float32(lr),
		WD:       float32(o.WeightDecay),
		Centered: o.Centered,
	}
	for _, p := range params {
		st := o.state.get(p, func(n int) *rmspropState {
			return &rmspropState{v: make([]float32, n), gAvg: make([]float32, n), b: make([]float32, n)}
		})
		o.upd.run(rmspropKernel, p.Value, p.Grad, [3][]float32{st.v, st.gAvg, st.b}, c)
	}
}

func rmspropKernel(theta, grad []float32, s [3][]float32, c vec.RMSpropParams) {
	vec.RMSprop(theta, grad, s[0], s[1], s[2], c)
}
