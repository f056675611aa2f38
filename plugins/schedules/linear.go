package schedules

import "github.com/gradsweep/gradsweep/framework"

// Linear is torch.optim.lr_scheduler.LinearLR: the rate is multiplied by a
// factor that goes linearly from start_factor to end_factor over
// total_iters steps, then stays,
//
//	γₜ = γ₀·(start_factor + (end_factor − start_factor)·min(t, total_iters)/total_iters)
//
// computed as PyTorch does, recursively (see framework.LinearLR).
type Linear struct {
	epochly
	track
	StartFactor float64 `opt:"start_factor" default:"0.3333333333333333" range:"(0,1]" doc:"factor of the first step"`
	EndFactor   float64 `opt:"end_factor" default:"1" range:"[0,1]" doc:"factor from step total_iters on"`
	TotalIters  int     `opt:"total_iters" default:"5" range:"[1,]" doc:"steps from start_factor to end_factor"`
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "linear", Doc: "γ₀ × a factor linear from start_factor to end_factor over total_iters steps (LinearLR)",
	New: func() framework.Schedule { return &Linear{} }})

// Start sets γ = γ₀·start_factor.
func (s *Linear) Start(base float64, _ int) {
	s.track = track{base: base, lr: framework.LinearLR(base, 0, s.TotalIters, s.StartFactor, s.EndFactor)}
}

// Step moves the factor one step towards end_factor.
func (s *Linear) Step(float64) {
	s.t++
	s.lr = framework.LinearLR(s.lr, s.t, s.TotalIters, s.StartFactor, s.EndFactor)
}
