// Package sweep runs an experiment's trials on a pool of workers, feeding
// every number to the sinks (SQLite store, live metrics, progress), and
// ranks the results. Each trial trains on one goroutine; results do not
// depend on the number of workers, since every trial's randomness comes
// from its own seed and pruning decisions are taken at synchronisation
// points in trial order.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/results"
)

// Store is where trials are claimed and results kept (the SQLite store).
// The runner calls PrepareSweep where other sinks get SweepStarted; every
// other event goes to the store as to any sink.
type Store interface {
	framework.Sink
	PrepareSweep(info framework.SweepInfo, trials []framework.TrialPlan, force bool) error
	// Claim atomically takes the next unfinished trial of the sweep.
	Claim(sweep string) (framework.TrialPlan, bool, error)
	// ClaimAll atomically takes every unfinished trial of the sweep, for a
	// pruned run: its rungs compare every trial, so one process runs them
	// all. It fails when another live process holds trials of the sweep.
	ClaimAll(sweep string) ([]framework.TrialPlan, error)
	// Finished returns the sweep's finished trials (completed, diverged,
	// failed, pruned) with their stop reasons and epoch series (batch
	// losses may be left out): a resumed pruned run takes its rung
	// decisions over them too.
	Finished(sweep string) ([]framework.TrialData, error)
	// Stored returns the config hash and config of the stored sweep and
	// how many trials are stored for it; hash is "" when it is not stored.
	Stored(sweep string) (hash, config string, trials int, err error)
}

// Options configure a run.
type Options struct {
	Workers    int              // trials trained at once (default: number of CPUs)
	Store      Store            // nil: trials are claimed in memory
	Sinks      []framework.Sink // metrics, progress, ...
	Force      bool             // replace a stored sweep whose experiment changed
	FailFast   bool             // stop the sweep at the first failed trial
	Registries framework.Registries
	// Shard restricts the run to trials whose index ≡ Shard (mod Shards).
	Shard, Shards int
	// WeightsDir receives best.safetensors when the experiment keeps the best weights.
	WeightsDir string
}

// Prepared is an experiment checked against the registries and its data:
// every trial's settings resolve, its data loads, its model builds and its
// loss fits the data. Nothing has been written anywhere yet.
type Prepared struct {
	Exp   *experiment.Experiment
	Plans []framework.TrialPlan
	Specs []*experiment.TrialSpec
	data  map[string]*loaded
	init  map[string]framework.Tensor
	// points are a tpe sweep's settings so far, in trial order (Plans
	// holds their trials); nil for other sweeps.
	points []experiment.Point
	// data identity (framework.SweepInfo.DataID)
	dataFiles string
}

type loaded struct{ train, val *framework.Dataset }

// Prepare checks every trial of e before anything runs. Errors name the
// experiment file, line and key.
func Prepare(e *experiment.Experiment, reg framework.Registries) (*Prepared, error) {
	plans, err := e.Plans()
	if err != nil {
		return nil, err
	}
	p := &Prepared{Exp: e, Plans: plans, data: map[string]*loaded{}}
	if e.TPE != nil {
		p.points = e.Points()
	}
	if e.InitFrom != "" {
		if p.init, err = e.LoadInit(); err != nil {
			return nil, err
		}
	}
	if err := p.resolve(plans, reg); err != nil {
		return nil, err
	}
	if err := p.checkMetric(); err != nil {
		return nil, err
	}
	if err := p.checkRateIsUsed(reg); err != nil {
		return nil, err
	}
	if p.dataFiles, err = p.dataID(); err != nil {
		return nil, err
	}
	return p, nil
}

// resolve resolves and checks the trials plans (the next ones of the
// sweep) and appends their specs to p.Specs.
func (p *Prepared) resolve(plans []framework.TrialPlan, reg framework.Registries) error {
	for _, plan := range plans {
		spec, err := p.Exp.ResolvePlan(plan)
		if err != nil {
			return err
		}
		p.Specs = append(p.Specs, spec)
		if plan.Repeat > 0 {
			continue // repeats share the point's settings
		}
		if err := p.check(plan, spec, reg); err != nil {
			return err
		}
	}
	return nil
}

// checkRateIsUsed refuses a sweep that varies training.learning_rate
// while every trial's schedule sets its own rate whatever the learning
// rate (onecycle's max_lr/div_factor, framework.InitialRater): its values
// would train the same trial again and again, and a chart over them would
// show a learning rate with no effect.
func (p *Prepared) checkRateIsUsed(reg framework.Registries) error {
	if reg.Schedules == nil {
		return nil // no schedule but constant can be built (buildSchedule)
	}
	path := experiment.TrainingPath("LearningRate")
	varied, name := false, ""
	for i, plan := range p.Plans {
		if plan.Repeat > 0 {
			continue
		}
		varied = varied || slices.Contains(plan.Varied, path)
		spec := p.Specs[i].Training.Schedule // a warmup ramps up to the schedule's own first rate
		s, err := reg.Schedules.New(spec.Type, spec.Options)
		if err != nil {
			return nil // refused where the trial is built
		}
		ir, ok := s.(framework.InitialRater)
		if !ok || ir.InitialRate(1) != ir.InitialRate(2) {
			return nil
		}
		name = spec.Type
	}
	if !varied {
		return nil
	}
	line, _ := p.Exp.VariedLine(path, p.Plans[0].Params[path])
	return &experiment.Error{File: p.Exp.File, Line: line, Key: path,
		Msg: fmt.Sprintf("every trial's schedule (%s) sets its own learning rate, so the values of %s would train the same trial again: vary the schedule's rate instead (training.schedule.max_lr for onecycle)", name, path)}
}

