package framework

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/threads"
)

// TrainConfig is how one trial trains. The zero value of each optional
// field means "off".
type TrainConfig struct {
	LearningRate float64 `opt:"learning_rate" range:"(0,]" required:"true" doc:"α in w ← w − α·∇L (or the optimizer's rule)"`
	// BatchSize is the number of samples per iteration: 1 is SGD, the data
	// size (or 0, "full") is full-batch gradient descent, anything between
	// is mini-batch gradient descent.
	BatchSize int  `opt:"batch_size" words:"full=0" range:"[1,]" required:"true" doc:"samples per update, at most the training size: 1 is SGD, full (the whole training set) is gradient descent, anything between is mini-batch"`
	Epochs    int  `opt:"epochs" range:"[1,1000000]" required:"true" doc:"passes over the training data"`
	Shuffle   bool `opt:"shuffle" default:"true" doc:"reshuffle the sample order at the start of every epoch, with the trial's seeded generator"`
	DropLast  bool `opt:"drop_last" default:"false" doc:"skip the last partial batch of an epoch"`
	// DivergeFactor marks a finite but exploding loss as divergence: a batch
	// loss above DivergeFactor × max(1, first batch loss). 0 means 1e4;
	// negative disables the check (NaN and ±Inf always diverge).
	DivergeFactor float64 `opt:"diverge_factor" default:"10000" doc:"a finite batch loss above factor × max(1, first batch loss) counts as divergence; negative turns the check off (NaN and ±Inf always diverge)"`
	StopRules     `opt:"stop" doc:"rules that end a trial before its last epoch"`
	Schedule      ScheduleSpec `opt:"schedule" default:"constant" doc:"how the learning rate varies in time: a schedule's NAME or {type: NAME, option: value, ..., interval: epoch|iteration, warmup: {iterations: N, start_factor: f}} (see the schedule plugins)"`
	Seed          uint64
}

// StopRules are the conditions that end a trial before its last epoch,
// the training.stop section of an experiment.
type StopRules struct {
	Patience      int     `opt:"patience" default:"0" range:"[0,1000000]" doc:"early stopping (Keras' rule): stop after this many epochs without the monitored loss (val_loss, else train_loss) improving by more than min_delta; 0 is off"`
	MinDelta      float64 `opt:"min_delta" default:"0" range:"[0,]" doc:"the least improvement that resets patience"`
	TargetLoss    float64 `opt:"target_loss" range:"[0,]" given:"HasTargetLoss" doc:"stop once an epoch's train_loss is at most this, and record the time it took (time_to_target)"`
	HasTargetLoss bool
	MaxSeconds    float64 `opt:"max_seconds" default:"0" range:"[0,]" doc:"wall-time budget of a trial in seconds; 0 is none"`
}

// IterationsPerEpoch is ceil(N/B), or floor(N/B) with dropLast: 1000
// samples at batch size 10 make 100 iterations per epoch, so 3 epochs make
// 300 weight updates.
func IterationsPerEpoch(n, batch int, dropLast bool) int {
	if batch <= 0 || batch > n {
		batch = n
	}
	if dropLast {
		return n / batch
	}
	return (n + batch - 1) / batch
}

// Status is how a trial's training ended.
type Status string

// Trial states. Pending and Running belong to the sweep; the trainer ends
// in one of the others.
const (
	Pending     Status = "pending"
	Running     Status = "running"
	Completed   Status = "completed"
	Diverged    Status = "diverged"
	Failed      Status = "failed"
	Interrupted Status = "interrupted"
	Pruned      Status = "pruned"
)

// IterationStats describe one weight update.
type IterationStats struct {
	Epoch        int     // 1-based epoch the iteration belongs to
	Iteration    int     // 1-based count of weight updates so far
	BatchSize    int     // samples in this batch
	Loss         float64 // batch loss, computed before the update
	Seconds      float64 // duration of the iteration (forward, backward, update)
	LearningRate float64 // the rate of this update (PyTorch's param_groups[0]['lr'] at optimizer.step())
}

