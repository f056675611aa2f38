package schedules

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// MultiStep is torch.optim.lr_scheduler.MultiStepLR: the rate is
// multiplied by gamma at each milestone,
//
//	γₜ = γₜ₋₁·gamma^c, c = the number of times t appears in milestones
//
// A milestone listed twice decays twice, as PyTorch's Counter does, and the
// order of the list does not matter.
type MultiStep struct {
	epochly
	track
	Milestones []int   `opt:"milestones" required:"true" range:"[0,]" doc:"the steps at which the rate decays, e.g. [30, 80]"`
	Gamma      float64 `opt:"gamma" default:"0.1" range:"(0,]" doc:"factor of each decay"`
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "multistep", Doc: "γ × gamma at each of the milestones (MultiStepLR)",
	New: func() framework.Schedule { return &MultiStep{} }})

// Start sets γ₀ and, if 0 is a milestone, decays it at once, as PyTorch's
// initial step does.
func (s *MultiStep) Start(base float64, _ int) {
	s.track = track{base: base, lr: base}
	s.decay()
}

// Step decays the rate if the new step is a milestone.
func (s *MultiStep) Step(float64) {
	s.t++
	s.decay()
}

func (s *MultiStep) decay() {
	c := 0
	for _, m := range s.Milestones {
		if m == s.t {
			c++
		}
	}
	if c > 0 {
		s.lr *= math.Pow(s.Gamma, float64(c)) // Python's gamma ** c
	}
}
