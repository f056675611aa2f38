package optimizers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// Momentum is torch.optim.SGD(momentum=μ, dampening=τ, nesterov=False):
//
//	g ← g + λθ
//	b ← g                        on the first step
//	b ← μ·b + (1 − τ)·g          afterwards
//	θ ← θ − γ·b
//
// b is a velocity: steps keep part of their previous direction, which
// damps SGD's zig-zag. μ defaults to 0.9 here (PyTorch's SGD defaults to 0,
// which would make this plain sgd).
type Momentum struct {
	Momentum    float64 `opt:"momentum" default:"0.9" range:"(0,1)" doc:"μ: fraction of the previous velocity kept"`
	Dampening   float64 `opt:"dampening" default:"0" range:"[0,1]" doc:"τ: damping of the new gradient in the velocity"`
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state       states[velocity]
	upd         rangeUpdate[vec.MomentumParams]
}

type velocity struct {
	b       []float32
	started bool
}

func newVelocity(n int) *velocity { return &velocity{b: make([]float32, n)} }

var _ = add(framework.Plugin[framework.Optimizer]{Name: "momentum", Doc: "SGD with momentum (heavy ball)",
	New: func() framework.Optimizer { return &Momentum{} }})

// Step applies the momentum update.
func (o *Momentum) Step(params []*framework.Param, lr float64) {
	velocityStep(params, lr, o.Momentum, o.Dampening, o.WeightDecay, false, &o.state, &o.upd)
}

// velocityStep is torch.optim.SGD's momentum branch, shared by Momentum
// and Nesterov.
func velocityStep(params []*framework.Param, lr, momentum, dampening, weightDecay float64, nesterov bool, state *states[velocity], upd *rangeUpdate[vec.MomentumParams]) {
	c := vec.MomentumParams{
		NegLR:    -float32(lr),
		Mu:       float32(momentum),
		Damp:     float32(1 - dampening), // 1−τ rounded once
		WD:       float32(weightDecay),
		Nesterov: nesterov,
	}
	for _, p := range params {
		st := state.get(p, newVelocity)
		c.First = !st.started
		upd.run(momentumKernel, p.Value, p.Grad, [3][]float32{st.b}, c)
		st.started = true
	}
}

func momentumKernel(theta, grad []float32, s [3][]float32, c vec.MomentumParams) {
	vec.Momentum(theta, grad, s[0], c)
}

// Nesterov is torch.optim.SGD(momentum=μ, nesterov=True), Nesterov's
// accelerated gradient (NAG): the momentum update, but the step looks ahead
// along the velocity:
//
//	g ← g + λθ
//	b ← g (first step), b ← μ·b + g (afterwards)
//	θ ← θ − γ·(g + μ·b)
//
// PyTorch requires dampening 0 for Nesterov, so this plugin has none.
type Nesterov struct {
	Momentum    float64 `opt:"momentum" default:"0.9" range:"(0,1)" doc:"μ: fraction of the previous velocity kept"`
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	state       states[velocity]
	upd         rangeUpdate[vec.MomentumParams]
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "nesterov", Doc: "SGD with Nesterov momentum (NAG)",
	New: func() framework.Optimizer { return &Nesterov{} }})

// Step applies the Nesterov update.
func (o *Nesterov) Step(params []*framework.Param, lr float64) {
	velocityStep(params, lr, o.Momentum, 0, o.WeightDecay, true, &o.state, &o.upd)
}