// EpochStats describe one finished epoch. Metrics that do not apply
// (no validation split, regression accuracy) are NaN.
type EpochStats struct {
	Epoch         int
	Iteration     int // weight updates so far
	Samples       int // samples seen so far
	TrainLoss     float64
	ValLoss       float64
	TrainAccuracy float64
	ValAccuracy   float64
	Seconds       float64 // wall time since training started
	EpochSeconds  float64
	LearningRate  float64 // the rate of the epoch's last update
}

// Observer receives a trial's progress. Calls come from the training
// goroutine; they must be quick and must not keep the stats' pointers.
// Observers only watch: a trial is stopped by the stop rules of its
// TrainConfig, by its context, or paused by TrainUntil and pruned with
// Trainer.Prune (pruning compares trials, so it is decided between epochs
// by whoever runs them, not by one trial's observer).
type Observer interface {
	Iteration(IterationStats)
	Epoch(EpochStats)
}

// Result is the outcome of one training run.
type Result struct {
	Status     Status
	StopReason string // max_epochs, target_loss, early_stopping, max_seconds, diverged, interrupted, pruned
	Epochs     int    // epochs finished
	Iterations int    // weight updates done
	Samples    int    // samples seen (forward passes in training)
	Seconds    float64

	Final EpochStats // the last finished epoch (NaN metrics if none)

	BestValLoss float64 // lowest val_loss (NaN without validation)
	BestEpoch   int

	// TargetReached is set when train_loss reached TargetLoss; the
	// iterations, samples and seconds it took are kept.
	TargetReached   bool
	TargetIteration int
	TargetSeconds   float64

	// For diverged trials: DivergedIteration is the iteration whose batch
	// loss was NaN, ±Inf or above the diverge_factor bound (that iteration
	// updates nothing), or the epoch's last iteration when the validation
	// loss after it was not finite. LastFiniteLoss is the batch loss of the
	// last weight update made: the last batch loss that passed the check,
	// at DivergedIteration−1 for a diverging batch loss (an exploding one
	// is finite but is not it), at DivergedIteration for a diverging
	// validation loss. NaN if the first iteration diverged, and for trials
	// that did not diverge.
	DivergedIteration int
	LastFiniteLoss    float64
}

// TimeToTarget is the training seconds until train_loss reached the
// target, NaN if it was not reached (or there was no target).
func (r Result) TimeToTarget() float64 {
	if r.TargetReached {
		return r.TargetSeconds
	}
	return math.NaN()
}

// Trainer trains one model. Its buffers are reused across iterations, so a
// training step allocates nothing after the first epoch.
type Trainer struct {
	Model     *Model
	Loss      Loss
	Optimizer Optimizer
	Config    TrainConfig
	Observer  Observer // may be nil
	// Schedule varies the learning rate (nil: Config.LearningRate
	// throughout). It is started with Config.LearningRate and stepped
	// after every epoch, or after every update when
	// Config.Schedule.Interval is "iteration".
	Schedule Schedule
	// LayerStatsEvery measures the weighted layers (LayerStats) at the
	// first update and every LayerStatsEvery-th after it, for an Observer
	// that is a LayerObserver; 0 is off.
	LayerStatsEvery int

	rng   *rand.Rand
	probe *layerProbe
	state *trainState
	order []int
	batch batchBuf
	grad  mat.Matrix
}

// batchBuf holds a batch: the samples' rows copied into buffers reused
// from batch to batch, or, when the samples are consecutive (a pass
// without shuffling, evaluation), views of the dataset's rows, as slicing
// a tensor is in PyTorch.
type batchBuf struct {
	x, y   mat.Matrix // copies
	labels []int32
	xView  mat.Matrix // views: never resized, so nothing writes through them
	yView  mat.Matrix
}

