package framework_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
)

// layerRecorder keeps every LayerStats it is given.
type layerRecorder struct {
	iterations []int
	stats      [][]framework.LayerStats
}

func (r *layerRecorder) Iteration(framework.IterationStats) {}
func (r *layerRecorder) Epoch(framework.EpochStats)         {}
func (r *layerRecorder) Layers(it int, s []framework.LayerStats) {
	r.iterations = append(r.iterations, it)
	r.stats = append(r.stats, slices.Clone(s))
}

// torchLayerStats trains the MLP 2-8-ReLU-8-tanh-2 as the Go test does
// (plain SGD, unshuffled batches) and prints, per update and per Linear
// layer, p.grad.norm(), the weight's norm after the step, ‖ΔW‖/‖W‖ and
// the fraction of units inactive for the whole batch in the activation
// that follows (ReLU: output 0; tanh: |z| > 2).
const torchLayerStats = `
import json, sys, torch
cfg = json.load(sys.stdin)
torch.set_num_threads(1)
x = torch.tensor(cfg['x'], dtype=torch.float32); y = torch.tensor(cfg['y'])
model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
model.load_state_dict({k: torch.tensor(v['data'], dtype=torch.float32).reshape(v['shape']) for k, v in cfg['init'].items()})
opt = torch.optim.SGD(model.parameters(), lr=cfg['lr'])
loss_fn = torch.nn.CrossEntropyLoss()
B, out = cfg['batch'], []
for epoch in range(cfg['epochs']):
    for i in range(-(-x.shape[0] // B)):
        xb, yb = x[i*B:(i+1)*B], y[i*B:(i+1)*B]
        z0 = model[0](xb); z2 = model[2](model[1](z0))
        dead = [float(((z0 <= 0).all(0)).float().mean()), float(((z2.abs() > 2).all(0)).float().mean()), None]
        opt.zero_grad(); loss_fn(model(xb), yb).backward()
        ws = [model[k].weight for k in (0, 2, 4)]
        grads = [float(w.grad.norm()) for w in ws]
        before = [w.detach().clone() for w in ws]
        opt.step()
        out.append([[g, float(w.norm()), float((w.detach() - b).norm() / w.norm()), d] for g, w, b, d in zip(grads, ws, before, dead)])
print(json.dumps(out))
`

// The layer statistics equal PyTorch's on the same MLP from the same
// weights on the same batches: p.grad.norm() and the weight norm to 1e-6,
// the update ratio to 1e-5 (a difference of nearly equal weights), the
// dead and saturated fractions exactly.
func TestLayerStatsAgainstPyTorch(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: scripts/test.sh installs python3-torch", python)
	}
	d, err := data.Synthetic("spirals", 64, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	tr := build(t, []framework.LayerSpec{dense(8, "uniform"), act("relu"), dense(8, "uniform"), act("tanh"), dense(2, "uniform")}, 2, "cross_entropy", "sgd",
		framework.TrainConfig{LearningRate: 0.5, BatchSize: 16, Epochs: 3, DivergeFactor: -1, Seed: 4})
	init := map[string]any{}
	for _, p := range tr.Model.Params() {
		init[p.Name] = map[string]any{"shape": p.Shape, "data": slices.Clone(p.Value)}
	}
	rec := &layerRecorder{}
	tr.Observer, tr.LayerStatsEvery = rec, 1
	if _, err := tr.Train(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	xs := make([][]float32, d.Len())
	for i := range xs {
		xs[i] = d.X.Row(i)
	}
	in, _ := json.Marshal(map[string]any{"x": xs, "y": d.Labels, "init": init, "lr": 0.5, "batch": 16, "epochs": 3})
	cmd := exec.Command(python, "-c", torchLayerStats)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=SkylakeX")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("torch: %v", err)
	}
	var torch [][][4]*float64
	if err := json.Unmarshal(out, &torch); err != nil {
		t.Fatal(err)
	}
	if len(torch) != 12 || len(rec.stats) != 12 {
		t.Fatalf("%d updates measured, torch %d, want 12", len(rec.stats), len(torch))
	}
	for u, layers := range rec.stats {
		if rec.iterations[u] != u+1 {
			t.Fatalf("measurement %d is of update %d", u, rec.iterations[u])
		}
		if len(layers) != 3 {
			t.Fatalf("%d layers measured, want 3", len(layers))
		}
		for k, s := range layers {
			want := torch[u][k]
			if s.Layer != 2*k {
				t.Errorf("layer %d has index %d, want %d", k, s.Layer, 2*k)
			}
			for i, got := range []float64{s.GradNorm, s.WeightNorm, s.UpdateRatio} {
				tol := []float64{1e-6, 1e-6, 1e-5}[i]
				if math.Abs(got-*want[i]) > tol**want[i] {
					t.Errorf("update %d layer %d: %s %v, torch %v", u+1, s.Layer, []string{"‖∇W‖", "‖W‖", "‖ΔW‖/‖W‖"}[i], got, *want[i])
				}
			}
			if want[3] == nil {
				if !math.IsNaN(s.DeadFraction) {
					t.Errorf("update %d layer %d: dead fraction %v with no activation after it", u+1, s.Layer, s.DeadFraction)
				}
			} else if s.DeadFraction != *want[3] {
				t.Errorf("update %d layer %d: dead fraction %v, torch %v", u+1, s.Layer, s.DeadFraction, *want[3])
			}
		}
	}
}

