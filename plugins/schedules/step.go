package schedules

import "github.com/gradsweep/gradsweep/framework"

// Step is torch.optim.lr_scheduler.StepLR: the rate is multiplied by gamma
// every step_size steps,
//
//	γₜ = γₜ₋₁·gamma if t > 0 and t mod step_size = 0, else γₜ₋₁
//
// which is γ₀·gamma^⌊t/step_size⌋, computed as PyTorch does, by repeated
// multiplication.
type Step struct {
	epochly
	track
	StepSize int     `opt:"step_size" required:"true" range:"[1,]" doc:"steps between two decays"`
	Gamma    float64 `opt:"gamma" default:"0.1" range:"(0,]" doc:"factor of each decay"`
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "step", Doc: "γ × gamma every step_size steps (StepLR)",
	New: func() framework.Schedule { return &Step{} }})

// Start sets γ₀.
func (s *Step) Start(base float64, _ int) { s.track = track{base: base, lr: base} }

// Step decays the rate at every multiple of step_size.
func (s *Step) Step(float64) {
	s.t++
	if s.t%s.StepSize == 0 {
		s.lr *= s.Gamma
	}
}
