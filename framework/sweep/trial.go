package sweep

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/safetensors"
)

// active is a trial being trained: its plan, trainer and data.
type active struct {
	plan       framework.TrialPlan
	recorders  []func([]framework.IterationStats) // one per sink, for Iteration events
	updates    []framework.IterationStats         // not given to the recorders yet
	updateSecs float64                            // training seconds in updates
	trainer    *framework.Trainer
	train, val *framework.Dataset
	history    []framework.EpochStats
	iterations int64 // weight updates seen, added to the run's count when it finishes
	result     framework.Result
	err        error
}

// observer forwards a trial's progress to the sinks.
type observer struct {
	r *run
	a *active
}

// Iteration gathers updates for the recorders and hands them over in
// batches (see framework.IterationSink).
func (o *observer) Iteration(s framework.IterationStats) {
	a := o.a
	a.iterations++ // not the run's shared atomic: two workers would fight over it every update
	if len(a.recorders) == 0 {
		return
	}
	a.updates = append(a.updates, s)
	if s.Seconds > 0 { // false for NaN
		a.updateSecs += s.Seconds
	}
	if len(a.updates) >= framework.IterationBatch || a.updateSecs >= framework.IterationBatchSeconds {
		a.deliverUpdates()
	}
}

// deliverUpdates gives the gathered updates to the recorders.
func (a *active) deliverUpdates() {
	if len(a.updates) == 0 {
		return
	}
	for _, rec := range a.recorders {
		rec(a.updates)
	}
	a.updates, a.updateSecs = a.updates[:0], 0
}

func (o *observer) Epoch(s framework.EpochStats) framework.Decision {
	o.a.deliverUpdates()
	o.a.history = append(o.a.history, s)
	for _, sink := range o.r.sinks {
		sink.Epoch(&o.a.plan, s)
	}
	return framework.Continue
}

// setup builds a trial's model, loss, optimizer and trainer into a.
func (r *run) setup(a *active) (err error) {
	plan := a.plan
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while setting up: %v\n%s", p, debug.Stack())
		}
	}()
	spec := r.prep.Specs[plan.Index]
	d, err := r.prep.dataFor(spec)
	if err != nil {
		return err
	}
	a.train, a.val = d.train, d.val
	reg := r.opt.Registries
	rng := framework.NewTrainRand(plan.Seed, 0)
	model, err := framework.NewModel(reg.Layers, spec.Model, d.train.X.Cols, rng)
	if err != nil {
		return err
	}
	if r.prep.init != nil {
		if err := model.LoadStateDict(r.prep.init); err != nil {
			return err
		}
	}
	loss, err := reg.Losses.New(spec.Loss.Type, spec.Loss.Options)
	if err != nil {
		return err
	}
	opt, err := reg.Optimizers.New(spec.Optimizer.Type, spec.Optimizer.Options)
	if err != nil {
		return err
	}
	cfg := spec.Training
	cfg.Seed = plan.Seed
	a.trainer = &framework.Trainer{Model: model, Loss: loss, Optimizer: opt, Config: cfg}
	switch every := r.prep.Exp.BatchLossEvery; every {
	case experiment.BatchLossAuto:
		planned := cfg.Epochs * framework.IterationsPerEpoch(d.train.Len(), cfg.BatchSize, cfg.DropLast)
		a.plan.BatchLossEvery = max(1, (planned+experiment.MaxBatchLossPoints-1)/experiment.MaxBatchLossPoints)
	case 0:
		a.plan.BatchLossEvery = -1
	default:
		a.plan.BatchLossEvery = every
	}
	a.trainer.Observer = &observer{r: r, a: a}
	return nil
}

