package framework

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gradsweep/gradsweep/framework/mat"
)

// TrainConfig is how one trial trains. The zero value of each optional
// field means "off".
type TrainConfig struct {
	LearningRate float64 // α in w ← w − α·∇L (or the optimizer's rule)
	// BatchSize is the number of samples per iteration: 1 is SGD, the data
	// size (or 0, "full") is full-batch gradient descent, anything between
	// is mini-batch gradient descent.
	BatchSize int
	Epochs    int  // passes over the training data
	Shuffle   bool // reshuffle the sample order at the start of every epoch
	DropLast  bool // skip the last partial batch of an epoch
	Seed      uint64

	TargetLoss    float64 // stop once an epoch's train_loss ≤ TargetLoss (if HasTargetLoss)
	HasTargetLoss bool
	Patience      int     // early stopping: epochs without val_loss improving by > MinDelta
	MinDelta      float64 // minimum improvement that resets patience
	MaxSeconds    float64 // wall-time budget of the trial
	// DivergeFactor marks a finite but exploding loss as divergence: a batch
	// loss above DivergeFactor × max(1, first batch loss). 0 means 1e4;
	// negative disables the check (NaN and ±Inf always diverge).
	DivergeFactor float64
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
	Epoch     int     // 1-based epoch the iteration belongs to
	Iteration int     // 1-based count of weight updates so far
	BatchSize int     // samples in this batch
	Loss      float64 // batch loss, computed before the update
	Seconds   float64 // duration of the iteration (forward, backward, update)
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
}

// Decision is an observer's verdict after an epoch.
type Decision int

// Continue trains on; Prune stops the trial as pruned.
const (
	Continue Decision = iota
	Prune
)

// Observer receives a trial's progress. Calls come from the training
// goroutine; they must be quick and must not keep the stats' pointers.
type Observer interface {
	Iteration(IterationStats)
	Epoch(EpochStats) Decision
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

	// For diverged trials: the iteration whose loss was not finite (or
	// exploded), and the last finite batch loss before it (NaN if none).
	DivergedIteration int
	LastFiniteLoss    float64
}

// Trainer trains one model. Its buffers are reused across iterations, so a
// training step allocates nothing after the first epoch.
type Trainer struct {
	Model     *Model
	Loss      Loss
	Optimizer Optimizer
	Config    TrainConfig
	Observer  Observer // may be nil

	rng   *rand.Rand
	order []int
	batch batchBuf
	grad  mat.Matrix
}

type batchBuf struct {
	x      mat.Matrix
	y      mat.Matrix
	labels []int32
}

// NewTrainRand is the random source of everything a trial draws (weight
// initialisation, shuffling, dropout), from its seed and a stream number.
func NewTrainRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// gather copies the samples idx of d into the batch buffers.
func (b *batchBuf) gather(d *Dataset, idx []int) Targets {
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
		return Targets{Labels: b.labels}
	}
	yc := d.Y.Cols
	b.y.Resize(len(idx), yc)
	for r, i := range idx {
		copy(b.y.Data[r*yc:(r+1)*yc], d.Y.Data[i*yc:(i+1)*yc])
	}
	return Targets{Values: &b.y}
}

