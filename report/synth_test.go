package report

import (
	"fmt"
	"math"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// synthSpec describes a made-up sweep: smooth curves, SGD noise, and
// divergence where the learning rate is too large for the batch size.
type synthSpec struct {
	name      string
	lrs       []float64
	batches   []int // 0 means the string "full"
	opts      []string
	repeats   int
	epochs    int
	n         int  // training samples
	batchLoss bool // record per-iteration batch loss
	maxBatch  int  // thin the batch loss to about this many points (0: all)
	pruned    bool // prune one trial half-way
	config    string
}

// noise is a deterministic pseudo-random number in [-1, 1) (splitmix64),
// independent of Go's random number generators.
func noise(keys ...uint64) float64 {
	x := uint64(0x9e3779b97f4a7c15)
	for _, k := range keys {
		x ^= k + 0x9e3779b97f4a7c15 + (x << 6) + (x >> 2)
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		x = z ^ (z >> 31)
	}
	return float64(x>>11)/float64(1<<52) - 1
}

func synth(s synthSpec) *framework.SweepData {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &framework.SweepData{Info: framework.SweepInfo{Name: s.name, ConfigHash: "c0ffee", Seed: 7, Started: base,
		Config: s.config}}
	if d.Info.Config == "" {
		d.Info.Config = fmt.Sprintf("name: %s\ngrid:\n  training.learning_rate: %v\n  training.batch_size: %v\n  optimizer.type: %v\nrepeats: %d\n",
			s.name, s.lrs, s.batches, s.opts, s.repeats)
	}
	point, index := 0, 0
	clock := base
	for _, opt := range s.opts {
		for _, lr := range s.lrs {
			for _, b := range s.batches {
				for rep := range s.repeats {
					t := synthTrial(s, opt, lr, b, point, rep, index)
					t.Started = clock
					clock = clock.Add(time.Duration(t.Seconds * float64(time.Second)))
					t.Ended = clock
					d.Trials = append(d.Trials, t)
					index++
				}
				point++
			}
		}
	}
	return d
}

func synthTrial(s synthSpec, opt string, lr float64, b, point, rep, index int) framework.TrialData {
	batch := b
	var bparam any = b
	if b == 0 {
		batch, bparam = s.n, "full"
	}
	ipe := (s.n + batch - 1) / batch
	optScale := map[string]float64{"sgd": 1, "adam": 0.7, "momentum": 0.85}[opt]
	if optScale == 0 {
		optScale = 0.8
	}
	inst := lr * optScale / math.Sqrt(float64(batch))
	diverge := inst > 0.9 || (inst > 0.6 && rep%2 == 1)
	speed := math.Min(lr*map[bool]float64{true: 2.5, false: 1}[opt == "adam"], 1.5) * 0.35
	floor := 0.04 + 0.012*math.Log2(float64(batch)) + 0.01*noise(uint64(point), 1)
	const l0 = 2.3
	trainAt := func(it float64) float64 {
		return 0.8*floor + (l0-0.8*floor)*math.Exp(-speed*math.Sqrt(it))
	}
	seed := uint64(index)*7919 + 13
	tr := framework.TrialData{
		Plan: framework.TrialPlan{ID: fmt.Sprintf("t%03d", index), Sweep: s.name, Index: index, Point: point, Repeat: rep, Seed: seed,
			Params: map[string]any{"training.learning_rate": lr, "training.batch_size": bparam, "training.epochs": s.epochs,
				"optimizer.type": opt, "model.hidden": 32},
			Varied: []string{"training.learning_rate", "training.batch_size", "optimizer.type"}},
		Status: framework.Completed, StopReason: "max_epochs", BestValLoss: math.NaN(), LastFiniteLoss: math.NaN(),
		TimeToTarget: math.NaN(),
	}
	epochs := s.epochs
	divEpoch := 0
	if diverge {
		divEpoch = 2
		epochs = 1
	}
	if s.pruned && opt == s.opts[len(s.opts)-1] && lr == s.lrs[0] && b == s.batches[len(s.batches)-1] && rep == 0 {
		epochs = max(1, s.epochs/2)
		tr.Status, tr.StopReason = framework.Pruned, "pruned"
	}
	var secs float64
	it := 0
	for e := 1; e <= epochs; e++ {
		var sum float64
		for k := range ipe {
			it++
			l := trainAt(float64(it))
			if diverge {
				l = l0 * math.Exp(8*float64(it)/float64(ipe*divEpoch))
			}
			bl := l * math.Exp(0.6/math.Sqrt(float64(batch))*noise(seed, uint64(it)))
			sum += bl
			if s.batchLoss {
				tr.BatchLoss = append(tr.BatchLoss, framework.IterationStats{Epoch: e, Iteration: it, BatchSize: min(batch, s.n-k*batch),
					Loss: bl, Seconds: 2e-4})
			}
			tr.LastFiniteLoss = bl
		}
		es := 2e-4*float64(ipe) + 1e-5*float64(s.n) + 1e-4*(1+noise(seed, uint64(e), 9))
		secs += es
		train := sum / float64(ipe)
		val := trainAt(float64(it))*(1+0.03*noise(seed, uint64(e), 3)) + 0.2*floor
		if diverge {
			val = train * 1.4
		}
		st := framework.EpochStats{Epoch: e, Iteration: it, Samples: it * 0, TrainLoss: train, ValLoss: val,
			TrainAccuracy: math.NaN(), ValAccuracy: math.Max(0, 1-val/2), Seconds: secs, EpochSeconds: es}
		st.Samples = e * s.n
		tr.EpochSeries = append(tr.EpochSeries, st)
		if math.IsNaN(tr.BestValLoss) || val < tr.BestValLoss {
			tr.BestValLoss = val
		}
	}
	if diverge {
		// The batch loss explodes during the second epoch.
		for k := 0; k < ipe/2+1; k++ {
			it++
			l := l0 * math.Exp(8*float64(it)/float64(ipe*divEpoch))
			if s.batchLoss {
				tr.BatchLoss = append(tr.BatchLoss, framework.IterationStats{Epoch: 2, Iteration: it, BatchSize: batch, Loss: l, Seconds: 2e-4})
			}
			tr.LastFiniteLoss = l
		}
		it++
		tr.Status, tr.StopReason, tr.DivergedIteration = framework.Diverged, "diverged", it
	}
	if s.maxBatch > 0 && len(tr.BatchLoss) > s.maxBatch {
		k := (len(tr.BatchLoss) + s.maxBatch - 1) / s.maxBatch
		var thinned []framework.IterationStats
		for i := 0; i < len(tr.BatchLoss); i += k {
			thinned = append(thinned, tr.BatchLoss[i])
		}
		tr.BatchLoss = thinned
	}
	tr.Epochs = len(tr.EpochSeries)
	tr.Iterations = it
	tr.Samples = it * batch
	tr.Seconds = secs
	if n := len(tr.EpochSeries); n > 0 {
		tr.Final = tr.EpochSeries[n-1]
	} else {
		tr.Final = framework.EpochStats{TrainLoss: math.NaN(), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}
	}
	return tr
}

// goldenSweep is the small fixed sweep of the golden pictures: 3 learning
// rates × 3 batch sizes (SGD, mini-batch, full batch) × 2 optimizers × 2
// repeats; SGD at lr 1 diverges, Adam at lr 1 batch 1 diverges in one
// repeat, one trial is pruned.
func goldenSweep() *framework.SweepData {
	d := synth(synthSpec{name: "golden", lrs: []float64{0.01, 0.1, 1}, batches: []int{1, 8, 64}, opts: []string{"sgd", "adam"},
		repeats: 2, epochs: 8, n: 64, batchLoss: true, pruned: true})
	return d
}