// NewTrainRand is the random source of everything a trial draws (weight
// initialisation, shuffling, dropout), from its seed and a stream number.
func NewTrainRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// gather returns the inputs and targets of the samples idx of d. Layers
// and losses only read them (see Layer), so consecutive samples are
// handed out as views of d rather than copied.
func (b *batchBuf) gather(d *Dataset, idx []int) (*mat.Matrix, Targets) {
	if lo, ok := consecutive(idx); ok {
		return b.rows(d, lo, lo+len(idx))
	}
	cols := d.X.Cols
	b.x.Resize(len(idx), cols)
	for r, i := range idx {
		copy(b.x.Data[r*cols:(r+1)*cols], d.X.Data[i*cols:(i+1)*cols])
	}
	if d.Task == Classification {
		b.labels = b.labels[:0]
		for _, i := range idx {
			b.labels = append(b.labels, d.Labels[i])
		}
		return &b.x, Targets{Labels: b.labels}
	}
	yc := d.Y.Cols
	b.y.Resize(len(idx), yc)
	for r, i := range idx {
		copy(b.y.Data[r*yc:(r+1)*yc], d.Y.Data[i*yc:(i+1)*yc])
	}
	return &b.x, Targets{Values: &b.y}
}

// rows returns the samples [lo, hi) of d as views of its rows.
func (b *batchBuf) rows(d *Dataset, lo, hi int) (*mat.Matrix, Targets) {
	b.xView = rowsView(d.X, lo, hi)
	if d.Task == Classification {
		return &b.xView, Targets{Labels: d.Labels[lo:hi:hi]}
	}
	b.yView = rowsView(d.Y, lo, hi)
	return &b.xView, Targets{Values: &b.yView}
}

// consecutive reports whether idx is lo, lo+1, …, lo+len(idx)-1 (and not
// empty).
func consecutive(idx []int) (lo int, ok bool) {
	if len(idx) == 0 {
		return 0, false
	}
	lo = idx[0]
	for k, i := range idx {
		if i != lo+k {
			return 0, false
		}
	}
	return lo, true
}

// rowsView is rows [lo, hi) of m, sharing its storage (capacity capped, so
// an append cannot reach past them).
func rowsView(m *mat.Matrix, lo, hi int) mat.Matrix {
	return mat.Matrix{Rows: hi - lo, Cols: m.Cols, Data: m.Data[lo*m.Cols : hi*m.Cols : hi*m.Cols]}
}

// Train runs the configured epochs over train, evaluating on val (may be
// nil) after each epoch. It returns an error only for misuse (empty data,
// bad configuration); divergence, interruption (ctx cancelled) and pruning
// are results.
func (t *Trainer) Train(ctx context.Context, train, val *Dataset) (Result, error) {
	return t.TrainUntil(ctx, train, val, t.Config.Epochs)
}

// TrainUntil trains on from where the last call stopped up to epoch until
// (at most the configured epochs), so a pruner can pause trials at rungs.
// A paused trial's result has Status Running. Training ends at the first
// stop rule that fires (see stop.go).
//
// While it trains, the trainer counts as a busy trial of package threads:
// its matrix products may borrow the cores no other training uses, which
// changes no number (they split by output blocks only).
func (t *Trainer) TrainUntil(ctx context.Context, train, val *Dataset, until int) (Result, error) {
	threads.Enter()
	defer threads.Leave()
	if t.state == nil {
		if err := t.begin(train); err != nil {
			return Result{}, err
		}
	}
	st := t.state
	if st.finished {
		return st.res, nil
	}
	clk := clock{before: st.seconds, start: time.Now()}
	defer func() { st.seconds = clk.elapsed() }()
	for epoch := st.epoch + 1; epoch <= min(until, t.Config.Epochs); epoch++ {
		if s := t.epoch(ctx.Done(), train, val, epoch, clk); s != nil {
			return t.finish(s, clk.elapsed()), nil
		}
	}
	if st.epoch >= t.Config.Epochs {
		return t.finish(stopMaxEpochs, clk.elapsed()), nil
	}
	st.res.Status, st.res.StopReason, st.res.Seconds = Running, "paused", clk.elapsed()
	return st.res, nil
}

// epochSums add up an epoch's batches.
type epochSums struct {
	loss          float64 // Σ batch_loss × batch_size, float64
	correct, seen int
}