// advance trains a trial up to epoch until, turning panics into failures.
func (r *run) advance(ctx context.Context, a *active, until int) {
	defer func() {
		if p := recover(); p != nil {
			a.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	a.result, a.err = a.trainer.TrainUntil(ctx, a.train, a.val, until)
}

// startTrial announces a trial and builds it; a setup error finishes it as failed.
func (r *run) startTrial(claimed framework.TrialPlan) (*active, bool) {
	// Train the prepared plan (the store's copy is the same trial, but its
	// freshly decoded settings would be kept once more per finished trial).
	plan := claimed
	if i := claimed.Index; i >= 0 && i < len(r.prep.Plans) && r.prep.Plans[i].ID == claimed.ID {
		plan = r.prep.Plans[i]
	}
	r.mu.Lock()
	r.counts[framework.Running]++
	r.mu.Unlock()
	// Every sink sees the same *TrialPlan for all of a trial's events (the
	// metrics sink keys its per-trial state by that pointer).
	a := &active{plan: plan}
	for _, s := range r.sinks {
		s.TrialStarted(&a.plan)
		if is, ok := s.(framework.IterationSink); ok {
			a.recorders = append(a.recorders, is.IterationRecorder(&a.plan))
		} else {
			a.recorders = append(a.recorders, func(updates []framework.IterationStats) {
				for _, st := range updates {
					s.Iteration(&a.plan, st)
				}
			})
		}
	}
	if len(a.recorders) > 0 {
		a.updates = make([]framework.IterationStats, 0, framework.IterationBatch)
	}
	if err := r.setup(a); err != nil {
		a.err = err
		r.finish(a)
		return nil, false
	}
	return a, true
}

// finish records a trial's outcome in every sink.
func (r *run) finish(a *active) {
	r.iters.Add(a.iterations)
	out := framework.TrialOutcome{Status: a.result.Status, Result: a.result, Ended: time.Now()}
	if a.err != nil {
		out.Status, out.Error = framework.Failed, a.err.Error()
		r.failed.Add(1)
	}
	if out.Status == framework.Pruned && a.trainer != nil {
		planned := int64(a.trainer.Config.Epochs - a.result.Epochs)
		if a.result.Epochs > 0 {
			r.saved.Add(planned * int64(a.result.Iterations/a.result.Epochs))
		}
	}
	a.deliverUpdates()
	for _, s := range r.sinks {
		s.TrialFinished(&a.plan, out)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[framework.Running]--
	r.counts[out.Status]++
	r.outcomes[a.plan.Index] = &finished{status: out.Status, final: out.Result.Final, timeToTarget: targetTime(out.Result)}
	if r.prep.Exp.KeepBest && a.trainer != nil && out.Status == framework.Completed {
		v := MetricValue(r.prep.Exp.Metric, out.Result)
		if !math.IsNaN(v) && (r.bestWeights == nil || better(r.prep.Exp.Metric, v, r.bestValue)) {
			r.bestValue, r.bestWeights = v, a.trainer.Model.StateDict()
		}
	}
	if out.Status == framework.Failed && r.opt.FailFast {
		r.stop = true
	}
}

func (r *run) stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop
}

// runPool trains whole trials on the workers, claiming them one by one.
func (r *run) runPool(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, r.opt.Workers)
	for w := 0; w < r.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && !r.stopped() {
				plan, ok, err := r.queue.claim()
				if err != nil {
					errs <- err
					cancel()
					return
				}
				if !ok {
					return
				}
				a, ok := r.startTrial(plan)
				if !ok {
					if r.stopped() {
						cancel()
					}
					continue
				}
				r.advance(ctx, a, a.trainer.Config.Epochs)
				r.finish(a)
				if r.stopped() {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runPruned trains in rounds: all live trials up to a check epoch (in
// parallel), then prune decisions in trial order, so the outcome does not
// depend on the number of workers or on timing.
func (r *run) runPruned(ctx context.Context) error {
	var live []*active
	for {
		plan, ok, err := r.queue.claim()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if a, ok := r.startTrial(plan); ok {
			live = append(live, a)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].plan.Index < live[j].plan.Index })
	pr := r.prep.Exp.Pruner
	maxEpochs := 0
	for _, a := range live {
		maxEpochs = max(maxEpochs, a.trainer.Config.Epochs)
	}
	for _, check := range checkpoints(pr.Type, pr.Warmup, pr.Interval, pr.MinEpochs, pr.Eta, maxEpochs) {
		if ctx.Err() != nil || len(live) == 0 {
			break
		}
		r.parallel(ctx, live, check)
		var still []*active
		for _, a := range live {
			if a.err != nil || a.result.Status != framework.Running {
				r.finish(a)
			} else {
				still = append(still, a)
			}
		}
		live = r.prune(still, check)
	}
	for _, a := range live {
		if ctx.Err() != nil && a.result.Status == framework.Running {
			a.result = a.trainer.Prune()
			a.result.Status, a.result.StopReason = framework.Interrupted, "interrupted"
		}
		if a.err == nil && a.result.Status == framework.Running {
			r.advance(ctx, a, a.trainer.Config.Epochs)
		}
		r.finish(a)
	}
	return nil
}

func (r *run) parallel(ctx context.Context, trials []*active, until int) {
	var wg sync.WaitGroup
	next := make(chan *active)
	for w := 0; w < r.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range next {
				r.advance(ctx, a, until)
			}
		}()
	}
	for _, a := range trials {
		next <- a
	}
	close(next)
	wg.Wait()
}

// checkpoints are the epochs at which pruning decisions are taken: for
// median, every interval epochs from warmup on; for asha (synchronous
// successive halving), the rungs minEpochs·etaᵏ.
func checkpoints(kind string, warmup, interval, minEpochs, eta, maxEpochs int) []int {
	var out []int
	if kind == "median" {
		for e := max(warmup, 1); e < maxEpochs; e += max(interval, 1) {
			out = append(out, e)
		}
		return out
	}
	for e := minEpochs; e < maxEpochs; e *= eta {
		out = append(out, e)
		if eta < 2 || e > maxEpochs/eta { // the next rung would pass maxEpochs (or overflow)
			break
		}
	}
	return out
}

// monitored is the value pruning compares: val_loss, or train_loss
// without a validation split (lower is better); NaN ranks last.
func monitored(a *active) float64 {
	if len(a.history) == 0 {
		return math.Inf(1)
	}
	s := a.history[len(a.history)-1]
	if !math.IsNaN(s.ValLoss) {
		return s.ValLoss
	}
	return s.TrainLoss
}

func (r *run) prune(live []*active, epoch int) []*active {
	pr := r.prep.Exp.Pruner
	var keep []*active
	switch pr.Type {
	case "median":
		// each trial against the trials before it in trial order
		var earlier []float64
		for _, a := range live {
			v := monitored(a)
			if len(earlier) >= pr.StartupTrials && v > median(earlier) {
				a.result = a.trainer.Prune()
				r.finish(a)
			} else {
				keep = append(keep, a)
			}
			earlier = append(earlier, v)
		}
	default:
		// asha: the best ⌈n/η⌉ grid points go on. A point is scored by the
		// mean over its live repeats, so repeats are kept or pruned
		// together and a lucky seed does not decide; ties go by point order.
		var points []int
		scores := map[int][]float64{}
		for _, a := range live {
			if _, seen := scores[a.plan.Point]; !seen {
				points = append(points, a.plan.Point)
			}
			scores[a.plan.Point] = append(scores[a.plan.Point], monitored(a))
		}
		mean := func(p int) float64 {
			s := 0.0
			for _, v := range scores[p] {
				s += v
			}
			if math.IsNaN(s) {
				return math.Inf(1)
			}
			return s / float64(len(scores[p]))
		}
		sort.SliceStable(points, func(i, j int) bool { return mean(points[i]) < mean(points[j]) })
		kept := map[int]bool{}
		for _, p := range points[:(len(points)+pr.Eta-1)/pr.Eta] {
			kept[p] = true
		}
		for _, a := range live {
			if kept[a.plan.Point] {
				keep = append(keep, a)
			} else {
				a.result = a.trainer.Prune()
				r.finish(a)
			}
		}
	}
	return keep
}

// median of v; NaN for no values (so that no comparison with it prunes).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *run) saveBest() error {
	ts := map[string]safetensors.Tensor{}
	for k, t := range r.bestWeights {
		ts[k] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	name := r.info.Name + ".best.safetensors"
	if r.opt.Shards > 1 { // shards may share a folder: one file each
		name = fmt.Sprintf("%s.shard-%d-of-%d.best.safetensors", r.info.Name, r.opt.Shard, r.opt.Shards)
	}
	path := filepath.Join(r.opt.WeightsDir, name)
	return safetensors.WriteFile(path, ts, map[string]string{"sweep": r.info.Name, "metric": r.prep.Exp.Metric})
}
