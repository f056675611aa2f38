package optimizers

import (
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
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
	nesterov    bool
	state       states[velocity]
}

type velocity struct {
	b       []float32
	started bool
}

func newVelocity(n int) *velocity { return &velocity{b: make([]float32, n)} }

var _ = add(framework.Plugin[framework.Optimizer]{Name: "momentum", Doc: "SGD with momentum (heavy ball)",
	New: func() framework.Optimizer { return &Momentum{} }})

// Step applies the momentum update (or Nesterov's, see Nesterov).
func (o *Momentum) Step(params []*framework.Param, lr float64) {
	mu, damp, wd := float32(o.Momentum), float32(1-o.Dampening), float32(o.WeightDecay) // 1−τ rounded once
	nlr := -float32(lr)
	for _, p := range params {
		st := o.state.get(p, newVelocity)
		b := st.b
		for i := range p.Value {
			g := grad(p, i, wd)
			if st.started {
				b[i] = mu*b[i] + damp*g
			} else {
				b[i] = g
			}
			if o.nesterov {
				p.Value[i] += nlr * (g + mu*b[i])
			} else {
				p.Value[i] += nlr * b[i]
			}
		}
		st.started = true
	}
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
type Nesterov struct{ Momentum }

var _ = add(framework.Plugin[framework.Optimizer]{Name: "nesterov", Doc: "SGD with Nesterov momentum (NAG)",
	New: func() framework.Optimizer { return &Nesterov{Momentum{nesterov: true}} }})

// Validate keeps dampening at 0, as PyTorch does for Nesterov.
func (o *Nesterov) Validate() error {
	if o.Dampening != 0 {
		return fmt.Errorf("nesterov momentum requires dampening 0 (as torch.optim.SGD does)")
	}
	return nil
}
