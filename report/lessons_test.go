package report

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/framework/sweep"
	_ "github.com/gradsweep/gradsweep/plugins"
)

// recorder is an in-memory sink that keeps what the store would: every
// trial's plan, epochs, batch losses and outcome.
type recorder struct {
	mu     sync.Mutex
	info   framework.SweepInfo
	plans  map[string]framework.TrialPlan
	epochs map[string][]framework.EpochStats
	iters  map[string][]framework.IterationStats
	out    map[string]framework.TrialOutcome
}

func (r *recorder) SweepStarted(s framework.SweepInfo, trials []framework.TrialPlan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.info = s
	for _, p := range trials {
		r.plans[p.ID] = p
	}
}
func (r *recorder) TrialStarted(*framework.TrialPlan) {}
func (r *recorder) Iteration(t *framework.TrialPlan, s framework.IterationStats) {
	r.mu.Lock()
	r.iters[t.ID] = append(r.iters[t.ID], s)
	r.mu.Unlock()
}
func (r *recorder) Epoch(t *framework.TrialPlan, s framework.EpochStats) {
	r.mu.Lock()
	r.epochs[t.ID] = append(r.epochs[t.ID], s)
	r.mu.Unlock()
}
func (r *recorder) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	r.mu.Lock()
	r.out[t.ID] = o
	r.mu.Unlock()
}
func (r *recorder) SweepFinished(framework.SweepInfo, framework.SweepSummary) {}

// runExperiment runs an experiment file of the repository (edit changes
// its text first, to make it small) and returns its data as a report
// reads it from the store.
func runExperiment(t *testing.T, file string, edit func(string) string) *framework.SweepData {
	t.Helper()
	path := filepath.Join("..", "experiments", file)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if edit != nil {
		text = edit(text)
	}
	e, err := experiment.Parse([]byte(text), path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{plans: map[string]framework.TrialPlan{}, epochs: map[string][]framework.EpochStats{},
		iters: map[string][]framework.IterationStats{}, out: map[string]framework.TrialOutcome{}}
	if _, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Sinks: []framework.Sink{r}}); err != nil {
		t.Fatal(err)
	}
	d := &framework.SweepData{Info: r.info}
	for id, o := range r.out {
		res := o.Result
		d.Trials = append(d.Trials, framework.TrialData{Plan: r.plans[id], Status: o.Status, Error: o.Error,
			Seconds: res.Seconds, Epochs: res.Epochs, Iterations: res.Iterations, Samples: res.Samples, Final: res.Final,
			BestValLoss: res.BestValLoss, DivergedIteration: res.DivergedIteration, LastFiniteLoss: res.LastFiniteLoss,
			TimeToTarget: res.TimeToTarget(), EpochSeries: r.epochs[id], BatchLoss: r.iters[id]})
	}
	slices.SortFunc(d.Trials, func(a, b framework.TrialData) int { return a.Plan.Index - b.Plan.Index })
	return d
}

