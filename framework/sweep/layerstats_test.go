package sweep_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
)

// layerCollector is a Sink that keeps every trial's layer statistics.
type layerCollector struct {
	*collector
	mu     sync.Mutex
	layers map[string][]framework.LayerPoint // by the trial's first activation type
	its    map[string][]int
}

func (c *layerCollector) LayerStats(t *framework.TrialPlan, it int, stats []framework.LayerStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := "sigmoid"
	if t.Params["model.1.type"] == "relu" {
		kind = "relu"
	}
	for _, s := range stats {
		c.layers[kind] = append(c.layers[kind], framework.LayerPoint{Iteration: it, LayerStats: s})
	}
	if n := len(c.its[kind]); n == 0 || c.its[kind][n-1] != it {
		c.its[kind] = append(c.its[kind], it)
	}
}

// experiments/gradient-flow.yaml shows the vanishing gradient: at the
// first update the first of ten dense layers gets under 1/100 of the last
// one's gradient norm through sigmoids, over 1/10 through ReLUs with He
// initialisation; the sinks get the layers at the first update and every
// record.layer_stats_every-th.
func TestGradientFlowExperiment(t *testing.T) {
	e, err := experiment.Load("../../experiments/gradient-flow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := &layerCollector{collector: newCollector(), layers: map[string][]framework.LayerPoint{}, its: map[string][]int{}}
	if _, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 1, Sinks: []framework.Sink{c}}); err != nil {
		t.Fatal(err)
	}
	for kind, check := range map[string]func(float64) bool{
		"sigmoid": func(r float64) bool { return r < 1e-2 },
		"relu":    func(r float64) bool { return r > 1e-1 },
	} {
		ls := c.layers[kind]
		if len(ls) < 10 || ls[0].Layer != 0 || ls[9].Layer != 18 || ls[9].Iteration != 1 {
			t.Fatalf("%s: layers %+v", kind, ls[:min(len(ls), 10)])
		}
		r := ls[0].GradNorm / ls[9].GradNorm
		t.Logf("%s: first-to-last gradient norm ratio %.3g", kind, r)
		if !check(r) {
			t.Errorf("%s: first-to-last gradient norm ratio %v", kind, r)
		}
		its := c.its[kind]
		if !slices.Equal(its[:3], []int{1, e.LayerStatsEvery, 2 * e.LayerStatsEvery}) {
			t.Errorf("%s: measured at updates %v", kind, its[:3])
		}
	}
}
