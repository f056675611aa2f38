package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/framework/safetensors"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/internal/gemm"
	"github.com/gradsweep/gradsweep/internal/threads"
	_ "github.com/gradsweep/gradsweep/plugins"
	"github.com/gradsweep/gradsweep/plugins/layers"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// collector is an in-memory Sink that keeps every outcome and epoch.
type collector struct {
	mu       sync.Mutex
	outcomes map[string]framework.TrialOutcome
	epochs   map[string][]framework.EpochStats
	started  int
}

func newCollector() *collector {
	return &collector{outcomes: map[string]framework.TrialOutcome{}, epochs: map[string][]framework.EpochStats{}}
}

func (c *collector) SweepStarted(framework.SweepInfo, []framework.TrialPlan) {}
func (c *collector) TrialStarted(*framework.TrialPlan) {
	c.mu.Lock()
	c.started++
	c.mu.Unlock()
}
func (c *collector) Iteration(*framework.TrialPlan, framework.IterationStats) {}
func (c *collector) Epoch(t *framework.TrialPlan, s framework.EpochStats) {
	c.mu.Lock()
	c.epochs[t.ID] = append(c.epochs[t.ID], s)
	c.mu.Unlock()
}
func (c *collector) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	c.mu.Lock()
	if _, dup := c.outcomes[t.ID]; dup {
		panic("trial finished twice: " + t.ID)
	}
	c.outcomes[t.ID] = o
	c.mu.Unlock()
}
func (c *collector) SweepFinished(framework.SweepInfo, framework.SweepSummary) {}

const src = `name: runner-test
seed: 9
dataset: {builtin: iris, validation_split: 0.2, standardize: true}
model:
  - {type: dense, units: 8, init: he}
  - {type: relu}
  - {type: dense, units: 3}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.1, batch_size: 16, epochs: 6}
grid:
  training.learning_rate: [0.01, 0.1, 30.0]
  training.batch_size: [1, 16, full]
  optimizer.type: [sgd, adam]
repeats: 2
`