// The quickstart, the GD vs SGD comparison and an mnist-like pruned
// sweep (digits, the mnist grid and pruner, so it runs in seconds), run
// for real: their charts must teach the right lesson. Checked on the
// charts' data, not their pixels.
func TestChartsTeachTheRightLesson(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three small sweeps")
	}
	quick := runExperiment(t, "quickstart.yaml", nil)
	gd := runExperiment(t, "gd-vs-sgd-vs-minibatch.yaml", func(s string) string {
		return strings.NewReplacer("epochs: 20", "epochs: 3", "repeats: 3", "repeats: 2").Replace(s)
	})
	// two optimizers: a heatmap each, one of whose bests is not the sweep's
	twoOpts := runExperiment(t, "gd-vs-sgd-vs-minibatch.yaml", func(s string) string {
		return strings.NewReplacer("epochs: 20", "epochs: 3", "repeats: 3", "repeats: 2",
			"grid:\n", "grid:\n  optimizer.type: [sgd, momentum]\n").Replace(s)
	})
	mnistLike := runExperiment(t, "mnist.yaml", func(s string) string {
		return strings.Replace(s, "{mnist: auto, validation_split: 0.1}", "{builtin: digits, validation_split: 0.2, standardize: true}", 1)
	})
	for _, c := range []struct {
		name string
		d    *framework.SweepData
	}{{"quickstart", quick}, {"gd-vs-sgd", gd}, {"gd-vs-sgd-two-optimizers", twoOpts}, {"mnist-like", mnistLike}} {
		t.Run(c.name, func(t *testing.T) {
			a := analyze(c.d)
			charts, _ := a.charts(Options{}.withDefaults())
			checkApplies(t, a, charts)
			for _, ch := range charts {
				if strings.Contains(ch.file, "curves-by-") || strings.Contains(ch.file, "repeats") || strings.Contains(ch.file, "gd-sgd") {
					checkCurveScale(t, a, ch)
				}
				if strings.Contains(ch.file, "curves-by-") {
					checkMeans(t, a, ch)
				}
			}
			checkGDLikeWithLike(t, a, charts)
			checkBatchCharts(t, a)
			checkHeatmapTies(t, a)
		})
	}
	// The quickstart's lr=10 trials blew up without all diverging: the
	// learning-rate chart must still show the three smaller rates apart
	// (a log axis, a range the blow-ups do not set).
	a := analyze(quick)
	charts, _ := a.charts(Options{}.withDefaults())
	lr := chartNamed(t, charts, "img/curves-by-lr.png")
	if !isLog(lr.fig.plot.Y) {
		t.Error("quickstart curves-by-lr: linear loss axis")
	}
	// sgd at lr 10: most trials diverged; the learning-rate chart says so.
	olr := chartNamed(t, charts, "img/optimizer-lr.png")
	if !slices.ContainsFunc(olr.fig.legend, func(e legendEntry) bool { return strings.Contains(e.label, "k/n diverged") }) {
		t.Error("quickstart optimizer-lr: points where some trials diverged are not marked")
	}
	// One batch size: no GD vs SGD section, no heatmap, no optimizer bars.
	var one framework.SweepData
	one.Info = quick.Info
	for _, tr := range quick.Trials {
		if tr.Plan.Settings().Training.BatchSize == 16 {
			one.Trials = append(one.Trials, tr)
		}
	}
	if len(one.Trials) == 0 {
		t.Fatal("no batch-16 trial in the quickstart")
	}
	dir := t.TempDir()
	if err := Write(dir, &one, Options{}); err != nil {
		t.Fatal(err)
	}
	idx := readFile(t, filepath.Join(dir, "index.html"))
	for _, absent := range []string{"GD vs SGD vs mini-batch", "heatmap", "optimizer-best", "No batch size recorded"} {
		if strings.Contains(idx, absent) {
			t.Errorf("one batch size: index mentions %q", absent)
		}
	}
}

func chartNamed(t *testing.T, charts []chart, file string) chart {
	t.Helper()
	for _, c := range charts {
		if c.file == file {
			return c
		}
	}
	t.Fatalf("no chart %s", file)
	return chart{}
}

// checkApplies: no chart that does not apply.
func checkApplies(t *testing.T, a *analysis, charts []chart) {
	t.Helper()
	for _, c := range charts {
		switch {
		case strings.Contains(c.file, "gd-sgd") && len(a.batches) < 2,
			strings.Contains(c.file, "heatmap") && (len(a.batches) < 2 || len(a.lrs) < 2),
			strings.Contains(c.file, "optimizer-best") && len(a.opts) < 2,
			strings.Contains(c.file, "curves-by-optimizer") && len(a.opts) < 2:
			t.Errorf("%s drawn for %d batch sizes, %d learning rates, %d optimizers", c.file, len(a.batches), len(a.lrs), len(a.opts))
		}
	}
	if len(a.batches) > 1 && !slices.ContainsFunc(charts, func(c chart) bool { return c.file == "img/gd-sgd-epochs.png" }) {
		t.Errorf("%d batch sizes but no GD vs SGD chart", len(a.batches))
	}
}

// checkCurveScale: the loss axis is set by the stable trials (those that
// neither diverged nor blew up: their every value is inside it, and it
// reaches no higher than a blow-up threshold), and is logarithmic when
// they span more than a decade.
func checkCurveScale(t *testing.T, a *analysis, c chart) {
	t.Helper()
	ax := c.fig.plot.Y
	var stableY []float64
	for _, ti := range a.trials {
		if ti.diverged() || a.blewUp(ti) {
			continue
		}
		for _, q := range curveOf(ti.T, a.curve, "epoch") {
			if finite(q.Y) && q.Y > 0 {
				stableY = append(stableY, q.Y)
			}
		}
	}
	if ax.Max > blowUpFactor*a.lossRef*(1+1e-9) {
		t.Errorf("%s: y axis up to %.4g, above %g× the typical first loss %.4g: set by a trial that blew up", c.file, ax.Max, float64(blowUpFactor), a.lossRef)
	}
	if !strings.Contains(c.file, "curves-by-") {
		return // the other charts draw means of the best settings only
	}
	lo, hi, _ := bounds(stableY, true)
	if ax.Min > lo*(1+1e-9) || ax.Max < hi*(1-1e-9) {
		t.Errorf("%s: y axis [%.4g, %.4g] does not hold the stable trials' [%.4g, %.4g]", c.file, ax.Min, ax.Max, lo, hi)
	}
	if hi/lo > decade && !isLog(ax) {
		t.Errorf("%s: stable losses span %.3g× but the axis is linear", c.file, hi/lo)
	}
}

