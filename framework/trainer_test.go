package framework_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/mat"
	_ "github.com/gradsweep/gradsweep/plugins"
)

func build(t testing.TB, layers []framework.LayerSpec, in int, loss, opt string, cfg framework.TrainConfig) *framework.Trainer {
	t.Helper()
	m, err := framework.NewModel(framework.Layers, layers, in, framework.NewTrainRand(cfg.Seed, 0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := framework.Losses.New(loss, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := framework.Optimizers.New(opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &framework.Trainer{Model: m, Loss: l, Optimizer: o, Config: cfg}
}

func dense(units int, init string) framework.LayerSpec {
	return framework.LayerSpec{Type: "dense", Options: map[string]any{"units": units, "init": init}}
}

func act(name string) framework.LayerSpec { return framework.LayerSpec{Type: name} }

// The note's arithmetic: 1000 samples, batch size 10, 3 epochs = 300
// iterations (weight updates); the last partial batch counts unless
// drop_last.
func TestIterationCount(t *testing.T) {
	d, err := data.Synthetic("linear", 1000, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		batch, epochs int
		dropLast      bool
		want          int
	}{
		{10, 3, false, 300}, {1, 1, false, 1000}, {1000, 1, false, 1}, {0, 2, false, 2},
		{16, 1, false, 63}, {16, 1, true, 62}, {300, 2, false, 8}, {300, 2, true, 6},
	} {
		if got := framework.IterationsPerEpoch(1000, c.batch, c.dropLast) * c.epochs; got != c.want {
			t.Errorf("IterationsPerEpoch(1000, %d, %v)×%d = %d, want %d", c.batch, c.dropLast, c.epochs, got, c.want)
		}
		tr := build(t, []framework.LayerSpec{dense(1, "zeros")}, 3, "mse", "sgd",
			framework.TrainConfig{LearningRate: 0.01, BatchSize: c.batch, Epochs: c.epochs, DropLast: c.dropLast, Shuffle: true})
		res, err := tr.Train(context.Background(), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Iterations != c.want {
			t.Errorf("batch %d, %d epochs, drop_last %v: trained %d iterations, want %d", c.batch, c.epochs, c.dropLast, res.Iterations, c.want)
		}
		wantSamples := c.want * max(c.batch, 1)
		if c.batch == 0 {
			wantSamples = 1000 * c.epochs
		} else if !c.dropLast {
			wantSamples = 1000 * c.epochs
		}
		if res.Samples != wantSamples {
			t.Errorf("batch %d: saw %d samples, want %d", c.batch, res.Samples, wantSamples)
		}
	}
}

// For the note's f = ½(y − ŷ)² with ŷ = wx + b, the gradient is
// ∂f/∂w = (ŷ − y)·x — not the note's (y − ŷ)·x, whose sign is slipped — and
// a step against it goes downhill, while the note's update would climb.
func TestHalfMSEDerivativeAndDescent(t *testing.T) {
	const w, b, x, y = 0.5, 0.25, 2.0, 3.0 // ŷ = 1.25, ŷ − y = −1.75
	newModel := func() *framework.Model {
		m, err := framework.NewModel(framework.Layers, []framework.LayerSpec{dense(1, "zeros")}, 1, framework.NewTrainRand(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		m.Params()[0].Value[0], m.Params()[1].Value[0] = w, b
		return m
	}
	loss, _ := framework.Losses.New("half_mse", nil)
	in := &mat.Matrix{Rows: 1, Cols: 1, Data: []float32{x}}
	tg := framework.Targets{Values: &mat.Matrix{Rows: 1, Cols: 1, Data: []float32{y}}}
	m := newModel()
	var g mat.Matrix
	f0 := loss.Eval(m.Forward(in, true), tg, &g)
	if want := 0.5 * 1.75 * 1.75; math.Abs(f0-want) > 1e-6 {
		t.Fatalf("loss = %v, want %v", f0, want)
	}
	m.Backward(&g)
	dw, db := m.Params()[0].Grad[0], m.Params()[1].Grad[0]
	if want := (w*x + b - y) * x; math.Abs(float64(dw)-want) > 1e-6 {
		t.Errorf("∂f/∂w = %v, want (ŷ − y)·x = %v", dw, want)
	}
	if want := w*x + b - y; math.Abs(float64(db)-want) > 1e-6 {
		t.Errorf("∂f/∂b = %v, want ŷ − y = %v", db, want)
	}
	sgd, _ := framework.Optimizers.New("sgd", nil)
	sgd.Step(m.Params(), 0.1)
	f1 := loss.Eval(m.Forward(in, true), tg, &g)
	if !(f1 < f0) {
		t.Errorf("a gradient step did not go downhill: %v → %v", f0, f1)
	}
	// the note's update w ← w − α(y − ŷ)x moves uphill
	note := newModel()
	note.Params()[0].Value[0] -= float32(0.1 * (y - (w*x + b)) * x)
	note.Params()[1].Value[0] -= float32(0.1 * (y - (w*x + b)))
	if f := loss.Eval(note.Forward(in, true), tg, &g); !(f > f0) {
		t.Errorf("the note's sign-slipped update should climb: %v → %v", f0, f)
	}
}

func TestXORSolved(t *testing.T) {
	d, _ := data.Synthetic("xor", 4, 0, 1)
	tr := build(t, []framework.LayerSpec{dense(8, "xavier"), act("tanh"), dense(2, "xavier")}, 2, "cross_entropy", "adam",
		framework.TrainConfig{LearningRate: 0.05, BatchSize: 0, Epochs: 500, Seed: 3})
	res, err := tr.Train(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.TrainAccuracy != 1 {
		t.Errorf("xor accuracy %v after %d epochs, want 1", res.Final.TrainAccuracy, res.Epochs)
	}
	if l, acc := tr.Evaluate(d); acc != 1 || l > 0.05 {
		t.Errorf("xor evaluation: loss %v accuracy %v", l, acc)
	}
}

func TestIrisValidationAccuracy(t *testing.T) {
	all, _ := data.Builtin("iris")
	train, val, err := data.Split(all, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	s := data.FitStandardizer(train)
	s.Apply(train)
	s.Apply(val)
	tr := build(t, []framework.LayerSpec{dense(16, "he"), act("relu"), dense(3, "xavier")}, 4, "cross_entropy", "sgd",
		framework.TrainConfig{LearningRate: 0.1, BatchSize: 16, Epochs: 60, Shuffle: true, Seed: 7})
	res, err := tr.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.ValAccuracy < 0.93 {
		t.Errorf("iris validation accuracy %.3f, want ≥ 0.93", res.Final.ValAccuracy)
	}
}

func TestLinearRegressionRecoversWeights(t *testing.T) {
	d, _ := data.Synthetic("linear", 500, 0.01, 2)
	tr := build(t, []framework.LayerSpec{dense(1, "zeros")}, 3, "mse", "sgd",
		framework.TrainConfig{LearningRate: 0.05, BatchSize: 20, Epochs: 60, Shuffle: true, Seed: 2})
	if _, err := tr.Train(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	p := tr.Model.Params()
	for i, w := range data.LinearTrueWeights {
		if math.Abs(float64(p[0].Value[i])-w) > 0.02 {
			t.Errorf("w[%d] = %v, true %v", i, p[0].Value[i], w)
		}
	}
	if math.Abs(float64(p[1].Value[0])-data.LinearTrueBias) > 0.02 {
		t.Errorf("b = %v, true %v", p[1].Value[0], data.LinearTrueBias)
	}
}

// A learning rate far too large ends the trial as diverged, keeping the
// iteration and the last finite loss; it never panics.
func TestDivergenceIsAResult(t *testing.T) {
	d, _ := data.Synthetic("linear", 200, 0.1, 1)
	tr := build(t, []framework.LayerSpec{dense(8, "he"), act("relu"), dense(1, "he")}, 3, "mse", "sgd",
		framework.TrainConfig{LearningRate: 50, BatchSize: 10, Epochs: 20, Shuffle: true})
	res, err := tr.Train(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != framework.Diverged || res.DivergedIteration == 0 {
		t.Fatalf("status %s at iteration %d, want diverged", res.Status, res.DivergedIteration)
	}
	if math.IsNaN(res.LastFiniteLoss) || math.IsInf(res.LastFiniteLoss, 0) {
		t.Errorf("last finite loss = %v", res.LastFiniteLoss)
	}
	if res.Iterations != res.DivergedIteration {
		t.Errorf("trained on past divergence: %d iterations, diverged at %d", res.Iterations, res.DivergedIteration)
	}
}

func TestStopping(t *testing.T) {
	all, _ := data.Builtin("iris")
	train, val, _ := data.Split(all, 0.3, 1)
	mk := func(cfg framework.TrainConfig) framework.Result {
		cfg.Seed, cfg.Shuffle = 1, true
		tr := build(t, []framework.LayerSpec{dense(8, "he"), act("relu"), dense(3, "xavier")}, 4, "cross_entropy", "adam", cfg)
		res, err := tr.Train(context.Background(), train, val)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := mk(framework.TrainConfig{LearningRate: 0.01, BatchSize: 8, Epochs: 200, StopRules: framework.StopRules{TargetLoss: 0.5, HasTargetLoss: true}}); r.StopReason != "target_loss" || r.Epochs >= 200 || r.Final.TrainLoss > 0.5 || !r.TargetReached {
		t.Errorf("target loss: %+v", r)
	}
	if r := mk(framework.TrainConfig{LearningRate: 0.001, BatchSize: 8, Epochs: 300, StopRules: framework.StopRules{Patience: 3, MinDelta: 0.05}}); r.StopReason != "early_stopping" || r.Epochs >= 300 {
		t.Errorf("early stopping: reason %s after %d epochs", r.StopReason, r.Epochs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr := build(t, []framework.LayerSpec{dense(3, "he")}, 4, "cross_entropy", "sgd", framework.TrainConfig{LearningRate: 0.1, BatchSize: 8, Epochs: 5})
	if r, _ := tr.Train(ctx, train, val); r.Status != framework.Interrupted {
		t.Errorf("cancelled context: status %s", r.Status)
	}
}

// Same seed, same data → bit-identical weights and losses.
func TestDeterminism(t *testing.T) {
	d, _ := data.Synthetic("spirals", 300, 0.1, 5)
	runOnce := func() ([]float32, float64) {
		tr := build(t, []framework.LayerSpec{dense(16, "uniform"), act("relu"), act("dropout"), dense(2, "uniform")}, 2, "cross_entropy", "adam",
			framework.TrainConfig{LearningRate: 0.01, BatchSize: 16, Epochs: 5, Shuffle: true, Seed: 11})
		res, _ := tr.Train(context.Background(), d, nil)
		return append([]float32(nil), tr.Model.Params()[0].Value...), res.Final.TrainLoss
	}
	w1, l1 := runOnce()
	w2, l2 := runOnce()
	if l1 != l2 {
		t.Errorf("train loss %v vs %v", l1, l2)
	}
	for i := range w1 {
		if math.Float32bits(w1[i]) != math.Float32bits(w2[i]) {
			t.Fatalf("weight %d differs: %v vs %v", i, w1[i], w2[i])
		}
	}
}

// After warm-up a training epoch allocates nothing: no per-step garbage.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race allocation counts mean nothing")
	}
	d, _ := data.Synthetic("spirals", 256, 0.1, 5)
	for _, opt := range []string{"sgd", "momentum", "adam", "nadam", "rmsprop", "adagrad", "adadelta", "adamw", "nesterov"} {
		tr := build(t, []framework.LayerSpec{dense(32, "he"), act("relu"), dense(16, "he"), act("tanh"), dense(2, "xavier")}, 2, "cross_entropy", opt,
			framework.TrainConfig{LearningRate: 0.01, BatchSize: 32, Epochs: 1000, Shuffle: true, Seed: 1})
		ctx := context.Background()
		epoch := 1
		if _, err := tr.TrainUntil(ctx, d, nil, epoch); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(5, func() {
			epoch++
			tr.TrainUntil(ctx, d, nil, epoch)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per epoch of 8 steps after warm-up, want 0", opt, allocs)
		}
	}
}

// A schedule keeps the training step allocation-free, stepped per epoch
// or per update, behind a warmup too.
func TestScheduledStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race allocation counts mean nothing")
	}
	d, _ := data.Synthetic("spirals", 256, 0.1, 5)
	for _, spec := range []framework.ScheduleSpec{
		{Type: "step", Options: map[string]any{"step_size": 2}},
		{Type: "plateau", Options: map[string]any{}, Interval: framework.IntervalIteration},
		{Type: "onecycle", Options: map[string]any{"max_lr": 0.1}},
		{Type: "cosine", Options: map[string]any{"t_max": 5}, Warmup: framework.Warmup{Iterations: 3, StartFactor: 0.5}},
	} {
		sched, iv, err := framework.NewSchedule(framework.Schedules, spec)
		if err != nil {
			t.Fatal(err)
		}
		spec.Interval = iv
		tr := build(t, []framework.LayerSpec{dense(16, "he"), act("relu"), dense(2, "xavier")}, 2, "cross_entropy", "adam",
			framework.TrainConfig{LearningRate: 0.01, BatchSize: 32, Epochs: 1000, Shuffle: true, Seed: 1, Schedule: spec})
		tr.Schedule = sched
		ctx := context.Background()
		epoch := 1
		if _, err := tr.TrainUntil(ctx, d, nil, epoch); err != nil {
			t.Fatal(err)
		}
		if allocs := testing.AllocsPerRun(5, func() { epoch++; tr.TrainUntil(ctx, d, nil, epoch) }); allocs != 0 {
			t.Errorf("%s: %v allocations per epoch after warm-up, want 0", spec.Type, allocs)
		}
	}
}

// An unshuffled pass and evaluation hand the model views of the data set's
// rows: no registered layer or loss may write through them. Every layer
// comes first here (where it sees the view), and every loss ends a model,
// on class labels and, but for cross_entropy (labels only), on regression
// targets.
func TestTrainingLeavesTheDataUntouched(t *testing.T) {
	cls, _ := data.Synthetic("spirals", 96, 0.1, 3)
	reg, _ := data.Synthetic("linear", 96, 0.1, 3)
	for _, first := range framework.Layers.Names() {
		spec := act(first)
		switch first {
		case "dense":
			spec = dense(4, "he")
		case "point":
			spec = framework.LayerSpec{Type: "point", Options: map[string]any{"start": []any{0.5, -0.5}}}
		}
		for _, loss := range framework.Losses.Names() {
			if loss == "function" {
				continue // it needs its function's name, and a point: below
			}
			sets := []*framework.Dataset{cls, reg}
			if loss == "cross_entropy" {
				sets = sets[:1]
			}
			for _, d := range sets {
				x, labels := slices.Clone(d.X.Data), slices.Clone(d.Labels)
				var y []float32
				if d.Y != nil {
					y = slices.Clone(d.Y.Data)
				}
				out := 1
				if d.Task == framework.Classification {
					out = len(d.Classes)
				}
				tr := build(t, []framework.LayerSpec{spec, dense(out, "he")}, d.X.Cols, loss, "sgd",
					framework.TrainConfig{LearningRate: 0.05, BatchSize: 16, Epochs: 2, Seed: 1})
				if _, err := tr.Train(context.Background(), d, d); err != nil {
					t.Fatalf("%s first, %s last, on %s: %v", first, loss, d.Name, err)
				}
				if !slices.Equal(x, d.X.Data) || !slices.Equal(labels, d.Labels) || d.Y != nil && !slices.Equal(y, d.Y.Data) {
					t.Errorf("training %s first, %s last, changed the data set %s", first, loss, d.Name)
				}
			}
		}
	}
	// the function loss ends a point model
	m, err := framework.NewModel(framework.Layers, []framework.LayerSpec{{Type: "point", Options: map[string]any{"start": []any{-1.5, 2.0}}}}, reg.X.Cols, framework.NewTrainRand(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := framework.Losses.New("function", map[string]any{"function": "rosenbrock"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := framework.Optimizers.New("adam", nil)
	x, y := slices.Clone(reg.X.Data), slices.Clone(reg.Y.Data)
	tr := &framework.Trainer{Model: m, Loss: l, Optimizer: o, Config: framework.TrainConfig{LearningRate: 0.01, BatchSize: 16, Epochs: 2, Seed: 1}}
	if _, err := tr.Train(context.Background(), reg, reg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x, reg.X.Data) || !slices.Equal(y, reg.Y.Data) {
		t.Error("training a point with the function loss changed the data set")
	}
}

// lossLog records every batch loss a trainer reports.
type lossLog struct{ losses []float64 } // losses[i] is iteration i+1's

func (l *lossLog) Iteration(s framework.IterationStats) { l.losses = append(l.losses, s.Loss) }
func (l *lossLog) Epoch(framework.EpochStats)           {}

// LastFiniteLoss is the batch loss of the last update made: the iteration
// before a diverging batch loss (NaN or exploding, though the exploding
// one is finite), the diverging iteration itself when the validation loss
// after it diverged, NaN when the first iteration diverged or the trial
// did not diverge.
func TestLastFiniteLoss(t *testing.T) {
	lin, _ := data.Synthetic("linear", 200, 0.1, 1)
	nanAt := func(d *framework.Dataset, row int) *framework.Dataset {
		c := *d
		c.X = &mat.Matrix{Rows: d.X.Rows, Cols: d.X.Cols, Data: slices.Clone(d.X.Data)}
		c.X.Row(row)[0] = float32(math.NaN())
		return &c
	}
	model := []framework.LayerSpec{dense(8, "he"), act("relu"), dense(1, "he")}
	for _, c := range []struct {
		name       string
		cfg        framework.TrainConfig
		train, val *framework.Dataset
		// wantAt is the iteration whose loss LastFiniteLoss must be
		// relative to the diverged one (-1: the one before, 0: itself);
		// none: LastFiniteLoss is NaN
		wantAt   int
		none     bool
		diverged bool
	}{
		{name: "exploding (finite) batch loss", cfg: framework.TrainConfig{LearningRate: 5, BatchSize: 10, Epochs: 20, DivergeFactor: 2},
			train: lin, wantAt: -1, diverged: true},
		{name: "non-finite batch loss", cfg: framework.TrainConfig{LearningRate: 50, BatchSize: 10, Epochs: 20, DivergeFactor: -1},
			train: lin, wantAt: -1, diverged: true},
		{name: "first batch loss NaN", cfg: framework.TrainConfig{LearningRate: 0.01, BatchSize: 10, Epochs: 2},
			train: nanAt(lin, 0), none: true, diverged: true},
		{name: "validation loss NaN", cfg: framework.TrainConfig{LearningRate: 0.01, BatchSize: 10, Epochs: 2},
			train: lin, val: nanAt(lin, 5), wantAt: 0, diverged: true},
		{name: "completed", cfg: framework.TrainConfig{LearningRate: 0.01, BatchSize: 10, Epochs: 2},
			train: lin, none: true},
	} {
		tr := build(t, model, 3, "mse", "sgd", c.cfg)
		log := &lossLog{}
		tr.Observer = log
		res, err := tr.Train(context.Background(), c.train, c.val)
		if err != nil {
			t.Fatal(err)
		}
		if (res.Status == framework.Diverged) != c.diverged {
			t.Fatalf("%s: status %s", c.name, res.Status)
		}
		if c.diverged && (res.DivergedIteration != len(log.losses) || res.Iterations != res.DivergedIteration) {
			t.Errorf("%s: diverged at %d after %d reported losses, %d iterations", c.name, res.DivergedIteration, len(log.losses), res.Iterations)
		}
		if c.none {
			if !math.IsNaN(res.LastFiniteLoss) {
				t.Errorf("%s: last finite loss %v, want NaN (none)", c.name, res.LastFiniteLoss)
			}
			continue
		}
		want := log.losses[res.DivergedIteration-1+c.wantAt]
		if res.LastFiniteLoss != want || math.IsNaN(want) || math.IsInf(want, 0) {
			t.Errorf("%s: last finite loss %v, want iteration %d's %v (the diverging one's is %v)", c.name,
				res.LastFiniteLoss, res.DivergedIteration+c.wantAt, want, log.losses[res.DivergedIteration-1])
		}
		if l := log.losses[res.DivergedIteration-1]; c.val == nil && (math.IsNaN(l) || math.IsInf(l, 0)) == (c.cfg.DivergeFactor > 0) {
			t.Errorf("%s: the diverging loss is %v; the case wants it finite only when it explodes past diverge_factor", c.name, l)
		}
	}
}