// checkMetric refuses a ranking metric that no trial can have: accuracy
// of a regression, time_to_target without a target, a validation metric
// without a validation split.
func (p *Prepared) checkMetric() error {
	m, err := results.Lookup(p.Exp.Metric)
	if err != nil {
		return &experiment.Error{File: p.Exp.File, Line: p.Exp.Line("metric"), Key: "metric", Msg: err.Error()}
	}
	var s results.Setting
	for _, spec := range p.Specs {
		s.Validation = s.Validation || spec.Dataset.ValidationSplit > 0
		s.Target = s.Target || spec.Training.HasTargetLoss
	}
	for _, d := range p.data {
		s.Classification = s.Classification || d.train.Task == framework.Classification
	}
	if err := m.Applies(s); err != nil {
		return &experiment.Error{File: p.Exp.File, Line: p.Exp.Line("metric"), Key: "metric", Msg: err.Error()}
	}
	return nil
}

func (p *Prepared) dataFor(spec *experiment.TrialSpec) (*loaded, error) {
	key := spec.Dataset.Key()
	if d, ok := p.data[key]; ok {
		return d, nil
	}
	train, val, err := experiment.LoadData(spec.Dataset, p.Exp.Seed)
	if err != nil {
		return nil, err
	}
	d := &loaded{train, val}
	p.data[key] = d
	return d, nil
}

// Info is the sweep's identity as stored. Planned counts every trial of a
// tpe sweep, proposed or not.
func (p *Prepared) Info() framework.SweepInfo {
	planned := len(p.Plans)
	if p.Exp.TPE != nil {
		planned = p.Exp.Planned()
	}
	return framework.SweepInfo{Name: p.Exp.Name, ConfigHash: p.Exp.Hash, Config: string(p.Exp.Source),
		Seed: p.Exp.Seed, Metric: p.Exp.Metric, Planned: planned, Started: time.Now(), DataID: p.dataFiles,
		Proposes: p.Exp.TPE != nil}
}

// ErrTrialsFailed is returned (wrapped) when the sweep finished but some
// trials failed.
var ErrTrialsFailed = errors.New("some trials failed")

// Run trains every unfinished trial of the prepared sweep and returns its
// summary. Cancelling ctx stops starting trials and interrupts running ones
// at their next iteration; what finished is kept.
func Run(ctx context.Context, p *Prepared, opt Options) (framework.SweepSummary, error) {
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.Registries.Layers == nil {
		opt.Registries = framework.Default()
	}
	if p.Exp.TPE != nil && opt.Shards > 1 {
		return framework.SweepSummary{}, tpeShardError(p.Exp)
	}
	plans := shardOf(p.Plans, opt.Shard, opt.Shards)
	info := p.Info()
	if opt.Store != nil {
		if !opt.Force {
			if err := growth(p, opt.Store, &info); err != nil {
				return framework.SweepSummary{}, err
			}
		}
		if err := opt.Store.PrepareSweep(info, plans, opt.Force); err != nil {
			return framework.SweepSummary{}, err
		}
	}
	r := newRun(p, opt, info)
	for _, s := range opt.Sinks { // the store had it as PrepareSweep: storing the trials again would be work done twice
		s.SweepStarted(info, plans)
	}
	if err := r.seedBoard(); err != nil {
		return framework.SweepSummary{}, err
	}
	r.queue = newQueue(plans, opt.Store, info.Name)
	r.queue.tpe = p.Exp.TPE != nil
	var runErr error
	switch {
	case p.Exp.TPE != nil:
		runErr = r.runTPE(ctx)
	case p.Exp.Pruner != nil:
		runErr = r.runPruned(ctx)
	default:
		runErr = r.runPool(ctx)
	}
	sum, sumErr := r.summary(ctx)
	sum.Grew = info.Growth()
	for _, s := range r.sinks {
		s.SweepFinished(info, sum)
	}
	if runErr != nil {
		return sum, runErr
	}
	if sumErr != nil {
		return sum, sumErr
	}
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	if r.failed.Load() > 0 {
		return sum, fmt.Errorf("%d trial(s): %w", r.failed.Load(), ErrTrialsFailed)
	}
	if p.Exp.KeepBest && r.bestWeights != nil && opt.WeightsDir != "" {
		path, err := r.saveBest()
		if err != nil {
			return sum, err
		}
		sum.KeptWeights = path
	}
	return sum, nil
}

