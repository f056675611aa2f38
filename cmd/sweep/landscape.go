package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/report"
)

// MaxBoundaryTrials bounds the classification trials a report trains
// again to draw their decision boundaries: the best trial of each
// optimizer, then the best trial of the next grid points by rank.
const MaxBoundaryTrials = 24

// replayed is what a report draws that the store does not hold.
type replayed struct {
	paths      map[string]*report.Path
	boundaries map[string]*report.Boundary
}

// replayModels trains trials of a sweep again from their stored settings
// to get what the store does not hold: the store keeps each epoch's loss,
// not the weights. Trials are deterministic (same builder and seed: the
// run's weights to the bit, sweep.Prepared.Replay), and a replay whose
// final loss differs from the stored one is an error: its picture would
// not be the run's.
//
//   - On the function data source, every trial that ran, for its path
//     (report.Path): two parameters per step, so replaying costs less than
//     the run did, and each path is thinned to report.MaxPathPoints.
//   - On classification data with two input features, at most
//     MaxBoundaryTrials trials (the best of each optimizer, then the best
//     of the next points by rank), for their decision boundaries
//     (report.Boundary): time bounded by as many trials' training, memory
//     by one model and one data set at a time.
//
// A sweep whose stored experiment no longer parses or prepares (data
// moved) gets no such pictures (nil).
func replayModels(d *framework.SweepData) (replayed, error) {
	var out replayed
	e, err := experiment.Parse([]byte(d.Info.Config), d.Info.Name+".yaml")
	if err != nil {
		return out, nil
	}
	reg := framework.Default()
	p, err := sweep.Prepare(e, reg)
	if err != nil {
		return out, nil
	}
	plans := map[string]framework.TrialPlan{}
	for _, pl := range p.Plans {
		plans[pl.ID] = pl
	}
	var todo []*framework.TrialData
	if e.PointModel != "" {
		for i := range d.Trials {
			todo = append(todo, &d.Trials[i])
		}
	} else {
		todo = boundaryTrials(d)
	}
	for _, t := range todo {
		plan, ok := plans[t.Plan.ID]
		if !ok || t.Epochs == 0 {
			continue
		}
		spec := p.Specs[plan.Index]
		var pts [][2]float64
		var b *report.Boundary
		res, err := p.Replay(context.Background(), plan, reg, func(epoch int, tr *framework.Trainer, train *framework.Dataset) {
			switch {
			case e.PointModel != "" && epoch <= t.Epochs:
				v := tr.Model.Params()[0].Value
				pts = append(pts, [2]float64{float64(v[0]), float64(v[1])})
			case e.PointModel == "" && epoch == t.Epochs:
				if train.Task == framework.Classification && train.X.Cols == 2 {
					b = report.NewBoundary(tr.Model, tr.Loss, train)
				}
			}
		})
		if err != nil {
			return out, fmt.Errorf("report: replaying trial %s: %w", t.Plan.ID, err)
		}
		if t.Status == framework.Completed && math.Float64bits(res.Final.TrainLoss) != math.Float64bits(t.Final.TrainLoss) {
			return out, fmt.Errorf("report: replaying trial %s gave the final train loss %v, the store holds %v: its pictures would not be the run's", t.Plan.ID, res.Final.TrainLoss, t.Final.TrainLoss)
		}
		if b != nil {
			if out.boundaries == nil {
				out.boundaries = map[string]*report.Boundary{}
			}
			out.boundaries[t.Plan.ID] = b
		}
		if e.PointModel == "" {
			continue
		}
		name, label := spec.Loss.Options["function"].(string), functionLabel(spec.Loss.Options)
		cond, has := spec.Loss.Options["condition"].(float64)
		fn, err := framework.NewFunction(name, cond, has)
		if err != nil {
			return out, err
		}
		if out.paths == nil {
			out.paths = map[string]*report.Path{}
		}
		out.paths[t.Plan.ID] = &report.Path{Function: label, Points: report.ThinPath(pts),
			F: func(x, y float64) float64 { v, _, _ := fn.Eval(x, y); return v }}
	}
	return out, nil
}

// boundaryTrials are the trials whose decision boundaries a report draws
// (at most MaxBoundaryTrials): the best trial of each ranked grid point,
// the best point of each optimizer first. Which of them has two-feature
// classification data is seen when they are replayed.
func boundaryTrials(d *framework.SweepData) []*framework.TrialData {
	m, err := results.Lookup(d.Info.Metric)
	if err != nil {
		return nil
	}
	byID := map[string]*framework.TrialData{}
	for i := range d.Trials {
		byID[d.Trials[i].Plan.ID] = &d.Trials[i]
	}
	var first, rest []*framework.TrialData
	seen := map[any]bool{}
	for _, pt := range results.Rank(m, d.Trials) {
		var best *framework.TrialData
		for _, id := range pt.IDs {
			t := byID[id]
			if v := m.Value(t); t != nil && !math.IsNaN(v) && (best == nil || m.Better(v, m.Value(best))) {
				best = t
			}
		}
		if best == nil {
			continue
		}
		opt := best.Plan.Params["optimizer.type"]
		if seen[opt] {
			rest = append(rest, best)
		} else {
			seen[opt] = true
			first = append(first, best)
		}
	}
	all := append(first, rest...)
	return all[:min(len(all), MaxBoundaryTrials)]
}

// functionLabel names a function with its options: "quadratic (condition 4)".
func functionLabel(opts map[string]any) string {
	name, _ := opts["function"].(string)
	var extra []string
	for k, v := range opts {
		if k != "function" {
			extra = append(extra, fmt.Sprintf("%s %v", k, v))
		}
	}
	if len(extra) == 0 {
		return name
	}
	sort.Strings(extra)
	return name + " (" + strings.Join(extra, ", ") + ")"
}
