package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/report"
)

// replayPaths gives the report the paths of the trials of a sweep on the
// function data source (report.Path): the store keeps each epoch's loss,
// not the point, so every trial that ran is trained again from its stored
// settings with the run's builder and seed (sweep.Prepared.Replay), which
// gives the run's weights to the bit. Training a point costs two
// parameters per step, so replaying a sweep costs far less than the run,
// and each path is thinned to report.MaxPathPoints. A replay whose final
// loss differs from the stored one is an error: the picture would not be
// the run's. A sweep on another source, or whose stored experiment no
// longer parses, has no paths (nil).
func replayPaths(d *framework.SweepData) (map[string]*report.Path, error) {
	e, err := experiment.Parse([]byte(d.Info.Config), d.Info.Name+".yaml")
	if err != nil || e.PointModel == "" {
		return nil, nil
	}
	reg := framework.Default()
	p, err := sweep.Prepare(e, reg)
	if err != nil {
		return nil, fmt.Errorf("report: replaying the paths of sweep %s: %w", d.Info.Name, err)
	}
	plans := map[string]framework.TrialPlan{}
	for _, pl := range p.Plans {
		plans[pl.ID] = pl
	}
	out := map[string]*report.Path{}
	for i := range d.Trials {
		t := &d.Trials[i]
		plan, ok := plans[t.Plan.ID]
		if !ok || t.Epochs == 0 {
			continue
		}
		spec := p.Specs[plan.Index]
		name, label := spec.Loss.Options["function"].(string), functionLabel(spec.Loss.Options)
		cond, has := spec.Loss.Options["condition"].(float64)
		fn, err := framework.NewFunction(name, cond, has)
		if err != nil {
			return nil, err
		}
		var pts [][2]float64
		res, err := p.Replay(context.Background(), plan, reg, func(epoch int, m *framework.Model) {
			if epoch <= t.Epochs {
				v := m.Params()[0].Value
				pts = append(pts, [2]float64{float64(v[0]), float64(v[1])})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("report: replaying trial %s: %w", t.Plan.ID, err)
		}
		if t.Status == framework.Completed && math.Float64bits(res.Final.TrainLoss) != math.Float64bits(t.Final.TrainLoss) {
			return nil, fmt.Errorf("report: replaying trial %s gave the final train loss %v, the store holds %v: its path would not be the run's", t.Plan.ID, res.Final.TrainLoss, t.Final.TrainLoss)
		}
		out[t.Plan.ID] = &report.Path{Function: label, Points: report.ThinPath(pts),
			F: func(x, y float64) float64 { v, _, _ := fn.Eval(x, y); return v }}
	}
	return out, nil
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