// growth tells the store whether p may grow the sweep stored under its
// name (see framework.SweepInfo.GrowsFrom): when the stored config is
// another one, which parses, and p changes no setting of it but which
// trials there are (Experiment.ChangedFrom). Which trials are kept is the
// store's decision, in the transaction that grows the sweep: each stored
// trial must be planned again with the same id, repeat, seed, params and
// varied (its index and point may change), so the grown sweep is the one
// a fresh run of p stores.
func growth(p *Prepared, st Store, info *framework.SweepInfo) error {
	hash, config, stored, err := st.Stored(info.Name)
	if err != nil || hash == "" || hash == info.ConfigHash {
		return err
	}
	old, err := experiment.Parse([]byte(config), "stored experiment")
	if err != nil {
		return nil // the store refuses the changed config as it always did
	}
	if info.NotGrowth = p.Exp.ChangedFrom(old); info.NotGrowth != "" {
		return nil
	}
	info.GrowsFrom, info.GrewFrom, info.Kept = hash, old.Planned(), stored
	return nil
}

// shardOf is the part of plans that shard (of shards) runs: the trials
// whose index ≡ shard (mod shards); all of them for shards ≤ 1.
func shardOf(plans []framework.TrialPlan, shard, shards int) []framework.TrialPlan {
	if shards <= 1 {
		return plans
	}
	var mine []framework.TrialPlan
	for _, pl := range plans {
		if pl.Index%shards == shard {
			mine = append(mine, pl)
		}
	}
	return mine
}

// newRun is the state of a run of p; the store, when there is one, is
// the first sink.
func newRun(p *Prepared, opt Options, info framework.SweepInfo) *run {
	metric := results.MustLookup(p.Exp.Metric)
	r := &run{prep: p, opt: opt, info: info, sinks: opt.Sinks, start: time.Now(), metric: metric,
		board: results.NewBoard(metric, p.Exp.Pruner != nil), counts: map[framework.Status]int{}, bestValue: math.NaN()}
	if opt.Store != nil {
		r.sinks = append([]framework.Sink{opt.Store}, opt.Sinks...)
	}
	return r
}

// queue hands out trials: from the store (exactly once across processes)
// or from the plan list.
type queue struct {
	mu    sync.Mutex
	plans []framework.TrialPlan
	next  int
	store Store
	sweep string
	// tpe: the store may hand out trials of a batch another process
	// proposed that this run has not proposed yet; they are held (claimed,
	// not started) until it has (see runTPE).
	tpe  bool
	held []framework.TrialPlan
}

func newQueue(plans []framework.TrialPlan, s Store, sweep string) *queue {
	return &queue{plans: plans, store: s, sweep: sweep}
}

func (q *queue) claim() (framework.TrialPlan, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.store != nil && q.tpe {
		if len(q.held) > 0 {
			if !q.isKnown(q.held[0]) {
				return framework.TrialPlan{}, false, nil // this batch ends here
			}
			pl := q.held[0]
			q.held = q.held[1:]
			return pl, true, nil
		}
		pl, ok, err := q.store.Claim(q.sweep)
		if ok && !q.isKnown(pl) {
			q.held = append(q.held, pl)
			return framework.TrialPlan{}, false, nil
		}
		return pl, ok, err
	}
	if q.store != nil {
		return q.store.Claim(q.sweep)
	}
	if q.next >= len(q.plans) {
		return framework.TrialPlan{}, false, nil
	}
	q.next++
	return q.plans[q.next-1], true, nil
}

// claimAll takes every trial left to run, in one go (see Store.ClaimAll).
func (q *queue) claimAll() ([]framework.TrialPlan, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.store != nil {
		plans, err := q.store.ClaimAll(q.sweep)
		for _, pl := range plans {
			if err == nil && q.tpe && !q.isKnown(pl) {
				err = fmt.Errorf("sweep %q: stored trial %s (index %d) is not one this run proposes: the database holds another sequence of tpe settings", q.sweep, pl.ID, pl.Index)
			}
		}
		return plans, err
	}
	rest := q.plans[q.next:]
	q.next = len(q.plans)
	return rest, nil
}

type run struct {
	prep   *Prepared
	opt    Options
	info   framework.SweepInfo
	sinks  []framework.Sink
	start  time.Time
	queue  *queue
	failed atomic.Int64
	iters  atomic.Int64
	saved  atomic.Int64

	metric results.Metric
	board  *results.Board        // the live ranking, for StandingSinks
	stored []framework.TrialData // trials finished before this run, on the board

	mu          sync.Mutex
	counts      map[framework.Status]int
	seen        []framework.TrialData // this run's finished trials, when the store cannot read back
	done        []framework.TrialData // this run's finished trials with their series, for a tpe sweep without a store
	bestWeights map[string]framework.Tensor
	bestValue   float64
	stop        bool
}