// firstToLast is the ratio of the first dense layer's gradient norm to
// the last one's at the first update of a 10-layer MLP on digits with the
// activation act and initialisation init.
func firstToLast(t *testing.T, activation, init string) float64 {
	d, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	var layers []framework.LayerSpec
	for range 9 {
		layers = append(layers, dense(32, init), act(activation))
	}
	layers = append(layers, dense(10, init))
	tr := build(t, layers, 64, "cross_entropy", "sgd", framework.TrainConfig{LearningRate: 0.01, BatchSize: 128, Epochs: 1, Seed: 1})
	rec := &layerRecorder{}
	tr.Observer, tr.LayerStatsEvery = rec, 1000
	if _, err := tr.Train(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.stats) != 1 || len(rec.stats[0]) != 10 {
		t.Fatalf("%d measurements, want 1 (the first update) of 10 layers", len(rec.stats))
	}
	s := rec.stats[0]
	return s[0].GradNorm / s[9].GradNorm
}

// The chain rule, measured: through nine sigmoids (σ' ≤ 1/4) the gradient
// vanishes before it reaches the first layer; through ReLUs with He
// initialisation it does not.
func TestGradientFlowVanishesThroughSigmoids(t *testing.T) {
	r := firstToLast(t, "sigmoid", "uniform")
	t.Logf("sigmoid: %.3g", r)
	if !(r < 1e-2) {
		t.Errorf("sigmoid: first-to-last gradient norm ratio %v, want < 1e-2", r)
	}
	r = firstToLast(t, "relu", "he")
	t.Logf("relu + he: %.3g", r)
	if !(r > 1e-1) {
		t.Errorf("relu + he: first-to-last gradient norm ratio %v, want > 1e-1", r)
	}
}

// Measuring the layers every 4 updates keeps the training step
// allocation-free too.
func TestLayerStatsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race allocation counts mean nothing")
	}
	d, _ := data.Synthetic("spirals", 256, 0.1, 5)
	tr := build(t, []framework.LayerSpec{dense(32, "he"), act("relu"), dense(16, "he"), act("sigmoid"), dense(2, "xavier")}, 2, "cross_entropy", "adam",
		framework.TrainConfig{LearningRate: 0.01, BatchSize: 32, Epochs: 1000, Shuffle: true, Seed: 1})
	obs := &countingLayers{}
	tr.Observer, tr.LayerStatsEvery = obs, 4
	ctx := context.Background()
	epoch := 1
	if _, err := tr.TrainUntil(ctx, d, nil, epoch); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(5, func() { epoch++; tr.TrainUntil(ctx, d, nil, epoch) }); allocs != 0 {
		t.Errorf("%v allocations per epoch with layer stats, want 0", allocs)
	}
	// 7 epochs of 8 updates (AllocsPerRun runs once more to warm up):
	// the first update, then every 4th.
	if obs.n != 1+7*8/4 {
		t.Errorf("%d measurements, want 15", obs.n)
	}
}

type countingLayers struct{ n int }