func runWith(t *testing.T, text string, workers int) (*collector, framework.SweepSummary, error) {
	t.Helper()
	e, err := experiment.Parse([]byte(text), "runner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: workers, Sinks: []framework.Sink{c}})
	return c, sum, err
}

// Results are bit-identical whatever the number of workers, and every
// trial runs exactly once.
func TestWorkersDoNotChangeResults(t *testing.T) {
	one, sum1, err := runWith(t, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	four, sum4, err := runWith(t, src, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.outcomes) != 36 || len(four.outcomes) != 36 || four.started != 36 {
		t.Fatalf("%d / %d outcomes, %d started", len(one.outcomes), len(four.outcomes), four.started)
	}
	sameOutcomes(t, one, four)
	if sum1.Best == nil || sum4.Best == nil || sum1.Best.ID != sum4.Best.ID || !same(sum1.BestValue, sum4.BestValue) {
		t.Errorf("best differs: %v vs %v", sum1.Best, sum4.Best)
	}
	// learning rate 30 with SGD at batch 1 diverges: a result, ranked last
	if sum1.Counts[framework.Diverged] == 0 {
		t.Errorf("no diverged trial at learning rate 30: %v", sum1.Counts)
	}
	if lr := sum1.Best.Params["training.learning_rate"]; lr == 30.0 {
		t.Errorf("a diverging learning rate ranked best")
	}
}

// sameOutcomes reports every trial whose outcome or epoch series differs
// between two runs of a sweep.
func sameOutcomes(t *testing.T, one, other *collector) {
	t.Helper()
	for id, a := range one.outcomes {
		b := other.outcomes[id]
		if a.Status != b.Status || !same(a.Result.Final.TrainLoss, b.Result.Final.TrainLoss) ||
			!same(a.Result.Final.ValLoss, b.Result.Final.ValLoss) || a.Result.Iterations != b.Result.Iterations {
			t.Errorf("trial %s differs: %+v vs %+v", id, a.Result.Final, b.Result.Final)
		}
		ea, eb := one.epochs[id], other.epochs[id]
		for i := range ea {
			if !same(ea[i].TrainLoss, eb[i].TrainLoss) || !same(ea[i].ValLoss, eb[i].ValLoss) {
				t.Errorf("trial %s epoch %d differs", id, i+1)
			}
		}
	}
}

// Trials that borrow idle cores (every product split, 3 threads for 1 or 2
// workers, the survivors of successive halving taking the freed ones) give
// the results of trials on one thread each, bit for bit.
func TestLentThreadsDoNotChangeResults(t *testing.T) {
	wide := strings.Replace(src, "units: 8,", "units: 37,", 1)
	for _, text := range []string{wide, strings.Replace(wide, "epochs: 6}", "epochs: 9}", 1) + "pruner: {type: asha, min_epochs: 1, eta: 3}\n"} {
		old := threads.SetLimit(1)
		one, _, err := runWith(t, text, 1)
		if err != nil {
			t.Fatal(err)
		}
		threads.SetLimit(3)
		split := gemm.SetSplitThreshold(1)
		for _, workers := range []int{1, 2} {
			lent, _, err := runWith(t, text, workers)
			if err != nil {
				t.Fatal(err)
			}
			if len(lent.outcomes) != len(one.outcomes) || len(one.outcomes) != 36 {
				t.Fatalf("%d / %d outcomes", len(one.outcomes), len(lent.outcomes))
			}
			sameOutcomes(t, one, lent)
		}
		gemm.SetSplitThreshold(split)
		threads.SetLimit(old)
	}
}

func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

// Successive halving prunes deterministically and saves iterations.
func TestSuccessiveHalving(t *testing.T) {
	text := strings.Replace(src, "epochs: 6}", "epochs: 9}", 1) + "pruner: {type: asha, min_epochs: 1, eta: 3}\n"
	a, sumA, err := runWith(t, text, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := runWith(t, text, 3)
	if err != nil {
		t.Fatal(err)
	}
	pruned := 0
	var ids []string
	for id, o := range a.outcomes {
		ids = append(ids, id)
		if o.Status == framework.Pruned {
			pruned++
		}
		if b.outcomes[id].Status != o.Status || b.outcomes[id].Result.Epochs != o.Result.Epochs {
			t.Errorf("trial %s: %s/%d vs %s/%d", id, o.Status, o.Result.Epochs, b.outcomes[id].Status, b.outcomes[id].Result.Epochs)
		}
	}
	sort.Strings(ids)
	if pruned == 0 || sumA.SavedIters == 0 {
		t.Errorf("nothing pruned (%d) or saved (%d)", pruned, sumA.SavedIters)
	}
	if sumA.Counts[framework.Pruned] != pruned {
		t.Errorf("summary counts %v, pruned %d", sumA.Counts, pruned)
	}
}

func TestMedianPruner(t *testing.T) {
	text := src + "pruner: {type: median, warmup_epochs: 2, startup_trials: 4}\n"
	c, sum, err := runWith(t, text, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[framework.Pruned] == 0 {
		t.Errorf("median pruner pruned nothing: %v", sum.Counts)
	}
	for _, o := range c.outcomes {
		if o.Status == framework.Pruned && o.Result.Epochs < 2 {
			t.Errorf("pruned before warm-up: %d epochs", o.Result.Epochs)
		}
	}
}

// Checks that need the data: a batch larger than the data, an output layer
// of the wrong width, an unknown option; each names the file, line and key.
func TestPrepareRejects(t *testing.T) {
	cases := []struct{ from, to, want string }{
		{"[1, 16, full]", "[1, 500, full]", "runner.yaml:10: training.batch_size: 500 is larger than the 120 training samples (use \"full\" for full-batch gradient descent) (with training.batch_size = 500, from line 13)"},
		{"{type: dense, units: 3}", "{type: dense, units: 4}", "runner.yaml:4: model: the last layer does not fit"},
		{"optimizer: {type: sgd}", "optimizer: {type: sgd, momentum: 0.9}", `runner.yaml:9: optimizer.momentum: optimizer "sgd": unknown option "momentum"`},
		{"{type: relu}", "{type: reLU}", `runner.yaml:6: model.1: model layer 1: unknown layer "reLU"`},
		{"loss: cross_entropy", "loss: mse_loss", `unknown loss "mse_loss"`},
	}
	for _, c := range cases {
		e, err := experiment.Parse([]byte(strings.Replace(src, c.from, c.to, 1)), "runner.yaml")
		if err == nil {
			_, err = sweep.Prepare(e, framework.Default())
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", c.to, err, c.want)
		}
	}
}

// keep_best writes the best trial's weights as safetensors with PyTorch's
// names; init_from starts a sweep from them (a learning rate too small to
// move a float32 weight leaves the model exactly as saved, so its
// validation loss is the saved trial's).
func TestKeepBestAndInitFrom(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(src, "repeats: 2\n", "repeats: 1\nkeep_best: true\nmetric: val_loss\n", 1)
	text = strings.Replace(text, "[0.01, 0.1, 30.0]", "[0.01, 0.1]", 1)
	e, _ := experiment.Parse([]byte(text), filepath.Join(dir, "a.yaml"))
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Sinks: []framework.Sink{c}, WeightsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "runner-test.best.safetensors")
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ts["0.weight"].Shape) != "[8 4]" || fmt.Sprint(ts["2.bias"].Shape) != "[3]" || len(ts) != 4 || meta["sweep"] != "runner-test" {
		t.Fatalf("saved tensors: %v %v", len(ts), meta)
	}
	best := c.outcomes[sum.Best.ID].Result.Final.ValLoss

	text2 := strings.Replace(src, "repeats: 2\n", "repeats: 1\ninit_from: runner-test.best.safetensors\n", 1)
	text2 = strings.Replace(text2, "name: runner-test", "name: from-best", 1)
	i := strings.Index(text2, "grid:")
	text2 = strings.Replace(text2[:i], "learning_rate: 0.1", "learning_rate: 1.0e-30", 1) + text2[strings.Index(text2, "repeats:"):]
	text2 = strings.Replace(text2, "batch_size: 16, epochs: 6", "batch_size: full, epochs: 1, shuffle: false", 1)
	e2, err := experiment.Parse([]byte(text2), filepath.Join(dir, "b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := sweep.Prepare(e2, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCollector()
	if _, err := sweep.Run(context.Background(), p2, sweep.Options{Workers: 1, Sinks: []framework.Sink{c2}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range c2.outcomes {
		if got := o.Result.Final.ValLoss; got != best {
			t.Errorf("started from the saved weights: val_loss %v, the saved trial had %v", got, best)
		}
	}
	// a checkpoint of another architecture is refused before anything runs
	text3 := strings.Replace(text2, "{type: dense, units: 8, init: he}", "{type: dense, units: 9, init: he}", 1)
	e3, _ := experiment.Parse([]byte(text3), filepath.Join(dir, "c.yaml"))
	if _, err := sweep.Prepare(e3, framework.Default()); err == nil || !strings.Contains(err.Error(), "init_from") {
		t.Errorf("mismatched checkpoint: %v", err)
	}
}

// explosive is a fault-injection layer: it panics in Forward when its
// option says so, standing in for a buggy plugin.
type explosive struct {
	Boom bool `opt:"boom" default:"false" doc:"panic in Forward"`
}

func (e *explosive) Init(in int, _ *rand.Rand) (int, error) { return in, nil }
func (e *explosive) Forward(x *mat.Matrix, _ bool) *mat.Matrix {
	if e.Boom {
		panic("injected fault")
	}
	return x
}
func (e *explosive) Backward(dy *mat.Matrix, _ bool) *mat.Matrix { return dy }
func (e *explosive) Params() []*framework.Param                  { return nil }

func faultRegistries() framework.Registries {
	reg := framework.Registries{
		Layers:     framework.NewRegistry[framework.Layer]("layer"),
		Losses:     framework.Default().Losses,
		Optimizers: framework.Default().Optimizers,
	}
	layers.Register(reg.Layers)
	reg.Layers.Register(framework.Plugin[framework.Layer]{Name: "explosive", Doc: "panics on demand",
		New: func() framework.Layer { return &explosive{} }})
	return reg
}

// One trial's panic becomes that trial's failure, with its text; the
// others complete. With FailFast the sweep stops starting trials.
func TestFailedTrialDoesNotStopOthers(t *testing.T) {
	text := strings.Replace(src, "  - {type: relu}\n", "  - {type: relu}\n  - {type: explosive}\n", 1)
	text = strings.Replace(text, "repeats: 2\n", "repeats: 1\ninclude:\n  - {model.2.boom: true, training.learning_rate: 0.5}\n", 1)
	e, err := experiment.Parse([]byte(text), "fault.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := faultRegistries()
	p, err := sweep.Prepare(e, reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Sinks: []framework.Sink{c}, Registries: reg})
	if !errors.Is(err, sweep.ErrTrialsFailed) {
		t.Fatalf("err = %v, want ErrTrialsFailed", err)
	}
	if sum.Counts[framework.Failed] != 1 || sum.Counts[framework.Completed]+sum.Counts[framework.Diverged] != len(p.Plans)-1 {
		t.Fatalf("counts %v of %d trials", sum.Counts, len(p.Plans))
	}
	for _, o := range c.outcomes {
		if o.Status == framework.Failed && !strings.Contains(o.Error, "panic: injected fault") {
			t.Errorf("failure text %q", o.Error)
		}
	}
	// fail-fast: the failing trial first, one worker → nothing after it runs
	text = strings.Replace(text, "include:\n  - {model.2.boom: true, training.learning_rate: 0.5}\n", "", 1)
	text = strings.Replace(text, "grid:\n", "grid:\n  model.2.boom: [true, false]\n", 1)
	e, _ = experiment.Parse([]byte(text), "fault.yaml")
	p, err = sweep.Prepare(e, reg)
	if err != nil {
		t.Fatal(err)
	}
	c = newCollector()
	_, err = sweep.Run(context.Background(), p, sweep.Options{Workers: 1, Sinks: []framework.Sink{c}, Registries: reg, FailFast: true})
	if !errors.Is(err, sweep.ErrTrialsFailed) || len(c.outcomes) != 1 {
		t.Errorf("fail-fast: %v, %d trials finished", err, len(c.outcomes))
	}
}

// Successive halving on the shipped GD-vs-SGD experiment finds the full
// grid's best setting, or one the full grid's repeats cannot tell from it,
// at no more than 40% of its weight updates (counts, not time:
// deterministic).
func TestASHAFindsTheFullGridsBest(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 105 trials twice")
	}
	full, err := experiment.Load("../../experiments/gd-vs-sgd-vs-minibatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("../../experiments/gd-vs-sgd-vs-minibatch.yaml")
	pruned, err := experiment.Parse(append(src, []byte("pruner: {type: asha, min_epochs: 1, eta: 3}\n")...), "asha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := func(e *experiment.Experiment, store sweep.Store) framework.SweepSummary {
		p, err := sweep.Prepare(e, framework.Default())
		if err != nil {
			t.Fatal(err)
		}
		sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	a, b := run(full, st), run(pruned, nil)
	if a.Best == nil || b.Best == nil {
		t.Fatalf("best point: full grid %v, asha %v", a.Best, b.Best)
	}
	trials, err := st.LoadResults(full.Name)
	if err != nil {
		t.Fatal(err)
	}
	ranked := results.Rank(results.MustLookup(full.Metric), trials)
	verdict := ""
	for i := range ranked {
		if ranked[i].Plan.Point == b.Best.Point {
			verdict = ranked[i].Verdict(i)
		}
	}
	if verdict != "best" && !strings.HasPrefix(verdict, "tied with best") {
		t.Fatalf("asha's best %s is %q in the full grid, whose best is %s", describePoint(b.Best), verdict, describePoint(a.Best))
	}
	frac := float64(b.Iterations) / float64(a.Iterations)
	t.Logf("asha's best %s (%s in the full grid, whose best is %s) at %.1f%% of the full grid's %d weight updates",
		describePoint(b.Best), verdict, describePoint(a.Best), 100*frac, a.Iterations)
	if frac > 0.40 {
		t.Errorf("asha used %.1f%% of the full grid's iterations, want ≤ 40%%", 100*frac)
	}
}

func describePoint(p *framework.TrialPlan) string {
	return fmt.Sprintf("batch %v lr %v", p.Params["training.batch_size"], p.Params["training.learning_rate"])
}

// A metric no trial can have is refused before anything runs, at the
// metric's line: accuracy of a regression, time_to_target without a
// target.
func TestPrepareRefusesMetricsThatCannotExist(t *testing.T) {
	regression := `name: reg
dataset: {synthetic: linear, n: 100, validation_split: 0.2}
model:
  - {type: dense, units: 1}
loss: mse
training: {learning_rate: 0.1, batch_size: 10, epochs: 2}
metric: val_accuracy
`
	cases := []struct{ text, want string }{
		{regression, "x.yaml:7: metric: val_accuracy needs a classification task"},
		{strings.Replace(regression, "val_accuracy", "train_accuracy", 1), "x.yaml:7: metric: train_accuracy needs a classification task"},
		{src + "metric: time_to_target\n", "metric: time_to_target needs training.stop.target_loss"},
		{strings.Replace(src, "epochs: 6}", "epochs: 6, stop: {target_loss: 0.5}}", 1) + "metric: time_to_target\n", ""},
		{strings.Replace(regression, "val_accuracy", "val_loss", 1), ""},
	}
	for _, c := range cases {
		e, err := experiment.Parse([]byte(c.text), "x.yaml")
		if err == nil {
			_, err = sweep.Prepare(e, framework.Default())
		}
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("got %v, want …%s…", err, c.want)
		}
	}
}

// A learning rate varied where every trial's schedule sets its own rate
// (onecycle, with or without a warmup) is refused at the grid's line; with
// a schedule that uses it, or beside points that use it, it is not.
func TestPrepareRefusesALearningRateWithNoEffect(t *testing.T) {
	base := `name: oc
dataset: {builtin: iris, validation_split: 0.2}
model: [{type: dense, units: 4}, {type: relu}, {type: dense, units: 3}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 16, epochs: 2, schedule: SCHEDULE}
grid:
  training.learning_rate: [0.1, 0.05]
`
	want := `x.yaml:7: training.learning_rate: every trial's schedule (onecycle) sets its own learning rate`
	for _, c := range []struct{ schedule, extra, want string }{
		{"{type: onecycle, max_lr: 0.5}", "", want},
		{"{type: onecycle, max_lr: 0.5, warmup: {iterations: 3}}", "", want},
		{"{type: cosine, t_max: 2}", "", ""},
		{"{type: onecycle, max_lr: 0.5}", "  training.schedule.max_lr: [0.5, 1]\n", want},
		{"{type: onecycle, max_lr: 0.5}", "include:\n  - {training.schedule: constant, training.learning_rate: 0.2}\n", ""},
	} {
		e, err := experiment.Parse([]byte(strings.Replace(base, "SCHEDULE", c.schedule, 1)+c.extra), "x.yaml")
		if err == nil {
			_, err = sweep.Prepare(e, framework.Default())
		}
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %q: got %v, want …%s…", c.schedule, c.extra, err, c.want)
		}
	}
}

// A pruner with no rung before the last epoch (min_epochs or warmup at or
// past training.epochs) prunes nothing: every trial trains to the end,
// exactly as without the pruner.
func TestPrunerWithoutRungsTrainsToTheEnd(t *testing.T) {
	_, want, err := runWith(t, src, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, pruner := range []string{"{type: asha, min_epochs: 6, eta: 2}", "{type: asha, min_epochs: 9, eta: 3}",
		"{type: median, warmup_epochs: 6}", "{type: median, warmup_epochs: 7, startup_trials: 1}"} {
		c, sum, err := runWith(t, src+"pruner: "+pruner+"\n", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.outcomes) != 36 {
			t.Fatalf("%s: %d outcomes", pruner, len(c.outcomes))
		}
		for id, o := range c.outcomes {
			if o.Status != framework.Completed && o.Status != framework.Diverged {
				t.Errorf("%s: trial %s ended %q (%s)", pruner, id, o.Status, o.Result.StopReason)
			}
		}
		if sum.Best == nil || sum.Best.ID != want.Best.ID || sum.BestValue != want.BestValue {
			t.Errorf("%s: best %v = %v, without the pruner %v = %v", pruner, sum.Best, sum.BestValue, want.Best, want.BestValue)
		}
	}
}
