// Package lrfind is the learning-rate range test (Smith 2017, "Cyclical
// Learning Rates for Training Neural Networks"; fastai's lr_find): train
// once while the learning rate grows geometrically from a tiny to a huge
// value, one update at a time, and read off the rates where the loss falls
// fastest and where it is lowest. Too small a rate barely moves the loss,
// too large a rate makes it overshoot and blow up; the useful rates lie
// between.
//
// This package holds what does not depend on how a model is built: the
// rate schedule's factor, the observer that smooths the loss and stops the
// run, the suggestions, and the aggregate over seeds. framework/sweep runs
// the test with the trial builder, report draws it.
package lrfind

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// Defaults and limits of a range test.
const (
	DefaultMin        = 1e-7
	DefaultMax        = 10
	DefaultIterations = 100 // fastai's num_it
	MaxIterations     = 100_000
	MaxRepeats        = 100
	// MaxUpdates bounds repeats × iterations, the updates a range test
	// keeps (three float64 each, and their JSON).
	MaxUpdates = 1_000_000
	MaxGrid    = 100
	// Beta is the smoothing factor of the loss's exponential moving
	// average (fastai's).
	Beta = 0.98
	// StopFactor ends the run once the smoothed loss exceeds StopFactor ×
	// its minimum (fastai's stop_div).
	StopFactor = 4
)

// Config is one range test's rates: Iterations updates whose rates grow
// geometrically from Min to Max.
type Config struct {
	Min, Max   float64
	Iterations int
}

// Check refuses rates that cannot make a range: non-positive or
// non-finite ends, Min ≥ Max, fewer than 2 or more than MaxIterations
// updates. Its message names the flag at fault.
func (c Config) Check() error {
	switch {
	case !(c.Min > 0) || math.IsInf(c.Min, 0):
		return fmt.Errorf("--min %v: must be a positive number", c.Min)
	case !(c.Max > 0) || math.IsInf(c.Max, 0):
		return fmt.Errorf("--max %v: must be a positive number", c.Max)
	case c.Min >= c.Max:
		return fmt.Errorf("--min %v must be below --max %v", c.Min, c.Max)
	case c.Iterations < 2 || c.Iterations > MaxIterations:
		return fmt.Errorf("--iterations %d: want 2 to %d (two rates at least make a range)", c.Iterations, MaxIterations)
	}
	return nil
}

// Gamma is the factor of each update, (Max/Min)^(1/(Iterations−1)): the
// exponential schedule stepped per update from Min takes update i (1-based)
// at Min·Gamma^(i−1), so the last planned update is at Max.
func (c Config) Gamma() float64 {
	return math.Pow(c.Max/c.Min, 1/float64(c.Iterations-1))
}

// Schedule is the learning-rate schedule of the range test: exponential,
// stepped after every update (the trial's own schedule and warmup are
// replaced). The trial's learning rate must be set to Min.
func (c Config) Schedule() framework.ScheduleSpec {
	return framework.ScheduleSpec{Type: "exponential", Options: map[string]any{"gamma": c.Gamma()},
		Interval: framework.IntervalIteration}
}

// Why a run stopped.
const (
	StopIterations = "iterations"       // it made the planned updates
	StopFourTimes  = "smoothed_loss_4x" // the smoothed loss exceeded 4 × its minimum
	StopDiverged   = "diverged"         // the trainer saw the loss diverge (not finite, or above diverge_factor)
)

// Run is one seed's range test: the rate and the batch loss of every
// update, and the loss smoothed. A loss that is not finite is not kept
// (the run stops there, as diverged).
type Run struct {
	Seed          uint64
	LearningRates []float64
	Losses        []float64
	Smoothed      []float64
	StopReason    string
	// Planned is the number of updates planned (Config.Iterations).
	Planned int
}

// StoppedAt is the rate of the last update kept (NaN if none).
func (r *Run) StoppedAt() float64 {
	if len(r.LearningRates) == 0 {
		return math.NaN()
	}
	return r.LearningRates[len(r.LearningRates)-1]
}

