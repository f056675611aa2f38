// Package optimizers holds the built-in optimizer plugins, one file each,
// the whole family tree of the seed note: sgd; momentum and nesterov (fixing
// the direction); adagrad, rmsprop and adadelta (fixing the step size);
// adam, adamw and nadam (both). Each follows the update rule PyTorch
// documents for its torch.optim counterpart, with the same defaults, state
// and placement of eps, so results can be compared number for number.
//
// Notation in the doc comments: θ parameter, g gradient, γ learning rate,
// λ weight_decay, t the parameter's step count (1 on the first step).
// Arithmetic is float32, as PyTorch's on float32 tensors; scalars derived
// from t (bias corrections) are computed in float64 and rounded once. L2
// weight decay is folded into the gradient, g ← g + λθ, as torch.optim does
// for every optimizer but AdamW.
//
// The element-wise updates run in one pass per parameter through the
// kernels of internal/vec (AVX-512 or AVX2 where available), which round
// every float32 operation exactly as the plain Go loop of each rule would.
package optimizers

import "github.com/gradsweep/gradsweep/framework"

var builtins framework.Builtins[framework.Optimizer]

func add(p framework.Plugin[framework.Optimizer]) bool { return builtins.Add(p) }

// Register adds every built-in optimizer to r.
func Register(r *framework.Registry[framework.Optimizer]) { builtins.RegisterInto(r) }

func init() { Register(framework.Optimizers) }

// states keeps an optimizer's per-parameter state, created on the
// parameter's first step and keyed by its name (so it could be saved).
type states[S any] map[string]*S

// get returns the state of p, creating it with make on first use.
func (s *states[S]) get(p *framework.Param, make func(n int) *S) *S {
	if *s == nil {
		*s = states[S]{}
	}
	st, ok := (*s)[p.Name]
	if !ok {
		st = make(len(p.Value))
		(*s)[p.Name] = st
	}
	return st
}
