package optimizers

import "github.com/gradsweep/gradsweep/framework"

// AdamW is torch.optim.AdamW (Loshchilov & Hutter): Adam with decoupled
// weight decay. The weights shrink directly, θ ← θ·(1 − γλ), before the
// Adam step, instead of λθ being added to the gradient (where Adam's
// scaling would weaken it for weights with large gradients). Everything
// else is Adam's rule; λ defaults to 0.01 as in PyTorch.
type AdamW struct {
	adamCore
	WeightDecay float64 `opt:"weight_decay" default:"0.01" range:"[0,]" doc:"λ: decoupled decay, θ ← θ(1 − γλ) each step"`
}

var _ = add(framework.Plugin[framework.Optimizer]{Name: "adamw", Doc: "Adam with decoupled weight decay",
	New: func() framework.Optimizer { return &AdamW{} }})

// Step applies the AdamW update.
func (o *AdamW) Step(params []*framework.Param, lr float64) {
	o.step(params, lr, 0, o.WeightDecay)
}
