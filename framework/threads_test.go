package framework_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/internal/gemm"
	"github.com/gradsweep/gradsweep/internal/threads"
)

// trained is what a training leaves: every batch loss, the final losses
// and every weight.
type trained struct {
	losses []float64
	final  framework.EpochStats
	params [][]float32
}

func trainWith(t *testing.T, nThreads int, mk func() *framework.Trainer, train, val *framework.Dataset) trained {
	t.Helper()
	defer threads.SetLimit(threads.SetLimit(nThreads))
	tr := mk()
	log := &lossLog{}
	tr.Observer = log
	res, err := tr.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	out := trained{losses: log.losses, final: res.Final}
	for _, p := range tr.Model.Params() {
		out.params = append(out.params, append([]float32(nil), p.Value...))
	}
	return out
}

func sameTraining(t *testing.T, what string, got, want trained) {
	t.Helper()
	if len(got.losses) != len(want.losses) || len(got.params) != len(want.params) {
		t.Fatalf("%s: %d losses and %d parameters, want %d and %d", what, len(got.losses), len(got.params), len(want.losses), len(want.params))
	}
	for i, l := range got.losses {
		if math.Float64bits(l) != math.Float64bits(want.losses[i]) {
			t.Fatalf("%s: batch loss %d = %v, want %v bit for bit", what, i+1, l, want.losses[i])
		}
	}
	for _, c := range [][2]float64{{got.final.TrainLoss, want.final.TrainLoss}, {got.final.ValLoss, want.final.ValLoss}, {got.final.ValAccuracy, want.final.ValAccuracy}} {
		if math.Float64bits(c[0]) != math.Float64bits(c[1]) {
			t.Fatalf("%s: final stats %+v, want %+v", what, got.final, want.final)
		}
	}
	for i, p := range got.params {
		for j, v := range p {
			if math.Float32bits(v) != math.Float32bits(want.params[i][j]) {
				t.Fatalf("%s: parameter %d[%d] = %v, want %v bit for bit", what, i, j, v, want.params[i][j])
			}
		}
	}
}

// TestThreadsBitIdentical trains with every layer, every loss and every
// optimizer on 1, 2 and 3 threads, every matrix product split (no size
// threshold): the batch losses, the final statistics and every weight must
// be the same bits. Odd widths and a partial last batch put the split
// boundaries everywhere.
func TestThreadsBitIdentical(t *testing.T) {
	defer gemm.SetSplitThreshold(gemm.SetSplitThreshold(1))
	cls, _ := data.Synthetic("spirals", 203, 0.1, 7)
	train, val, _ := data.Split(cls, 0.25, 1)
	type config struct {
		layer, loss, opt string
	}
	var configs []config
	for _, l := range framework.Layers.Names() {
		configs = append(configs, config{l, "cross_entropy", "adam"})
	}
	for _, l := range framework.Losses.Names() {
		if l != "function" { // a point model's loss: below
			configs = append(configs, config{"tanh", l, "momentum"})
		}
	}
	for _, o := range framework.Optimizers.Names() {
		configs = append(configs, config{"relu", "mse", o})
	}
	for _, c := range configs {
		mid := act(c.layer)
		switch c.layer {
		case "dense":
			mid = dense(33, "xavier")
		case "point":
			continue // no matrix product: below, with the function loss
		}
		mk := func() *framework.Trainer {
			return build(t, []framework.LayerSpec{dense(67, "he"), mid, dense(len(train.Classes), "he")}, train.X.Cols, c.loss, c.opt,
				framework.TrainConfig{LearningRate: 0.02, BatchSize: 29, Epochs: 3, Shuffle: true, Seed: 5})
		}
		want := trainWith(t, 1, mk, train, val)
		for _, n := range []int{2, 3} {
			sameTraining(t, fmt.Sprintf("%s/%s/%s on %d threads", c.layer, c.loss, c.opt, n), trainWith(t, n, mk, train, val), want)
		}
	}
	// the point layer and the function loss
	reg, _ := data.Synthetic("linear", 64, 0.1, 3)
	mk := func() *framework.Trainer {
		m, err := framework.NewModel(framework.Layers, []framework.LayerSpec{{Type: "point", Options: map[string]any{"start": []any{-1.5, 2.0}}}}, reg.X.Cols, framework.NewTrainRand(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		l, _ := framework.Losses.New("function", map[string]any{"function": "rosenbrock"})
		o, _ := framework.Optimizers.New("adam", nil)
		return &framework.Trainer{Model: m, Loss: l, Optimizer: o, Config: framework.TrainConfig{LearningRate: 0.01, BatchSize: 16, Epochs: 2, Seed: 1}}
	}
	want := trainWith(t, 1, mk, reg, nil)
	for _, n := range []int{2, 3} {
		sameTraining(t, fmt.Sprintf("point/function/adam on %d threads", n), trainWith(t, n, mk, reg, nil), want)
	}
}

// TestThreadedStepAllocatesNothing: with threads lent to every product, a
// training step still allocates nothing after warm-up.
func TestThreadedStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops items: allocation counts mean nothing")
	}
	defer gemm.SetSplitThreshold(gemm.SetSplitThreshold(1))
	defer threads.SetLimit(threads.SetLimit(3))
	d, _ := data.Synthetic("spirals", 256, 0.1, 5)
	tr := build(t, []framework.LayerSpec{dense(64, "he"), act("relu"), dense(48, "he"), act("tanh"), dense(2, "xavier")}, 2, "cross_entropy", "adam",
		framework.TrainConfig{LearningRate: 0.01, BatchSize: 32, Epochs: 1000, Shuffle: true, Seed: 1})
	ctx := context.Background()
	epoch := 1
	if _, err := tr.TrainUntil(ctx, d, nil, epoch); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(5, func() { epoch++; tr.TrainUntil(ctx, d, nil, epoch) }); allocs != 0 {
		t.Errorf("%v allocations per epoch of 8 split steps after warm-up, want 0", allocs)
	}
}
