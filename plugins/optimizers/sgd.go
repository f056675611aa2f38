package optimizers

import (
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// SGD is plain gradient descent, torch.optim.SGD with momentum 0:
//
//	g ← g + λθ
//	θ ← θ − γ·g
//
// Whether this is (full-batch) GD, stochastic GD or mini-batch GD is decided
// by the batch size, not the optimizer: the gradient is the mean over the
// batch.
type SGD struct {
	WeightDecay float64 `opt:"weight_decay" default:"0" range:"[0,]" doc:"λ: L2 penalty added to the gradient"`
	upd         rangeUpdate[sgdConst]
}

// sgdConst is SGD's constants: −γ and λ.
type sgdConst struct{ nlr, wd float32 }

func sgdKernel(theta, grad []float32, _ [3][]float32, c sgdConst) {
	vec.SGD(theta, grad, c.nlr, c.wd) // θ ← θ + (−γ)·g
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "sgd", Doc: "θ ← θ − γ·g (GD, SGD or mini-batch by batch size)",
	New: func() framework.Optimizer { return &SGD{} }})

// Step applies θ ← θ − γ(g + λθ).
func (o *SGD) Step(params []*framework.Param, lr float64) {
	wd := float32(o.WeightDecay)
	nlr := -float32(lr)
	for _, p := range params {
		o.upd.run(sgdKernel, p.Value, p.Grad, [3][]float32{}, sgdConst{nlr, wd})
	}
}
