package sweep

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// MetricValue reads a ranking metric from a trial result (NaN if absent).
func MetricValue(metric string, r framework.Result) float64 {
	switch metric {
	case "val_loss":
		return r.Final.ValLoss
	case "val_accuracy":
		return r.Final.ValAccuracy
	case "train_loss":
		return r.Final.TrainLoss
	case "train_accuracy":
		return r.Final.TrainAccuracy
	case "time_to_target":
		if r.TargetReached {
			return r.TargetSeconds
		}
	}
	return math.NaN()
}

// HigherIsBetter says whether a metric ranks in descending order.
func HigherIsBetter(metric string) bool {
	return metric == "val_accuracy" || metric == "train_accuracy"
}

func better(metric string, a, b float64) bool {
	if HigherIsBetter(metric) {
		return a > b
	}
	return a < b
}

// PointScore is one grid point's ranking: the metric's mean and standard
// deviation over its repeats.
type PointScore struct {
	Point    int
	Plan     framework.TrialPlan // the point's first trial
	Mean     float64
	Std      float64 // sample standard deviation (n−1); NaN for fewer than two values
	N        int     // repeats with a value
	Diverged int     // repeats that diverged
	Failed   int
}

// Rank groups trials by grid point and orders the points best first by the
// mean of the metric over repeats. Points with a diverged or failed repeat,
// or without a value, rank after every stable point, in this order: some
// repeats diverged or failed (by the mean of the others), no value yet,
// every repeat diverged or failed.
func Rank(metric string, trials []framework.TrialData) []PointScore {
	byPoint := map[int]*PointScore{}
	values := map[int][]float64{}
	var order []int
	for _, t := range trials {
		ps, ok := byPoint[t.Plan.Point]
		if !ok {
			ps = &PointScore{Point: t.Plan.Point, Plan: t.Plan}
			byPoint[t.Plan.Point] = ps
			order = append(order, t.Plan.Point)
		}
		switch t.Status {
		case framework.Diverged:
			ps.Diverged++
			continue
		case framework.Failed:
			ps.Failed++
			continue
		case framework.Completed:
		default:
			continue
		}
		r := framework.Result{Final: t.Final, TargetReached: !math.IsNaN(t.TimeToTarget), TargetSeconds: t.TimeToTarget}
		if v := MetricValue(metric, r); !math.IsNaN(v) {
			values[t.Plan.Point] = append(values[t.Plan.Point], v)
		}
	}
	out := make([]PointScore, 0, len(order))
	for _, p := range order {
		ps := byPoint[p]
		v := values[p]
		ps.N = len(v)
		ps.Mean, ps.Std = math.NaN(), math.NaN()
		if len(v) > 0 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			ps.Mean = s / float64(len(v))
			if len(v) > 1 {
				ss := 0.0
				for _, x := range v {
					ss += (x - ps.Mean) * (x - ps.Mean)
				}
				ps.Std = math.Sqrt(ss / float64(len(v)-1))
			}
		}
		out = append(out, *ps)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ca, cb := a.class(), b.class(); ca != cb {
			return ca < cb
		}
		if a.N > 0 && b.N > 0 && a.Mean != b.Mean {
			return better(metric, a.Mean, b.Mean)
		}
		return a.Point < b.Point
	})
	return out
}

// Stable reports whether every repeat of the point finished with a value.
func (p PointScore) Stable() bool { return p.class() == 0 }

func (p PointScore) class() int {
	bad := p.Diverged + p.Failed
	switch {
	case p.N > 0 && bad == 0:
		return 0
	case p.N > 0:
		return 1
	case bad == 0:
		return 2
	}
	return 3
}

func (r *run) summary(ctx context.Context) framework.SweepSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := framework.SweepSummary{Counts: map[framework.Status]int{}, Seconds: time.Since(r.start).Seconds(),
		Iterations: r.iters.Load(), SavedIters: r.saved.Load(), Interrupted: ctx.Err() != nil, BestValue: math.NaN()}
	for s, n := range r.counts {
		if n != 0 {
			sum.Counts[s] = n
		}
	}
	var trials []framework.TrialData
	for idx, f := range r.outcomes {
		trials = append(trials, framework.TrialData{Plan: r.prep.Plans[idx], Status: f.status, Final: f.final,
			TimeToTarget: f.timeToTarget})
	}
	sort.Slice(trials, func(i, j int) bool { return trials[i].Plan.Index < trials[j].Plan.Index })
	if ranked := Rank(r.prep.Exp.Metric, trials); len(ranked) > 0 && ranked[0].Stable() {
		best := ranked[0].Plan
		sum.Best, sum.BestValue = &best, ranked[0].Mean
	}
	return sum
}

func targetTime(r framework.Result) float64 {
	if r.TargetReached {
		return r.TargetSeconds
	}
	return math.NaN()
}

// IncomparableNote warns when a loss metric ranks trials whose loss
// functions differ (the grid varies loss.type): each trial's loss is its
// own loss function's value, so an mse of 0.1 and a half_mse of 0.05 are
// the same fit. It returns "" when the ranking is sound.
func IncomparableNote(metric string, trials []framework.TrialData) string {
	if !strings.HasSuffix(metric, "_loss") {
		return ""
	}
	kinds := map[string]bool{}
	for _, t := range trials {
		kinds[fmt.Sprint(t.Plan.Params["loss.type"])] = true
	}
	if len(kinds) < 2 {
		return ""
	}
	return fmt.Sprintf("the trials use %d different loss functions, so their %s values are not comparable: rank within one loss.type (or by accuracy)", len(kinds), metric)
}