// epoch trains epoch number epoch (1-based) and evaluates it. It returns
// the stop rule that ends training, or nil to go on.
func (t *Trainer) epoch(done <-chan struct{}, train, val *Dataset, epoch int, clk clock) *stop {
	start := time.Now()
	if t.Config.Shuffle {
		t.rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
	}
	var sums epochSums
	for it := 0; it < t.state.iters; it++ {
		if interrupted(done) {
			return stopInterrupted
		}
		if outOfTime(t.Config.MaxSeconds, clk) {
			return stopOutOfTime
		}
		if !t.step(train, epoch, it, &sums) {
			return stopDiverged
		}
	}
	es := EpochStats{Epoch: epoch, Iteration: t.state.res.Iterations, Samples: t.state.res.Samples,
		TrainLoss: sums.loss / float64(sums.seen), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}
	if train.Task == Classification {
		es.TrainAccuracy = float64(sums.correct) / float64(sums.seen)
	}
	hasVal := val != nil && val.Len() > 0
	if hasVal {
		es.ValLoss, es.ValAccuracy = t.Evaluate(val)
	}
	es.Seconds = clk.elapsed()
	es.EpochSeconds = time.Since(start).Seconds()
	es.LearningRate = t.state.lastLR
	return t.endEpoch(es, hasVal)
}

// step makes the it-th iteration (0-based) of an epoch: a forward pass
// and, unless its batch loss diverges (then it returns false and updates
// nothing), a backward pass and a weight update.
func (t *Trainer) step(train *Dataset, epoch, it int, sums *epochSums) bool {
	st, res := t.state, &t.state.res
	start := time.Now()
	lo := it * st.batch
	hi := min(lo+st.batch, train.Len())
	x, tg := t.batch.gather(train, t.order[lo:hi])
	bs := hi - lo

	pred := t.Model.Forward(x, true)
	loss := t.Loss.Eval(pred, tg, &t.grad)
	res.Iterations++
	res.Samples += bs
	ok := !st.diverge.batch(loss, res.Iterations)
	measure := false
	if ok {
		st.lastLoss = loss
		if tg.Labels != nil {
			sums.correct += countCorrect(t.Loss, pred, tg.Labels)
		}
		t.Model.Backward(&t.grad)
		measure = t.probe.due(res.Iterations)
		if measure {
			t.probe.beforeUpdate()
		}
		t.Optimizer.Step(t.Model.Params(), st.lr)
		sums.loss += loss * float64(bs)
		sums.seen += bs
	} else {
		res.DivergedIteration, res.LastFiniteLoss = res.Iterations, st.lastLoss
	}
	if t.Observer != nil {
		t.Observer.Iteration(IterationStats{Epoch: epoch, Iteration: res.Iterations, BatchSize: bs, Loss: loss,
			Seconds: time.Since(start).Seconds(), LearningRate: st.lr})
	}
	if measure {
		t.probe.afterUpdate(res.Iterations)
	}
	if ok {
		st.lastLR = st.lr
		if st.perIteration {
			t.Schedule.Step(loss)
			st.lr = t.Schedule.Rate()
		}
	}
	return ok
}

// endEpoch records the finished epoch es, tells the observer (unless the
// validation loss diverged) and applies the epoch's stop rules.
func (t *Trainer) endEpoch(es EpochStats, hasVal bool) *stop {
	st, res := t.state, &t.state.res
	st.epoch, res.Epochs, res.Final = es.Epoch, es.Epoch, es
	if st.diverge.validation(es.ValLoss, hasVal) {
		res.DivergedIteration, res.LastFiniteLoss = res.Iterations, st.lastLoss
		return stopDiverged
	}
	if !math.IsNaN(es.ValLoss) && (math.IsNaN(res.BestValLoss) || es.ValLoss < res.BestValLoss) {
		res.BestValLoss, res.BestEpoch = es.ValLoss, es.Epoch
	}
	if t.Observer != nil {
		t.Observer.Epoch(es)
	}
	if t.Schedule != nil && !st.perIteration {
		t.Schedule.Step(es.Monitored())
		st.lr = t.Schedule.Rate()
	}
	if targetReached(t.Config, es.TrainLoss) {
		res.TargetReached, res.TargetIteration, res.TargetSeconds = true, res.Iterations, es.Seconds
		return stopTarget
	}
	if st.patience.exhausted(es) {
		return stopPatience
	}
	return nil
}

// trainState is what carries over between TrainUntil calls.
type trainState struct {
	res          Result
	epoch        int
	iters, batch int
	diverge      divergence
	patience     patience
	lastLoss     float64 // batch loss of the last update made (NaN before the first)
	lr, lastLR   float64 // the rate of the next update; of the last one made
	perIteration bool    // the schedule steps after every update, not every epoch
	seconds      float64
	finished     bool
}