// Train runs the configured epochs over train, evaluating on val (may be
// nil) after each epoch. It returns an error only for misuse (empty data,
// bad configuration); divergence, interruption (ctx cancelled) and pruning
// are results.
func (t *Trainer) Train(ctx context.Context, train, val *Dataset) (Result, error) {
	cfg := t.Config
	n := train.Len()
	if n == 0 {
		return Result{}, fmt.Errorf("train: no training samples")
	}
	if cfg.Epochs <= 0 {
		return Result{}, fmt.Errorf("train: epochs must be ≥ 1, got %d", cfg.Epochs)
	}
	if !(cfg.LearningRate > 0) || math.IsInf(cfg.LearningRate, 0) {
		return Result{}, fmt.Errorf("train: learning rate must be > 0, got %v", cfg.LearningRate)
	}
	if cfg.BatchSize > n {
		return Result{}, fmt.Errorf("train: batch size %d is larger than the %d training samples", cfg.BatchSize, n)
	}
	batch := cfg.BatchSize
	if batch <= 0 {
		batch = n
	}
	iters := IterationsPerEpoch(n, batch, cfg.DropLast)
	if iters == 0 {
		return Result{}, fmt.Errorf("train: drop_last leaves no full batch of %d in %d samples", batch, n)
	}
	divergeFactor := cfg.DivergeFactor
	if divergeFactor == 0 {
		divergeFactor = 1e4
	}
	if t.rng == nil {
		t.rng = NewTrainRand(cfg.Seed, 1)
	}
	if len(t.order) != n {
		t.order = make([]int, n)
	}
	for i := range t.order {
		t.order[i] = i
	}

	res := Result{Status: Completed, StopReason: "max_epochs", BestValLoss: math.NaN(), LastFiniteLoss: math.NaN(),
		Final: EpochStats{TrainLoss: math.NaN(), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}}
	start := time.Now()
	explodeAt := math.Inf(1)
	sinceBest, bestMonitored := 0, math.NaN()
	params := t.Model.Params()
	lr := cfg.LearningRate
	done := ctx.Done()

	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		epochStart := time.Now()
		if cfg.Shuffle {
			t.rng.Shuffle(n, func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
		}
		var lossSum float64 // Σ batch_loss × batch_size, float64
		var correct, seen int
		for it := 0; it < iters; it++ {
			select {
			case <-done:
				return t.finish(res, Interrupted, "interrupted", start), nil
			default:
			}
			if cfg.MaxSeconds > 0 && time.Since(start).Seconds() >= cfg.MaxSeconds {
				return t.finish(res, Completed, "max_seconds", start), nil
			}
			iterStart := time.Now()
			lo := it * batch
			hi := min(lo+batch, n)
			tg := t.batch.gather(train, t.order[lo:hi])
			bs := hi - lo

			pred := t.Model.Forward(&t.batch.x, true)
			loss := t.Loss.Eval(pred, tg, &t.grad)
			res.Iterations++
			res.Samples += bs
			if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > explodeAt {
				res.DivergedIteration = res.Iterations
				return t.finish(res, Diverged, "diverged", start), nil
			}
			if res.Iterations == 1 && divergeFactor > 0 {
				explodeAt = divergeFactor * math.Max(1, loss)
			}
			res.LastFiniteLoss = loss
			if tg.Labels != nil {
				correct += countCorrect(pred, tg.Labels)
			}
			t.Model.Backward(&t.grad)
			t.Optimizer.Step(params, lr)
			lossSum += loss * float64(bs)
			seen += bs
			if t.Observer != nil {
				t.Observer.Iteration(IterationStats{Epoch: epoch, Iteration: res.Iterations, BatchSize: bs, Loss: loss,
					Seconds: time.Since(iterStart).Seconds()})
			}
		}
		st := EpochStats{Epoch: epoch, Iteration: res.Iterations, Samples: res.Samples,
			TrainLoss: lossSum / float64(seen), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}
		if train.Task == Classification {
			st.TrainAccuracy = float64(correct) / float64(seen)
		}
		if val != nil && val.Len() > 0 {
			st.ValLoss, st.ValAccuracy = t.Evaluate(val)
			if math.IsNaN(st.ValLoss) || math.IsInf(st.ValLoss, 0) {
				res.DivergedIteration = res.Iterations
				res.Final = st
				return t.finish(res, Diverged, "diverged", start), nil
			}
		}
		st.Seconds = time.Since(start).Seconds()
		st.EpochSeconds = time.Since(epochStart).Seconds()
		res.Epochs = epoch
		res.Final = st

		// Early stopping watches val_loss (train_loss without a validation
		// split), as Keras' EarlyStopping does: an epoch improves only if it
		// beats the best so far by more than MinDelta.
		monitored := st.ValLoss
		if math.IsNaN(monitored) {
			monitored = st.TrainLoss
		}
		if math.IsNaN(bestMonitored) || monitored < bestMonitored-cfg.MinDelta {
			bestMonitored, sinceBest = monitored, 0
		} else {
			sinceBest++
		}
		if !math.IsNaN(st.ValLoss) && (math.IsNaN(res.BestValLoss) || st.ValLoss < res.BestValLoss) {
			res.BestValLoss, res.BestEpoch = st.ValLoss, epoch
		}
		decision := Continue
		if t.Observer != nil {
			decision = t.Observer.Epoch(st)
		}
		if cfg.HasTargetLoss && !res.TargetReached && st.TrainLoss <= cfg.TargetLoss {
			res.TargetReached, res.TargetIteration, res.TargetSeconds = true, res.Iterations, st.Seconds
			return t.finish(res, Completed, "target_loss", start), nil
		}
		if decision == Prune {
			return t.finish(res, Pruned, "pruned", start), nil
		}
		if cfg.Patience > 0 && sinceBest >= cfg.Patience {
			return t.finish(res, Completed, "early_stopping", start), nil
		}
	}
	return t.finish(res, Completed, "max_epochs", start), nil
}

func (t *Trainer) finish(res Result, s Status, reason string, start time.Time) Result {
	res.Status, res.StopReason = s, reason
	res.Seconds = time.Since(start).Seconds()
	return res
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
	idx := make([]int, 0, min(n, evalChunk))
	for lo := 0; lo < n; lo += evalChunk {
		hi := min(lo+evalChunk, n)
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		tg := t.batch.gather(d, idx)
		pred := t.Model.Forward(&t.batch.x, false)
		sum += t.Loss.Eval(pred, tg, &t.grad) * float64(hi-lo)
		if tg.Labels != nil {
			correct += countCorrect(pred, tg.Labels)
		}
	}
	accuracy = math.NaN()
	if d.Task == Classification {
		accuracy = float64(correct) / float64(n)
	}
	return sum / float64(n), accuracy
}

// countCorrect counts rows whose prediction matches the label: the argmax
// of the row, or for a single logit column, logit > 0 meaning class 1.
func countCorrect(pred *mat.Matrix, labels []int32) int {
	c := 0
	for i, lab := range labels {
		row := pred.Row(i)
		var k int32
		if len(row) == 1 {
			if row[0] > 0 {
				k = 1
			}
		} else {
			best := row[0]
			for j, v := range row {
				if v > best {
					best, k = v, int32(j)
				}
			}
		}
		if k == lab {
			c++
		}
	}
	return c
}
