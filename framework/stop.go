package framework

import (
	"math"
	"time"
)

// The stop rules of a training run, one small function or type each (as
// gonum/optimize's convergers). Training ends at the first rule that fires,
// checked in this order:
//
//	before every iteration   interrupted, outOfTime
//	after every batch loss   divergence.batch
//	after every epoch        divergence.validation, targetReached, patience.exhausted
//	after the last epoch     max_epochs
//
// The observer sees an epoch after divergence.validation and before the
// other epoch rules.
// A pruner stops a paused trial from outside, with Trainer.Prune.

// stop is how a trial's training ends: its status and Result.StopReason.
type stop struct {
	status Status
	reason string
}

var (
	stopInterrupted = &stop{Interrupted, "interrupted"}
	stopOutOfTime   = &stop{Completed, "max_seconds"}
	stopDiverged    = &stop{Diverged, "diverged"}
	stopTarget      = &stop{Completed, "target_loss"}
	stopPatience    = &stop{Completed, "early_stopping"}
	stopMaxEpochs   = &stop{Completed, "max_epochs"}
	stopPruned      = &stop{Pruned, "pruned"}
)

// interrupted stops a trial as interrupted once done is closed (its
// context was cancelled). It is checked before every iteration, so a
// cancelled trial makes no further weight update.
func interrupted(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// outOfTime stops a trial (completed, "max_seconds") once its training
// time, over every TrainUntil call, has reached maxSeconds; 0 means no
// budget. It is checked before every iteration, so the update in progress
// is finished and the epoch in progress is not evaluated.
func outOfTime(maxSeconds float64, c clock) bool {
	return maxSeconds > 0 && c.elapsed() >= maxSeconds
}

// divergence stops a trial (diverged) whose loss blows up:
//   - a batch loss that is NaN, ±Inf, or above factor × max(1, the first
//     batch loss): finite but exploding. The batch is not used for an
//     update. factor is TrainConfig.DivergeFactor, 0 meaning 1e4; a
//     negative factor turns the bound off (NaN and ±Inf still diverge);
//   - a validation loss that is ±Inf, or NaN although there is validation
//     data (without it, val_loss is NaN by definition).
type divergence struct {
	factor float64 // > 0: the bound is on
	bound  float64 // factor × max(1, first batch loss); +Inf until it is known
}

func newDivergence(factor float64) divergence {
	if factor == 0 {
		factor = 1e4
	}
	return divergence{factor: factor, bound: math.Inf(1)}
}

// batch reports whether the batch loss of the trial's iteration-th weight
// update (1-based) diverges; the first one sets the bound.
func (d *divergence) batch(loss float64, iteration int) bool {
	if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > d.bound {
		return true
	}
	if iteration == 1 && d.factor > 0 {
		d.bound = d.factor * math.Max(1, loss)
	}
	return false
}

// validation reports whether an epoch's validation loss diverges; hasVal
// says whether there was validation data.
func (d *divergence) validation(valLoss float64, hasVal bool) bool {
	return math.IsNaN(valLoss) && hasVal || math.IsInf(valLoss, 0)
}

// targetReached stops a trial (completed, "target_loss") after the first
// epoch whose train_loss (the mean of its batch losses, weighted by batch
// size) is ≤ TargetLoss, when the configuration has a target.
func targetReached(cfg TrainConfig, trainLoss float64) bool {
	return cfg.HasTargetLoss && trainLoss <= cfg.TargetLoss
}

// patience is early stopping as Keras' EarlyStopping does it. It watches
// EpochStats.Monitored (val_loss, or train_loss without a validation
// split). An epoch improves when its value is below the best so far by
// more than minDelta (the first epoch always improves); the trial stops
// (completed, "early_stopping") once epochs epochs in a row have not
// improved. epochs 0 turns the rule off.
type patience struct {
	epochs   int
	minDelta float64
	best     float64 // the best monitored value; NaN before the first epoch
	since    int     // epochs since the best one
}

func newPatience(epochs int, minDelta float64) patience {
	return patience{epochs: epochs, minDelta: minDelta, best: math.NaN()}
}

// exhausted takes the epoch es into account and reports whether patience
// has run out.
func (p *patience) exhausted(es EpochStats) bool {
	v := es.Monitored()
	if math.IsNaN(p.best) || v < p.best-p.minDelta {
		p.best, p.since = v, 0
	} else {
		p.since++
	}
	return p.epochs > 0 && p.since >= p.epochs
}

// Monitored is the loss that early stopping and the pruners watch, lower
// being better: val_loss, or train_loss when there is no validation split
// (val_loss NaN).
func (s EpochStats) Monitored() float64 {
	if !math.IsNaN(s.ValLoss) {
		return s.ValLoss
	}
	return s.TrainLoss
}

// clock measures a trial's training time across TrainUntil calls: before
// is the time of the earlier calls, start the start of this one.
type clock struct {
	before float64
	start  time.Time
}

func (c clock) elapsed() float64 { return c.before + time.Since(c.start).Seconds() }