// Recorder is the trainer's observer during a range test. It keeps every
// update's rate and loss, smooths the loss with a bias-corrected
// exponential moving average (fastai's AvgSmoothLoss),
//
//	avg ← β·avg + (1−β)·loss,   smoothed = avg / (1 − βⁱ)   (i: updates so far, β = Beta),
//
// and cancels the training once the smoothed loss exceeds StopFactor × its
// minimum so far, once the loss is not finite, or after the planned
// updates. It only watches and cancels: the training loop is the
// trainer's.
type Recorder struct {
	Run    *Run
	Cancel context.CancelFunc
	avg    float64
	best   float64
	pow    float64 // βⁱ
}

// NewRecorder records into run and calls cancel to stop the trainer.
func NewRecorder(run *Run, cancel context.CancelFunc) *Recorder {
	return &Recorder{Run: run, Cancel: cancel, pow: 1, best: math.Inf(1)}
}

// Iteration records one update and decides whether the run goes on.
func (r *Recorder) Iteration(s framework.IterationStats) {
	run := r.Run
	if run.StopReason != "" {
		return
	}
	if math.IsNaN(s.Loss) || math.IsInf(s.Loss, 0) {
		r.stop(StopDiverged)
		return
	}
	r.avg = Beta*r.avg + (1-Beta)*s.Loss
	r.pow *= Beta
	sm := r.avg / (1 - r.pow)
	run.LearningRates = append(run.LearningRates, s.LearningRate)
	run.Losses = append(run.Losses, s.Loss)
	run.Smoothed = append(run.Smoothed, sm)
	if sm < r.best {
		r.best = sm
	}
	switch {
	case sm > StopFactor*r.best:
		r.stop(StopFourTimes)
	case len(run.Losses) >= run.Planned:
		r.stop(StopIterations)
	}
}

// Epoch does nothing: the range test watches updates.
func (r *Recorder) Epoch(framework.EpochStats) {}

// Finish settles the stop reason after training: a run the trainer ended
// by itself diverged (an exploding but finite loss is recorded, then the
// trainer stops), or made its updates.
func (r *Recorder) Finish(status framework.Status) {
	if r.Run.StopReason != "" {
		return
	}
	if status == framework.Diverged {
		r.Run.StopReason = StopDiverged
	} else {
		r.Run.StopReason = StopIterations
	}
}

func (r *Recorder) stop(reason string) {
	r.Run.StopReason = reason
	r.Cancel()
}

// Suggestion is the range test's two suggested learning rates, NaN when
// the run kept fewer than two updates.
type Suggestion struct {
	// Steepest is the rate where the smoothed loss falls fastest against
	// log10(rate): the rate rᵢ of the most negative forward difference
	// (sᵢ₊₁ − sᵢ) / (log10 rᵢ₊₁ − log10 rᵢ) (fastai's "steep").
	Steepest float64
	// MinOver10 is the rate of the smoothed loss's minimum, divided by
	// 10 (fastai's "minimum"): the minimum is already close to where the
	// loss turns up.
	MinOver10 float64
	// MinRate is that minimum's rate.
	MinRate float64
}

// Suggest reads the suggestions off a curve of rates and smoothed losses
// of a run that planned n updates. As fastai does, the first n/10 updates
// (where the average has seen few losses) and the last 5 (the blow-up)
// are left out, unless fewer than two updates would remain.
func Suggest(rates, smoothed []float64, n int) Suggestion {
	s := Suggestion{Steepest: math.NaN(), MinOver10: math.NaN(), MinRate: math.NaN()}
	lo, hi := n/10, len(smoothed)-5
	if hi-lo < 2 {
		lo, hi = 0, len(smoothed)
	}
	if hi-lo < 2 {
		return s
	}
	best, steep := lo, math.Inf(1)
	for i := lo; i < hi; i++ {
		if smoothed[i] < smoothed[best] {
			best = i
		}
		if i+1 < hi {
			g := (smoothed[i+1] - smoothed[i]) / (math.Log10(rates[i+1]) - math.Log10(rates[i]))
			if g < steep {
				steep, s.Steepest = g, rates[i]
			}
		}
	}
	s.MinRate = rates[best]
	s.MinOver10 = s.MinRate / 10
	return s
}

