// Package schedules holds the built-in learning-rate schedules, one file
// each, PyTorch 1.13's torch.optim.lr_scheduler under shorter names:
// constant, step (StepLR), multistep (MultiStepLR), exponential
// (ExponentialLR), cosine (CosineAnnealingLR), linear (LinearLR), onecycle
// (OneCycleLR) and plateau (ReduceLROnPlateau). Names of options, defaults
// and formulas are PyTorch's. A warmup in front of any of them is
// framework.Warmup.
//
// Notation in the doc comments: γ the learning rate, γ₀ the base rate (the
// trial's learning_rate, PyTorch's initial_lr), t the schedule's step count
// (its last_epoch: 0 before the first Step, t after t calls). Where PyTorch
// computes γₜ from γₜ₋₁ (its "chainable" get_lr), so does the plugin, with
// the same float64 operations in the same order; explicit float64
// conversions keep the compiler from fusing a multiply and an add, which
// would round differently. testdata/golden.json holds torch's rates for
// 1,000 steps of every schedule (see TestAgainstPyTorch).
package schedules

import "github.com/gradsweep/gradsweep/framework"

var builtins framework.Builtins[framework.Schedule]

func add(p framework.Plugin[framework.Schedule]) bool { return builtins.Add(p) }

// Register adds every built-in schedule to r.
func Register(r *framework.Registry[framework.Schedule]) { builtins.RegisterInto(r) }

func init() { Register(framework.Schedules) }

// epochly is embedded by the schedules that step once per epoch by
// default, as in PyTorch's usual loop.
type epochly struct{}

// DefaultInterval is framework.IntervalEpoch.
func (epochly) DefaultInterval() string { return framework.IntervalEpoch }

// track keeps the base rate, the current rate and the step count of a
// schedule.
type track struct {
	base float64 // γ₀
	lr   float64 // γₜ
	t    int     // Step calls since Start
}

// Rate is γₜ.
func (b *track) Rate() float64 { return b.lr }
