package schedules

import "github.com/gradsweep/gradsweep/framework"

// Constant keeps the base rate for the whole trial, γₜ = γ₀: what training
// does without a schedule.
type Constant struct {
	epochly
	track
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "constant", Doc: "γ = γ₀ throughout",
	New: func() framework.Schedule { return &Constant{} }})

// Start sets γ = γ₀.
func (s *Constant) Start(base float64, _ int) { s.track = track{base: base, lr: base} }

// Step does nothing.
func (s *Constant) Step(float64) { s.t++ }