// Result is a range test over one or more seeds.
type Result struct {
	Config Config
	Runs   []Run // one per seed
	// The curve the suggestions are read from: the single run's, or over
	// several seeds the mean over the updates every seed reached (their
	// rates are the same: the schedule does not depend on the seed).
	LearningRates []float64
	Losses        []float64 // mean batch loss
	Smoothed      []float64 // mean smoothed loss
	// BandMin and BandMax are the lowest and highest smoothed loss over
	// the seeds at each update (nil for one seed).
	BandMin, BandMax []float64
	Suggestion       Suggestion
}

// Aggregate makes the result of runs made with c.
func Aggregate(c Config, runs []Run) *Result {
	res := &Result{Config: c, Runs: runs}
	if len(runs) == 1 {
		r := runs[0]
		res.LearningRates, res.Losses, res.Smoothed = r.LearningRates, r.Losses, r.Smoothed
	} else {
		k := len(runs[0].Losses)
		for _, r := range runs {
			k = min(k, len(r.Losses))
		}
		res.LearningRates = runs[0].LearningRates[:k]
		res.Losses, res.Smoothed = make([]float64, k), make([]float64, k)
		res.BandMin, res.BandMax = make([]float64, k), make([]float64, k)
		for i := 0; i < k; i++ {
			var l, s float64
			res.BandMin[i], res.BandMax[i] = math.Inf(1), math.Inf(-1)
			for _, r := range runs {
				l += r.Losses[i]
				s += r.Smoothed[i]
				res.BandMin[i] = math.Min(res.BandMin[i], r.Smoothed[i])
				res.BandMax[i] = math.Max(res.BandMax[i], r.Smoothed[i])
			}
			res.Losses[i], res.Smoothed[i] = l/float64(len(runs)), s/float64(len(runs))
		}
	}
	res.Suggestion = Suggest(res.LearningRates, res.Smoothed, c.Iterations)
	return res
}

// StoppedAt is the rate of the last update of the curve: the first seed
// to stop stops the curve.
func (r *Result) StoppedAt() float64 {
	if len(r.LearningRates) == 0 {
		return math.NaN()
	}
	return r.LearningRates[len(r.LearningRates)-1]
}

// StopReason is why the curve ends: the reason of the first seed to stop
// (the shortest run).
func (r *Result) StopReason() string {
	short := 0
	for i, run := range r.Runs {
		if len(run.Losses) < len(r.Runs[short].Losses) {
			short = i
		}
	}
	return r.Runs[short].StopReason
}

// GridRates are k learning rates log-spaced over half a decade on either
// side of the suggestions, [min(s)/√10, max(s)·√10], each rounded to the
// fewest significant digits (at least 2) that keep them distinct: a grid
// that brackets both suggestions. One rate is the range's geometric
// middle. Nil without suggestions.
func (s Suggestion) GridRates(k int) []float64 {
	a, b := math.Min(s.Steepest, s.MinOver10), math.Max(s.Steepest, s.MinOver10)
	if !(a > 0) || math.IsInf(b, 0) || k < 1 {
		return nil
	}
	lo, hi := math.Log10(a)-0.5, math.Log10(b)+0.5
	raw := make([]float64, k)
	for i := range raw {
		t := 0.5
		if k > 1 {
			t = float64(i) / float64(k-1)
		}
		raw[i] = math.Pow(10, lo+t*(hi-lo))
	}
	for digits := 2; ; digits++ {
		out := make([]float64, k)
		distinct := true
		for i, v := range raw {
			out[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
			distinct = distinct && (i == 0 || out[i] != out[i-1])
		}
		if distinct || digits >= 17 {
			return out
		}
	}
}

// GridSnippet is the grid section sweeping rates, ready to paste into an
// experiment file.
func GridSnippet(rates []float64) string {
	parts := make([]string, len(rates))
	for i, v := range rates {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return "grid:\n  training.learning_rate: [" + strings.Join(parts, ", ") + "]\n"
}
