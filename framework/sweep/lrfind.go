package sweep

import (
	"context"
	"errors"
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/lrfind"
)

// RangeSetting is how a range test trained: the batch size, the updates
// an epoch holds, and the epochs the planned updates take.
type RangeSetting struct {
	BatchSize, PerEpoch, Epochs int
	Seeds                       []uint64
}

// RangeTest runs the learning-rate range test (package lrfind) on e's base
// setting: the base document alone (grid, random and include are ignored,
// so a varied key keeps its base value), built by the trial builder
// (Prepared.build) as the sweep's first trial would be, with its data split
// and the seed paired_seeds gives repeat r, DeriveSeed(e.Seed, r). Each run is one ordinary training by
// the trainer with three changes: the learning rate starts at c.Min and the
// schedule is exponential per update with c.Gamma() (the file's schedule
// and warmup are replaced); the epochs are as many as c.Iterations updates
// need (a data set of fewer batches is passed over again, reshuffled as a
// trial would be, as fastai's lr_find does); the stop rules (patience,
// target_loss, max_seconds) and the validation pass are off. An
// lrfind.Recorder watches and cancels the training.
//
// Errors in the file are *experiment.Error (file, line, key).
func RangeTest(ctx context.Context, e *experiment.Experiment, reg framework.Registries, c lrfind.Config, repeats int) (*lrfind.Result, RangeSetting, error) {
	var set RangeSetting
	if err := c.Check(); err != nil {
		return nil, set, err
	}
	if repeats < 1 || repeats > lrfind.MaxRepeats || repeats*c.Iterations > lrfind.MaxUpdates {
		return nil, set, fmt.Errorf("--repeats %d × --iterations %d: want 1 to %d repeats and at most %d updates in all", repeats, c.Iterations, lrfind.MaxRepeats, lrfind.MaxUpdates)
	}
	p := &Prepared{Exp: e, data: map[string]*loaded{}}
	if e.InitFrom != "" {
		var err error
		if p.init, err = e.LoadInit(); err != nil {
			return nil, set, err
		}
	}
	// the rate and the epochs are the range test's (set below): a file
	// that sets them only in its grid needs no base value
	epochs, rate := experiment.TrainingPath("Epochs"), experiment.TrainingPath("LearningRate")
	plan := framework.TrialPlan{Sweep: e.Name, Params: map[string]any{epochs: 1, rate: c.Min}, Varied: []string{epochs, rate}}
	spec, err := e.ResolvePlan(plan)
	if err != nil {
		return nil, set, err
	}
	spec.Training.Schedule = c.Schedule()
	spec.Training.StopRules = framework.StopRules{}
	if err := p.check(plan, spec, reg); err != nil {
		return nil, set, err
	}
	var runs []lrfind.Run
	for r := 0; r < repeats; r++ {
		seed := experiment.DeriveSeed(e.Seed, uint64(r))
		parts, err := p.build(spec, reg, seed)
		if err != nil {
			return nil, set, err
		}
		train := parts.data.train
		set.BatchSize = spec.Training.BatchSize
		if set.BatchSize <= 0 {
			set.BatchSize = train.Len()
		}
		set.PerEpoch = framework.IterationsPerEpoch(train.Len(), spec.Training.BatchSize, spec.Training.DropLast)
		set.Epochs = (c.Iterations + set.PerEpoch - 1) / set.PerEpoch
		set.Seeds = append(set.Seeds, seed)
		spec.Training.Epochs = set.Epochs
		run := lrfind.Run{Seed: seed, Planned: c.Iterations}
		rctx, cancel := context.WithCancel(ctx)
		rec := lrfind.NewRecorder(&run, cancel)
		res, err := parts.trainer(spec, seed, rec).Train(rctx, train, nil)
		cancel()
		if err != nil {
			return nil, set, err
		}
		if ctx.Err() != nil {
			return nil, set, ctx.Err()
		}
		rec.Finish(res.Status)
		if len(run.Losses) == 0 {
			return nil, set, errors.New("the first batch loss, before any update, is not finite: nothing can be learned from this setting")
		}
		runs = append(runs, run)
	}
	return lrfind.Aggregate(c, runs), set, nil
}