func (c *countingLayers) Iteration(framework.IterationStats) {}
func (c *countingLayers) Epoch(framework.EpochStats)         {}
func (c *countingLayers) Layers(int, []framework.LayerStats) { c.n++ }

// Measuring changes nothing: the weights after training are bit-identical
// with and without layer statistics.
func TestLayerStatsChangeNoResult(t *testing.T) {
	d, _ := data.Synthetic("spirals", 128, 0.1, 2)
	weights := func(every int) []float32 {
		tr := build(t, []framework.LayerSpec{dense(16, "he"), act("relu"), dense(8, "uniform"), act("tanh"), dense(2, "xavier")}, 2, "cross_entropy", "adam",
			framework.TrainConfig{LearningRate: 0.01, BatchSize: 16, Epochs: 3, Shuffle: true, Seed: 3})
		tr.Observer, tr.LayerStatsEvery = &layerRecorder{}, every
		if _, err := tr.Train(context.Background(), d, nil); err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, p := range tr.Model.Params() {
			w = append(w, p.Value...)
		}
		return w
	}
	off, on := weights(0), weights(1)
	for i := range off {
		if math.Float32bits(off[i]) != math.Float32bits(on[i]) {
			t.Fatalf("weight %d: %v without layer stats, %v with", i, off[i], on[i])
		}
	}
}

// BenchmarkLayerStats measures the cost of layer_stats_every: 64 on the
// digits MLP 64-64-ReLU-10 trained by SGD at batch 32. Three trainers from
// the same seed train the same epochs (measuring changes no result):
// without layer statistics, measuring every 64 updates, and measuring every
// update; each loop trains one epoch of each, in rotating order, so the
// load of a shared machine falls on all alike. It reports the median epoch
// time without (ns/epoch-off) and the cost of N = 64 in percent of it two
// ways: cost-% is the median of the paired differences of the epochs with
// N = 64 and without, the direct comparison, but on a busy machine a
// difference of two noisy times that varies by about ±1% from run to run
// (two trainers both off differ as much); cost-%-via-N=1 is the median
// difference with N = 1, 64 times the signal, divided by 64: what 64
// updates pay for one measurement, made in the course of training. The two
// agree up to that noise, since between measurements a step only checks
// whether one is due.
func BenchmarkLayerStats(b *testing.B) {
	d, err := data.Builtin("digits")
	if err != nil {
		b.Fatal(err)
	}
	everies := [3]int{0, 64, 1}
	var trainers [3]*framework.Trainer
	for k, every := range everies {
		trainers[k] = build(b, []framework.LayerSpec{dense(64, "he"), act("relu"), dense(10, "uniform")}, 64, "cross_entropy", "sgd",
			framework.TrainConfig{LearningRate: 0.01, BatchSize: 32, Epochs: 1 << 30, Shuffle: true, Seed: 1})
		trainers[k].Observer, trainers[k].LayerStatsEvery = &countingLayers{}, every
	}
	ctx := context.Background()
	var off, diff64, diff1 []float64
	epoch := 0
	for b.Loop() {
		epoch++
		var ns [3]float64
		for i := range 3 {
			k := (i + epoch) % 3
			start := time.Now()
			trainers[k].TrainUntil(ctx, d, nil, epoch)
			ns[k] = float64(time.Since(start).Nanoseconds())
		}
		off, diff64, diff1 = append(off, ns[0]), append(diff64, ns[1]-ns[0]), append(diff1, ns[2]-ns[0])
	}
	updates := epoch * framework.IterationsPerEpoch(d.Len(), 32, false)
	if n64, n1 := trainers[1].Observer.(*countingLayers).n, trainers[2].Observer.(*countingLayers).n; n64 != 1+updates/64 || n1 != updates {
		b.Fatalf("%d and %d measurements in %d updates", n64, n1, updates)
	}
	median := func(x []float64) float64 {
		slices.Sort(x)
		return (x[(len(x)-1)/2] + x[len(x)/2]) / 2
	}
	mOff := median(off)
	b.ReportMetric(mOff, "ns/epoch-off")
	b.ReportMetric(100*median(diff64)/mOff, "cost-%")
	b.ReportMetric(100*median(diff1)/64/mOff, "cost-%-via-N=1")
}
