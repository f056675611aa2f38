package schedules

import "github.com/gradsweep/gradsweep/framework"

// Exponential is torch.optim.lr_scheduler.ExponentialLR: the rate is
// multiplied by gamma at every step,
//
//	γₜ = γₜ₋₁·gamma   (γ₀·gammaᵗ, by repeated multiplication as in PyTorch)
type Exponential struct {
	epochly
	track
	Gamma float64 `opt:"gamma" required:"true" range:"(0,]" doc:"factor of each step"`
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "exponential", Doc: "γ × gamma every step (ExponentialLR)",
	New: func() framework.Schedule { return &Exponential{} }})

// Start sets γ₀.
func (s *Exponential) Start(base float64, _ int) { s.track = track{base: base, lr: base} }

// Step multiplies the rate by gamma.
func (s *Exponential) Step(float64) {
	s.t++
	s.lr *= s.Gamma
}