func (t *Trainer) begin(train *Dataset) error {
	cfg := t.Config
	n := train.Len()
	if n == 0 {
		return fmt.Errorf("train: no training samples")
	}
	if cfg.Epochs <= 0 {
		return fmt.Errorf("train: epochs must be ≥ 1, got %d", cfg.Epochs)
	}
	if !(cfg.LearningRate > 0) || math.IsInf(cfg.LearningRate, 0) {
		return fmt.Errorf("train: learning rate must be > 0, got %v", cfg.LearningRate)
	}
	if cfg.BatchSize > n {
		return fmt.Errorf("train: batch size %d is larger than the %d training samples", cfg.BatchSize, n)
	}
	st := &trainState{batch: cfg.BatchSize, diverge: newDivergence(cfg.DivergeFactor),
		patience: newPatience(cfg.Patience, cfg.MinDelta), lastLoss: math.NaN()}
	if st.batch <= 0 {
		st.batch = n
	}
	st.iters = IterationsPerEpoch(n, st.batch, cfg.DropLast)
	if st.iters == 0 {
		return fmt.Errorf("train: drop_last leaves no full batch of %d in %d samples", st.batch, n)
	}
	if t.rng == nil {
		t.rng = NewTrainRand(cfg.Seed, 1)
	}
	t.order = make([]int, n)
	for i := range t.order {
		t.order[i] = i
	}
	st.lr, st.lastLR = cfg.LearningRate, math.NaN()
	if t.Schedule != nil {
		st.perIteration = cfg.Schedule.Interval == IntervalIteration
		steps := cfg.Epochs
		if st.perIteration {
			steps *= st.iters
		}
		t.Schedule.Start(cfg.LearningRate, steps)
		st.lr = t.Schedule.Rate()
	}
	t.probe = newLayerProbe(t.Model, t.LayerStatsEvery, t.Observer)
	st.res = Result{Status: Running, BestValLoss: math.NaN(), LastFiniteLoss: math.NaN(),
		Final: EpochStats{TrainLoss: math.NaN(), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}}
	t.state = st
	return nil
}

// Prune ends a paused trial as pruned.
func (t *Trainer) Prune() Result {
	if t.state == nil {
		return Result{Status: stopPruned.status, StopReason: stopPruned.reason}
	}
	return t.finish(stopPruned, t.state.seconds)
}

// finish ends training by the stop rule s after seconds of training.
func (t *Trainer) finish(s *stop, seconds float64) Result {
	t.state.finished = true
	t.state.res.Status, t.state.res.StopReason, t.state.res.Seconds = s.status, s.reason, seconds
	return t.state.res
}

// evalChunk bounds the rows evaluated at once, so evaluating a large
// validation set does not need a buffer of its full size.
const evalChunk = 1024

// Evaluate returns the mean loss and (for classification) the accuracy of
// the model on d, in evaluation mode (no dropout). The loss is the
// sample-weighted mean of chunk losses, accumulated in float64.
func (t *Trainer) Evaluate(d *Dataset) (loss, accuracy float64) {
	n := d.Len()
	var sum float64
	correct := 0
	for lo := 0; lo < n; lo += evalChunk {
		hi := min(lo+evalChunk, n)
		x, tg := t.batch.rows(d, lo, hi)
		pred := t.Model.Forward(x, false)
		sum += t.Loss.Eval(pred, tg, &t.grad) * float64(hi-lo)
		if tg.Labels != nil {
			correct += countCorrect(t.Loss, pred, tg.Labels)
		}
	}
	accuracy = math.NaN()
	if d.Task == Classification {
		accuracy = float64(correct) / float64(n)
	}
	return sum / float64(n), accuracy
}

// countCorrect counts rows whose prediction matches the label, each row
// read as a class by the loss (Loss.Class).
func countCorrect(loss Loss, pred *mat.Matrix, labels []int32) int {
	c := 0
	for i, lab := range labels {
		if loss.Class(pred.Row(i)) == lab {
			c++
		}
	}
	return c
}
