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

// Layers hands a measurement of the layers to the sinks that take them.
func (o *observer) Layers(iteration int, stats []framework.LayerStats) {
	for _, sink := range o.r.sinks {
		if ls, ok := sink.(framework.LayerSink); ok {
			ls.LayerStats(&o.a.plan, iteration, stats)
		}
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

// Epoch hands the updates gathered so far and the epoch to the sinks.
func (o *observer) Epoch(s framework.EpochStats) {
	o.a.deliverUpdates()
	o.a.history = append(o.a.history, s)
	for _, sink := range o.r.sinks {
		sink.Epoch(&o.a.plan, s)
	}
}

// setup builds a trial's data, model, loss, optimizer and trainer into a,
// with the builder that validated it (Prepared.build).
func (r *run) setup(a *active) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while setting up: %v\n%s", p, debug.Stack())
		}
	}()
	t, d, err := r.prep.trainer(a.plan, r.opt.Registries, &observer{r: r, a: a})
	if err != nil {
		return err
	}
	a.trainer, a.train, a.val = t, d.train, d.val
	a.plan.BatchLossEvery = r.batchLossEvery(t.Config, a.train.Len())
	return nil
}

// trainer is the trainer of a built trial: spec's training settings with
// its seed, the schedule's settled interval, and obs watching.
func (parts *trialParts) trainer(spec *experiment.TrialSpec, seed uint64, obs framework.Observer) *framework.Trainer {
	cfg := spec.Training
	cfg.Seed = seed
	cfg.Schedule.Interval = parts.interval
	return &framework.Trainer{Model: parts.model, Loss: parts.loss, Optimizer: parts.opt, Config: cfg,
		Schedule: parts.schedule, Observer: obs}
}

// trainer builds the trainer of trial plan (Prepared.build), reporting to
// obs, and returns it with the trial's data.
func (p *Prepared) trainer(plan framework.TrialPlan, reg framework.Registries, obs framework.Observer) (*framework.Trainer, *loaded, error) {
	spec := p.Specs[plan.Index]
	parts, err := p.build(spec, reg, plan.Seed)
	if err != nil {
		return nil, nil, err
	}
	t := parts.trainer(spec, plan.Seed, obs)
	t.LayerStatsEvery = p.Exp.LayerStatsEvery
	return t, parts.data, nil
}

// Replay trains trial plan (an element of p.Plans) again, with the
// builder and seed the run used, so its weights are bit-identical to the
// run's at every epoch, and calls after with the trainer (its model and
// loss) and the training data before training (epoch 0) and after each
// finished epoch. It is how a report gets what the run does not store: the
// path of a point on a test function (two parameters per epoch), or a
// trial's final model to draw its decision boundary. Nothing passed to
// after may be kept past the call.
func (p *Prepared) Replay(ctx context.Context, plan framework.TrialPlan, reg framework.Registries, after func(epoch int, t *framework.Trainer, train *framework.Dataset)) (framework.Result, error) {
	obs := &replayObserver{after: after}
	t, d, err := p.trainer(plan, reg, obs)
	if err != nil {
		return framework.Result{}, err
	}
	obs.t, obs.train = t, d.train
	after(0, t, d.train)
	return t.Train(ctx, d.train, d.val)
}

// replayObserver calls after at the end of every epoch.
type replayObserver struct {
	t     *framework.Trainer
	train *framework.Dataset
	after func(int, *framework.Trainer, *framework.Dataset)
}

func (o *replayObserver) Iteration(framework.IterationStats) {}
func (o *replayObserver) Epoch(s framework.EpochStats)       { o.after(s.Epoch, o.t, o.train) }

// batchLossEvery is how often a trial's batch losses are kept (see
// framework.TrialPlan.BatchLossEvery) for its configuration cfg on n
// training samples.
func (r *run) batchLossEvery(cfg framework.TrainConfig, n int) int {
	switch every := r.prep.Exp.BatchLossEvery; every {
	case experiment.BatchLossAuto:
		planned := cfg.Epochs * framework.IterationsPerEpoch(n, cfg.BatchSize, cfg.DropLast)
		return max(1, (planned+experiment.MaxBatchLossPoints-1)/experiment.MaxBatchLossPoints)
	case 0:
		return -1
	default:
		return every
	}
}