// checkMeans: each bold mean is, at every epoch, the mean over the same
// trials, and those are the group's completed trials that did not blow
// up: no diverged or pruned trial, so a trial leaving never looks like
// learning.
func checkMeans(t *testing.T, a *analysis, c chart) {
	t.Helper()
	by := strings.TrimSuffix(strings.TrimPrefix(c.file, "img/curves-by-"), ".png")
	groups := a.groupsBy(by)
	means := c.fig.avoid // the lines drawn boldly, in group order
	if len(means) != len(groups) {
		t.Fatalf("%s: %d bold lines for %d groups", c.file, len(means), len(groups))
	}
	for gi, g := range groups {
		var members []*trialInfo
		for _, ti := range g.trials {
			if ti.T.Status == framework.Completed && !a.blewUp(ti) {
				members = append(members, ti)
			}
		}
		for _, p := range means[gi] {
			ep := int(p.X)
			var sum float64
			for _, ti := range members {
				v := math.NaN()
				for _, e := range ti.T.EpochSeries {
					if e.Epoch == ep {
						v = e.ValLoss
						if a.curve == "train_loss" {
							v = e.TrainLoss
						}
					}
				}
				if !finite(v) {
					t.Errorf("%s %s: mean drawn at epoch %d, where trial %s has no value", c.file, g.label, ep, ti.T.Plan.ID)
				}
				sum += v
			}
			if want := sum / float64(len(members)); math.Abs(p.Y-want) > 1e-9*math.Max(1, want) {
				t.Errorf("%s %s epoch %d: mean %.6g, want %.6g over the %d completed, stable trials", c.file, g.label, ep, p.Y, want, len(members))
			}
		}
	}
}

// checkGDLikeWithLike: the GD vs SGD charts compare batch sizes under one
// optimizer, named in the title when the sweep has several.
func checkGDLikeWithLike(t *testing.T, a *analysis, charts []chart) {
	t.Helper()
	opt, only := a.gdOptimizer()
	pts := a.gdPoints(opt)
	for _, p := range pts {
		if p.Opt != opt {
			t.Errorf("GD vs SGD: batch %d uses %s, the others %s", p.Batch, p.Opt, opt)
		}
	}
	for _, c := range charts {
		if !strings.Contains(c.file, "gd-sgd") {
			continue
		}
		if !only && !strings.Contains(c.fig.plot.Title.Text, "optimizer "+opt+" only") {
			t.Errorf("%s: title %q does not name the one optimizer compared", c.file, c.fig.plot.Title.Text)
		}
		if n := len(c.fig.avoid); n != len(pts) {
			t.Errorf("%s: %d lines for %d batch sizes of %s", c.file, n, len(pts), opt)
		}
		if strings.Contains(c.file, "seconds") && !strings.Contains(c.caption, "median over repeats") {
			t.Errorf("%s: caption does not say the seconds are the median over repeats", c.file)
		}
	}
}

// checkBatchCharts: every batch-loss picture draws the moving average; a
// diverged trial's shows the losses before the blow-up, which set the
// range, and an × at the top edge.
func checkBatchCharts(t *testing.T, a *analysis) {
	t.Helper()
	for _, ti := range a.trials {
		f := a.trialBatchFigure(ti, DefaultSmoothWindow, 760, 400)
		if f == nil {
			continue
		}
		label := func(s string) bool {
			return slices.ContainsFunc(f.legend, func(e legendEntry) bool { return strings.Contains(e.label, s) })
		}
		if len(ti.T.BatchLoss) > 2 && !label("moving average") {
			t.Errorf("%s: no moving average", ti.T.Plan.ID)
		}
		if !ti.diverged() || ti.T.DivergedIteration <= 1 {
			continue
		}
		if !label("loss before divergence") || !label("diverged at iteration") {
			t.Errorf("%s: diverged at %d, legend %v", ti.T.Plan.ID, ti.T.DivergedIteration, f.legend)
		}
		maxBefore := math.Inf(-1)
		for _, s := range ti.T.BatchLoss {
			if s.Iteration < ti.T.DivergedIteration && finite(s.Loss) {
				maxBefore = math.Max(maxBefore, s.Loss)
			}
		}
		if maxBefore > f.plot.Y.Max*(1+1e-9) {
			t.Errorf("%s: loss %.4g before divergence above the range (max %.4g)", ti.T.Plan.ID, maxBefore, f.plot.Y.Max)
		}
		for _, s := range ti.T.BatchLoss {
			if s.Iteration == ti.T.DivergedIteration && finite(s.Loss) && s.Loss > maxBefore && s.Loss <= f.plot.Y.Max {
				t.Errorf("%s: the diverging loss %.4g sets the range", ti.T.Plan.ID, s.Loss)
			}
		}
	}
}

