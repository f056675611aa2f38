package schedules

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// OneCycle is torch.optim.lr_scheduler.OneCycleLR (Smith's 1cycle policy):
// the rate warms up from max_lr/div_factor to max_lr over the first
// pct_start of the trial's steps, then anneals down to
// max_lr/(div_factor·final_div_factor) at its last step. With three_phase,
// it comes back down to max_lr/div_factor over as many steps as it went up,
// before the final anneal. Each phase goes from a rate a to a rate b as
//
//	cos:    b + (a − b)/2·(cos(π·p) + 1)      linear: (b − a)·p + a
//
// where p is the fraction of the phase done, and a phase ends at step
// pct_start·N − 1 (three_phase: 2·pct_start·N − 2) or N − 1, N being the
// trial's steps (total_steps; by default it steps per iteration, so N is
// the trial's weight updates).
//
// It sets the rate itself: the trial's learning_rate is ignored (PyTorch
// overwrites initial_lr with max_lr/div_factor). PyTorch's default
// cycle_momentum=True also cycles the optimizer's momentum between 0.85 and
// 0.95; gradsweep's optimizers keep their own momentum, as with
// cycle_momentum=False. Where PyTorch raises (a Step past N, or a phase of
// length zero, as with pct_start 1, at the step after the last update), the
// rate stays at the end of its phase.
type OneCycle struct {
	track
	MaxLR          float64 `opt:"max_lr" required:"true" range:"(0,]" doc:"the peak rate (the trial's learning_rate is ignored)"`
	PctStart       float64 `opt:"pct_start" default:"0.3" range:"[0,1]" doc:"fraction of the steps spent rising to max_lr"`
	AnnealStrategy string  `opt:"anneal_strategy" default:"cos" enum:"cos,linear" doc:"shape of each phase"`
	DivFactor      float64 `opt:"div_factor" default:"25" range:"(0,]" doc:"the first rate is max_lr/div_factor"`
	FinalDivFactor float64 `opt:"final_div_factor" default:"10000" range:"(0,]" doc:"the last rate is max_lr/(div_factor·final_div_factor)"`
	ThreePhase     bool    `opt:"three_phase" default:"false" doc:"come back down to max_lr/div_factor before the final anneal"`

	n      int      // total steps
	phases [3]phase // the phases, the last ending at n − 1
	np     int      // phases used
}

// phase anneals from rate from to rate to until step end.
type phase struct{ end, from, to float64 }

var _ = add(framework.Plugin[framework.Schedule]{Name: "onecycle", Doc: "up from max_lr/div_factor to max_lr, then down to almost 0, over the trial (OneCycleLR)",
	New: func() framework.Schedule { return &OneCycle{} }})

// DefaultInterval is framework.IntervalIteration: 1cycle is a per-update
// policy.
func (s *OneCycle) DefaultInterval() string { return framework.IntervalIteration }

// InitialRate is max_lr/div_factor whatever the base rate.
func (s *OneCycle) InitialRate(float64) float64 { return s.MaxLR / s.DivFactor }

// Start lays out the phases over steps steps.
func (s *OneCycle) Start(base float64, steps int) {
	s.n = max(1, steps)
	initial := s.MaxLR / s.DivFactor
	minLR := initial / s.FinalDivFactor
	n := float64(s.n)
	if s.ThreePhase {
		s.phases = [3]phase{{s.PctStart*n - 1, initial, s.MaxLR}, {2*s.PctStart*n - 2, s.MaxLR, initial}, {n - 1, initial, minLR}}
		s.np = 3
	} else {
		s.phases = [3]phase{{s.PctStart*n - 1, initial, s.MaxLR}, {n - 1, s.MaxLR, minLR}}
		s.np = 2
	}
	s.track = track{base: base}
	s.lr = s.rate()
}

// Step moves one step along the cycle.
func (s *OneCycle) Step(float64) {
	if s.t >= s.n {
		return
	}
	s.t++
	s.lr = s.rate()
}

// rate is OneCycleLR.get_lr at step t.
func (s *OneCycle) rate() float64 {
	t := float64(s.t)
	start := 0.0
	for i, ph := range s.phases[:s.np] {
		if t <= ph.end || i == s.np-1 {
			pct := 1.0
			if ph.end != start {
				pct = (t - start) / (ph.end - start)
			}
			if s.AnnealStrategy == "linear" {
				return float64((ph.to-ph.from)*pct) + ph.from
			}
			return ph.to + float64((ph.from-ph.to)/2.0*(math.Cos(math.Pi*pct)+1))
		}
		start = ph.end
	}
	panic("unreachable")
}