// advance trains a trial up to epoch until (≤ 0: its own last epoch),
// turning panics into failures.
func (r *run) advance(ctx context.Context, a *active, until int) {
	if until <= 0 {
		until = a.trainer.Config.Epochs
	}
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

// planOf is the prepared plan of trial index idx: a pointer that stays
// valid for the run (the live ranking keeps it).
func (r *run) planOf(p framework.TrialPlan) *framework.TrialPlan {
	if i := p.Index; i >= 0 && i < len(r.prep.Plans) && r.prep.Plans[i].ID == p.ID {
		return &r.prep.Plans[i]
	}
	return &p
}

// finish records a trial's outcome in every sink.
func (r *run) finish(a *active) {
	r.iters.Add(a.iterations)
	out := framework.TrialOutcome{Status: a.result.Status, Result: a.result, Ended: time.Now()}
	if a.err == nil && (out.Status == "" || out.Status == framework.Running) {
		// Never store a trial without a final state: it would read as
		// finished and never run again.
		a.err = fmt.Errorf("internal error: training ended in state %q", out.Status)
	}
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
	td := framework.TrialData{Plan: a.plan, Status: out.Status, Epochs: out.Result.Epochs, Final: out.Result.Final,
		TimeToTarget: out.Result.TimeToTarget(), EpochSeries: a.history}
	if a.result.Epochs == 0 && len(a.history) == 0 {
		td.Final = framework.EpochStats{TrainLoss: math.NaN(), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}
	}
	r.noteStanding(r.board.Add(r.planOf(a.plan), &td))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[framework.Running]--
	r.counts[out.Status]++
	if r.opt.Store == nil && r.prep.Exp.TPE != nil {
		r.done = append(r.done, td)
	}
	if _, ok := r.opt.Store.(ResultsReader); !ok {
		td.EpochSeries = nil
		r.seen = append(r.seen, td)
	}
	if r.prep.Exp.KeepBest && a.trainer != nil && out.Status == framework.Completed {
		v := r.metric.Value(&td)
		if r.metric.Better(v, r.bestValue) { // bestValue starts as NaN, which any value beats
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
//
// It claims every unfinished trial at once, and a rung's decisions are
// taken over the whole sweep (this shard's part of it): the trials this run
// trains and those an earlier, interrupted run finished, with their stored
// epochs. So a resumed sweep takes exactly the decisions of an
// uninterrupted one. A rung cut short by ctx decides nothing: its trials
// are kept as interrupted and train again from scratch (with their seeds,
// so with the same series) when the sweep is resumed.
func (r *run) runPruned(ctx context.Context) error {
	plans, err := r.queue.claimAll()
	if err != nil {
		return err
	}
	earlier, err := r.finishedEarlier()
	if err != nil {
		return err
	}
	var live []*active
	for _, plan := range plans {
		if a, ok := r.startTrial(plan); ok {
			// Paused before its first epoch: with no rung before the last
			// epoch (min_epochs or warmup ≥ epochs) it trains to the end below.
			a.result.Status = framework.Running
			live = append(live, a)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].plan.Index < live[j].plan.Index })
	pr := r.prep.Exp.Pruner
	maxEpochs := 0
	for _, pl := range r.queue.plans {
		maxEpochs = max(maxEpochs, r.prep.Specs[pl.Index].Training.Epochs)
	}
	for _, check := range pr.Checkpoints(maxEpochs) {
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
		live = still
		if ctx.Err() != nil {
			break // the rung was cut short: it decides nothing
		}
		live = r.prune(live, check, earlier)
	}
	// The survivors of the last rung train to their own last epoch side by
	// side (each trial's numbers do not depend on the others'), and are
	// finished in trial order.
	var rest []*active
	for _, a := range live {
		if ctx.Err() == nil && a.err == nil && a.result.Status == framework.Running {
			rest = append(rest, a)
		}
	}
	r.parallel(ctx, rest, 0)
	for _, a := range live {
		if ctx.Err() != nil && a.result.Status == framework.Running {
			a.result = a.trainer.Prune()
			a.result.Status, a.result.StopReason = framework.Interrupted, "interrupted"
		}
		r.finish(a)
	}
	return nil
}

// storedTrial is a trial of this run's part of the sweep that an earlier
// run finished, as the store kept it.
type storedTrial struct {
	index, point int
	status       framework.Status
	stopReason   string
	series       []framework.EpochStats
}

// finishedEarlier returns the trials of this run's part of the sweep that
// the store holds as finished (without a store, those this run finished:
// a tpe sweep's earlier batches), in trial order.
func (r *run) finishedEarlier() ([]storedTrial, error) {
	done, err := r.finishedTrials()
	if err != nil {
		return nil, err
	}
	mine := make(map[string]bool, len(r.queue.plans))
	for _, pl := range r.queue.plans {
		mine[pl.ID] = true
	}
	var out []storedTrial
	for _, td := range done {
		if !mine[td.Plan.ID] {
			continue
		}
		out = append(out, storedTrial{index: td.Plan.Index, point: td.Plan.Point, status: td.Status,
			stopReason: td.StopReason, series: td.EpochSeries})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out, nil
}

// atRung returns the value t had in the rung at epoch c, and whether it
// was in that rung, that is, still running after epoch c: a trial that
// ended at epoch c by finishing its epochs, by early stopping or by
// reaching its target loss was not; one pruned at c, or that diverged,
// failed or ran out of time in a later epoch, was.
func (t *storedTrial) atRung(c int) (float64, bool) {
	if c < 1 || len(t.series) < c || t.series[c-1].Epoch != c {
		return 0, false
	}
	if t.status == framework.Completed && t.stopReason != "max_seconds" && len(t.series) == c {
		return 0, false
	}
	return t.series[c-1].Monitored(), true
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

// monitored is the value pruning compares: the last epoch's
// EpochStats.Monitored (lower is better; NaN ranks last), +Inf before the
// first epoch.
func monitored(a *active) float64 {
	if len(a.history) == 0 {
		return math.Inf(1)
	}
	return a.history[len(a.history)-1].Monitored()
}

// rungMember is a trial in a rung's decisions: a live one (a), or one an
// earlier run finished (a nil).
type rungMember struct {
	a            *active
	index, point int
	value        float64
}

// prune takes the decisions of the rung at epoch: over the live trials and
// the earlier runs' trials that were in that rung, in trial order. It
// finishes the live trials it prunes and returns the others.
func (r *run) prune(live []*active, epoch int, earlier []storedTrial) []*active {
	members := make([]rungMember, 0, len(live))
	for _, a := range live {
		members = append(members, rungMember{a: a, index: a.plan.Index, point: a.plan.Point, value: monitored(a)})
	}
	for i := range earlier {
		if v, ok := earlier[i].atRung(epoch); ok {
			members = append(members, rungMember{index: earlier[i].index, point: earlier[i].point, value: v})
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].index < members[j].index })
	rung := make([]framework.RungMember, len(members))
	for i, m := range members {
		rung[i] = framework.RungMember{Point: m.point, Value: m.value}
	}
	pruned := r.prep.Exp.Pruner.Prune(rung)
	var keep []*active
	for i, m := range members {
		switch {
		case m.a == nil:
		case pruned[i]:
			m.a.result = m.a.trainer.Prune()
			r.finish(m.a)
		default:
			keep = append(keep, m.a)
		}
	}
	return keep
}

func (r *run) saveBest() (string, error) {
	ts := map[string]safetensors.Tensor{}
	for k, t := range r.bestWeights {
		ts[k] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	name := r.info.Name + ".best.safetensors"
	if r.opt.Shards > 1 { // shards may share a folder: one file each
		name = fmt.Sprintf("%s.shard-%d-of-%d.best.safetensors", r.info.Name, r.opt.Shard, r.opt.Shards)
	}
	path := filepath.Join(r.opt.WeightsDir, name)
	return path, safetensors.WriteFile(path, ts, map[string]string{"sweep": r.info.Name, "metric": r.prep.Exp.Metric})
}