// A mean is drawn only where every trial it averages has a value: a
// trial that stops early must not make the mean jump.
func TestAggregateKeepsItsPopulation(t *testing.T) {
	long := &framework.TrialData{EpochSeries: []framework.EpochStats{{Epoch: 1, TrainLoss: 1}, {Epoch: 2, TrainLoss: 0.9}, {Epoch: 3, TrainLoss: 0.8}}}
	short := &framework.TrialData{EpochSeries: []framework.EpochStats{{Epoch: 1, TrainLoss: 3}}}
	agg := aggregate([]*trialInfo{{T: long}, {T: short}}, "train_loss", "epoch")
	if len(agg) != 1 || agg[0].X != 1 || agg[0].Mean != 2 || agg[0].N != 2 {
		t.Errorf("aggregate = %+v, want only epoch 1 with the mean of both (2)", agg)
	}
}

// A loss of exactly 0 does not make the axis linear when the other
// losses span decades: the zero is drawn at the smallest positive value,
// and the caption says so.
func TestLogAxisWithZeroLoss(t *testing.T) {
	f := curveChart("t", "epoch", "loss", []curveSeries{{pts: []xy{{1, 2}, {2, 0.01}, {3, 0}}}, {pts: []xy{{1, 2300}}, noRange: true, escaped: true}}, 0, 400, 300, nil)
	if !isLog(f.plot.Y) {
		t.Fatal("linear axis for losses from 0.01 to 2 with a 0")
	}
	if f.plot.Y.Max > 2 || f.plot.Y.Min > 0.01 {
		t.Errorf("y range [%g, %g], want [0.01, 2] (the blow-up to 2300 does not set it)", f.plot.Y.Min, f.plot.Y.Max)
	}
	if len(f.notes) != 1 || !strings.Contains(f.notes[0], "exactly 0") {
		t.Errorf("notes %q do not say how zeros are drawn", f.notes)
	}
	if !slices.ContainsFunc(f.legend, func(e legendEntry) bool { return strings.Contains(e.label, "blew up") }) {
		t.Errorf("legend %v does not explain the blow-up's mark", f.legend)
	}
}

// checkHeatmapTies: each heatmap outlines, beside its best, exactly the
// cells whose point the tie test could not tell from that best: the
// sweep's verdicts ("tied with best (p=…)") when the chart's best is the
// sweep's, else those of a ranking of the chart's optimizer alone. So no
// cell looks like the one answer when the repeats cannot pick it.
func checkHeatmapTies(t *testing.T, a *analysis) {
	t.Helper()
	if len(a.lrs) < 2 || len(a.batches) < 2 {
		return
	}
	opts := []*string{nil}
	if len(a.opts) > 1 {
		opts = nil
		for i := range a.opts {
			opts = append(opts, &a.opts[i])
		}
	}
	for _, opt := range opts {
		hp, _, _ := a.heatmapPlot(opt)
		if hp.best == [2]int{-1, -1} {
			continue
		}
		best := hp.cells[hp.best[0]][hp.best[1]].p
		verdict := map[int]string{}
		if best.Rank == 0 {
			for _, p := range a.points {
				verdict[p.Point.Point] = p.Verdict
			}
		} else {
			var trials []framework.TrialData
			for _, td := range a.d.Trials {
				if td.Plan.Params["optimizer.type"] == *opt {
					trials = append(trials, td)
				}
			}
			for i, r := range results.Rank(a.metric.Metric, trials) {
				verdict[r.Point] = r.Verdict(i)
			}
		}
		tested := 0
		for r, row := range hp.cells {
			for c, cell := range row {
				if cell.p == nil || [2]int{r, c} == hp.best {
					continue
				}
				tie := strings.HasPrefix(verdict[cell.p.Point.Point], "tied with best (p=") && cell.p.Final()
				if tie {
					tested++
				}
				if got := hp.marksTied(r, c); got != tie {
					t.Errorf("heatmap of %s, cell %s (%s): marked tied %v", orDefault(deref(opt), "all"), cell.p.Label, verdict[cell.p.Point.Point], got)
				}
			}
		}
		if tested > 0 != hp.anyTied() {
			t.Errorf("heatmap of %s has %d tied cells, its legend says %v", orDefault(deref(opt), "all"), tested, hp.anyTied())
		}
		t.Logf("heatmap of %s (best ranked %d in the sweep): %d cells tied with its best", orDefault(deref(opt), "all"), best.Rank, tested)
	}
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
