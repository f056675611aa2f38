package framework_test

import (
	"math"
	"slices"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// recorder is a schedule that records how a warmup drives it.
type recorder struct {
	base, lr      float64
	steps, starts int
	seen          []float64
}

func (r *recorder) DefaultInterval() string { return framework.IntervalIteration }
func (r *recorder) Start(base float64, steps int) {
	r.base, r.steps, r.lr = base, steps, base/2
	r.starts++
}
func (r *recorder) Rate() float64          { return r.lr }
func (r *recorder) Step(monitored float64) { r.seen = append(r.seen, monitored); r.lr++ }

type ownBase struct{ recorder }

func (o *ownBase) InitialRate(float64) float64 { return 0.4 }

// A warmup of n steps ramps the rate linearly from base·start_factor
// towards base, starts the schedule at its n-th Step with the steps left,
// and hands it only the monitored values that follow.
func TestWarmupDrivesItsSchedule(t *testing.T) {
	var w framework.Warmup
	if err := framework.DecodeOptions(&w, map[string]any{"iterations": 4}); err != nil || w.StartFactor != 1.0/3 {
		t.Fatalf("warmup options: %+v %v", w, err)
	}
	if s, err := (framework.Warmup{}).Wrap(&recorder{}); err != nil || s.(*recorder) == nil {
		t.Errorf("no warmup: %T %v", s, err)
	}
	if _, err := (framework.Warmup{Iterations: 3, StartFactor: 0}).Wrap(&recorder{}); err == nil {
		t.Error("start_factor 0 accepted")
	}

	w.StartFactor = 0.25
	inner := &recorder{}
	s, err := w.Wrap(inner)
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultInterval() != framework.IntervalIteration {
		t.Errorf("interval %q", s.DefaultInterval())
	}
	s.Start(2, 10)
	var rates []float64
	for k := range 7 {
		rates = append(rates, s.Rate())
		s.Step(float64(k))
	}
	// LinearLR from 0.25 to 1 over 4 steps: 0.5, 0.875, 1.25, 1.625; then
	// the schedule from base 2 (its rate base/2 = 1, then +1 per Step)
	want := []float64{0.5, 0.875, 1.25, 1.625, 1, 2, 3}
	for k := range want {
		if math.Abs(rates[k]-want[k]) > 1e-15 {
			t.Errorf("rates %v, want %v", rates, want)
			break
		}
	}
	if inner.starts != 1 || inner.base != 2 || inner.steps != 6 || !slices.Equal(inner.seen, []float64{4, 5, 6}) {
		t.Errorf("schedule started %d times with base %v, %d steps; saw %v", inner.starts, inner.base, inner.steps, inner.seen)
	}

	// a schedule with its own base rate (onecycle) is warmed up to it
	own := &ownBase{}
	s, _ = w.Wrap(own)
	s.Start(2, 10)
	if got := s.Rate(); got != 0.4*0.25 {
		t.Errorf("first rate %v before a schedule whose own base is 0.4, want 0.1", got)
	}
}
