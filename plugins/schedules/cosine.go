package schedules

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// Cosine is torch.optim.lr_scheduler.CosineAnnealingLR: the rate follows
// half a cosine from γ₀ down to eta_min over t_max steps,
//
//	γₜ = eta_min + (γ₀ − eta_min)·(1 + cos(π·t/t_max))/2
//
// and, past t_max, climbs back up and down again with period 2·t_max (SGDR's
// annealing without the restarts). PyTorch computes it recursively, and so
// does this plugin:
//
//	γₜ = (1 + cos(π·t/T)) / (1 + cos(π·(t−1)/T))·(γₜ₋₁ − eta_min) + eta_min
//	γₜ = γₜ₋₁ + (γ₀ − eta_min)·(1 − cos(π/T))/2   when (t − 1 − T) mod 2T = 0
//
// (the second where the first would divide by zero, one step after each
// minimum).
type Cosine struct {
	epochly
	track
	TMax   int     `opt:"t_max" required:"true" range:"[1,]" doc:"steps from γ₀ down to eta_min (PyTorch's T_max)"`
	EtaMin float64 `opt:"eta_min" default:"0" range:"[0,]" doc:"the lowest rate"`
}

var _ = add(framework.Plugin[framework.Schedule]{Name: "cosine", Doc: "half a cosine from γ₀ to eta_min over t_max steps (CosineAnnealingLR)",
	New: func() framework.Schedule { return &Cosine{} }})

// Start sets γ₀.
func (s *Cosine) Start(base float64, _ int) { s.track = track{base: base, lr: base} }

// Step moves the rate along the cosine, in PyTorch's recursive form.
func (s *Cosine) Step(float64) {
	s.t++
	t, T := float64(s.t), float64(s.TMax)
	if (s.t-1-s.TMax)%(2*s.TMax) == 0 {
		s.lr += float64((s.base-s.EtaMin)*(1-math.Cos(math.Pi/T))) / 2
		return
	}
	s.lr = float64((1+math.Cos(math.Pi*t/T))/(1+math.Cos(math.Pi*(t-1)/T))*(s.lr-s.EtaMin)) + s.EtaMin
}
