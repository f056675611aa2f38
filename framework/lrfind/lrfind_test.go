package lrfind

import (
	"math"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// feed gives a recorder the losses at rates min·γ^(i−1) and returns its run.
func feed(c Config, losses []float64) *Run {
	run := &Run{Planned: c.Iterations}
	cancelled := 0
	rec := NewRecorder(run, func() { cancelled++ })
	lr := c.Min
	for i, l := range losses {
		if cancelled > 0 {
			break
		}
		rec.Iteration(framework.IterationStats{Iteration: i + 1, Loss: l, LearningRate: lr})
		lr *= c.Gamma()
	}
	rec.Finish(framework.Interrupted)
	return run
}

// The smoothed loss is fastai's: an exponential moving average with
// β = 0.98 divided by 1 − βⁱ, computed here from its definition as a
// weighted mean.
func TestSmoothingIsBiasCorrectedEMA(t *testing.T) {
	losses := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	run := feed(Config{Min: 1e-3, Max: 1, Iterations: 100}, losses)
	for i := range losses {
		var num, den float64
		for j := 0; j <= i; j++ {
			w := math.Pow(Beta, float64(i-j)) * (1 - Beta)
			num += w * losses[j]
			den += w
		}
		if got, want := run.Smoothed[i], num/den; math.Abs(got-want) > 1e-12*want {
			t.Errorf("smoothed[%d] = %v, want %v", i, got, want)
		}
	}
}

// The run stops at the first smoothed loss above 4× the smallest so far,
// at the first loss that is not finite (not kept), or after the planned
// updates.
func TestRecorderStops(t *testing.T) {
	c := Config{Min: 1e-3, Max: 1, Iterations: 1000}
	// a loss of 1, then 1000: the smoothed loss jumps to
	// (0.98·0.02 + 0.02·1000)/(1 − 0.98²) ≈ 10.6 > 4
	run := feed(c, []float64{1, 1000, 1, 1})
	if len(run.Losses) != 2 || run.StopReason != StopFourTimes {
		t.Errorf("kept %d losses, stopped: %s", len(run.Losses), run.StopReason)
	}
	run = feed(c, []float64{1, 0.9, math.NaN(), 0.5})
	if len(run.Losses) != 2 || run.StopReason != StopDiverged {
		t.Errorf("kept %d losses, stopped: %s", len(run.Losses), run.StopReason)
	}
	c.Iterations = 3
	run = feed(c, []float64{1, 0.9, 0.8, 0.7, 0.6})
	if len(run.Losses) != 3 || run.StopReason != StopIterations {
		t.Errorf("kept %d losses, stopped: %s", len(run.Losses), run.StopReason)
	}
}

// Steepest is the rate where the smoothed loss falls fastest per decade,
// the minimum's rate is divided by 10, and the first tenth and the last 5
// updates are not considered.
func TestSuggest(t *testing.T) {
	n := 50
	rates := make([]float64, n)
	sm := make([]float64, n)
	for i := range rates {
		rates[i] = math.Pow(10, -5+float64(i)/10)
		sm[i] = 2
	}
	sm[0], sm[1] = -100, -200 // in the first tenth: ignored
	for i := 20; i < 30; i++ {
		sm[i] = 2 - 0.1*float64(i-19) // falls, fastest from 24 to 25
	}
	sm[25] = sm[24] - 0.5
	for i := 26; i < 45; i++ {
		sm[i] = sm[25] + 0.01*float64(i-25)
	}
	sm[45], sm[46] = -50, -60 // the last 5: ignored
	s := Suggest(rates, sm, n)
	if s.Steepest != rates[24] {
		t.Errorf("steepest %v, want %v", s.Steepest, rates[24])
	}
	if s.MinRate != rates[25] || s.MinOver10 != rates[25]/10 {
		t.Errorf("minimum at %v (/10: %v), want %v", s.MinRate, s.MinOver10, rates[25])
	}
	if s := Suggest(rates[:1], sm[:1], n); !math.IsNaN(s.Steepest) || !math.IsNaN(s.MinOver10) {
		t.Errorf("one update suggests %+v", s)
	}
}

func TestConfig(t *testing.T) {
	c := Config{Min: 1e-7, Max: 10, Iterations: 100}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	last := c.Min * math.Pow(c.Gamma(), float64(c.Iterations-1))
	if math.Abs(last-c.Max) > 1e-9*c.Max {
		t.Errorf("the last planned rate is %v, want %v", last, c.Max)
	}
	for _, bad := range []Config{{1, 1, 100}, {2, 1, 100}, {0, 1, 100}, {-1, 1, 100}, {1e-3, math.Inf(1), 100},
		{math.NaN(), 1, 100}, {1e-3, 1, 1}, {1e-3, 1, MaxIterations + 1}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The grid brackets both suggestions by half a decade, log-spaced, in
// short distinct numbers.
func TestGridRates(t *testing.T) {
	s := Suggestion{Steepest: 0.05, MinOver10: 0.3}
	g := s.GridRates(5)
	if len(g) != 5 {
		t.Fatalf("%v", g)
	}
	if math.Abs(g[0]-0.05/math.Sqrt(10)) > 0.001 || math.Abs(g[4]-0.3*math.Sqrt(10)) > 0.01 {
		t.Errorf("grid %v does not span [%v, %v]", g, 0.05/math.Sqrt(10), 0.3*math.Sqrt(10))
	}
	for i := 1; i < len(g); i++ {
		if !(g[i] > g[i-1]) {
			t.Errorf("grid %v not increasing", g)
		}
	}
	snip := GridSnippet(g)
	if !strings.HasPrefix(snip, "grid:\n  training.learning_rate: [0.016, ") {
		t.Errorf("snippet %q", snip)
	}
	if g := (Suggestion{Steepest: math.NaN(), MinOver10: math.NaN()}).GridRates(3); g != nil {
		t.Errorf("a grid without suggestions: %v", g)
	}
	if g := s.GridRates(1); len(g) != 1 || !(g[0] > 0.05 && g[0] < 0.3) {
		t.Errorf("a grid of one: %v", g)
	}
}

// Over several seeds the curve is the mean over the updates every seed
// reached, and the band holds every seed.
func TestAggregate(t *testing.T) {
	c := Config{Min: 1e-3, Max: 1, Iterations: 10}
	a := Run{LearningRates: []float64{1, 2, 3}, Losses: []float64{3, 2, 1}, Smoothed: []float64{3, 2.5, 2}, StopReason: StopIterations}
	b := Run{LearningRates: []float64{1, 2}, Losses: []float64{1, 4}, Smoothed: []float64{1, 2.5}, StopReason: StopFourTimes}
	r := Aggregate(c, []Run{a, b})
	if len(r.Smoothed) != 2 || r.Smoothed[0] != 2 || r.Losses[1] != 3 || r.BandMin[0] != 1 || r.BandMax[0] != 3 {
		t.Errorf("%+v", r)
	}
	if r.StoppedAt() != 2 || r.StopReason() != StopFourTimes {
		t.Errorf("stopped at %v: %s", r.StoppedAt(), r.StopReason())
	}
}
