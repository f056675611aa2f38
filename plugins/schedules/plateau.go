package schedules

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// Plateau is torch.optim.lr_scheduler.ReduceLROnPlateau: it watches the
// monitored value (the loss) at each step and cuts the rate when the value
// stops improving:
//
//	improved:  v < best·(1 − threshold)   (mode min, threshold_mode rel)
//	           v < best − threshold       (min, abs)
//	           v > best·(1 + threshold)   (max, rel)
//	           v > best + threshold       (max, abs)
//
// An improvement resets the count of bad steps (best starts at ±∞, so the
// first step always improves). A step that does not improve counts one bad
// step; during the cooldown steps after a cut, bad steps are not counted.
// When more than patience bad steps follow each other, the rate becomes
// max(γ·factor, min_lr), unless that changes it by eps or less, and the
// cooldown starts. NaN never improves.
type Plateau struct {
	epochly
	track
	Mode          string  `opt:"mode" default:"min" enum:"min,max" doc:"min: a loss should fall; max: a score should rise"`
	Factor        float64 `opt:"factor" default:"0.1" range:"[0,1)" doc:"each cut multiplies the rate by factor"`
	Patience      int     `opt:"patience" default:"10" range:"[0,]" doc:"bad steps tolerated; the next one cuts"`
	Threshold     float64 `opt:"threshold" default:"0.0001" range:"[0,]" doc:"how much better a value must be to count as an improvement"`
	ThresholdMode string  `opt:"threshold_mode" default:"rel" enum:"rel,abs" doc:"rel: threshold is relative to the best; abs: absolute"`
	Cooldown      int     `opt:"cooldown" default:"0" range:"[0,]" doc:"steps after a cut during which bad steps are not counted"`
	MinLR         float64 `opt:"min_lr" default:"0" range:"[0,]" doc:"the rate is never cut below min_lr"`
	Eps           float64 `opt:"eps" default:"1e-8" range:"[0,]" doc:"a cut smaller than eps is skipped"`

	best          float64
	bad, cooldown int
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "plateau", Doc: "γ × factor when the monitored loss stops improving (ReduceLROnPlateau)",
	New: func() framework.Schedule { return &Plateau{} }})

// Start sets γ₀ and forgets the best value.
func (s *Plateau) Start(base float64, _ int) {
	s.track = track{base: base, lr: base}
	s.best = math.Inf(1)
	if s.Mode == "max" {
		s.best = math.Inf(-1)
	}
	s.bad, s.cooldown = 0, 0
}

// Step takes the monitored value v of the step just finished.
func (s *Plateau) Step(v float64) {
	s.t++
	if s.better(v) {
		s.best, s.bad = v, 0
	} else {
		s.bad++
	}
	if s.cooldown > 0 {
		s.cooldown--
		s.bad = 0
	}
	if s.bad > s.Patience {
		if n := max(s.lr*s.Factor, s.MinLR); s.lr-n > s.Eps {
			s.lr = n
		}
		s.cooldown, s.bad = s.Cooldown, 0
	}
}

func (s *Plateau) better(v float64) bool {
	switch {
	case s.Mode == "min" && s.ThresholdMode == "rel":
		return v < s.best*(1-s.Threshold)
	case s.Mode == "min":
		return v < s.best-s.Threshold
	case s.ThresholdMode == "rel":
		return v > s.best*(s.Threshold+1)
	default:
		return v > s.best+s.Threshold
	}
}
