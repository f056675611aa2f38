package sweep

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
)

// trialParts are what a trial trains with.
type trialParts struct {
	data     *loaded
	model    *framework.Model
	loss     framework.Loss
	opt      framework.Optimizer
	schedule framework.Schedule // nil: a constant rate
	interval string             // when the schedule steps
}

// settingError is a trial that cannot be built, with the experiment key
// at fault: "dataset", "training.batch_size", "model", "model.1",
// "init_from", "loss" or "optimizer". Its message is the cause's.
type settingError struct {
	key string
	err error
}

func (e *settingError) Error() string { return e.err.Error() }
func (e *settingError) Unwrap() error { return e.err }

// build makes a trial's data, model (initial weights drawn from seed),
// loss and optimizer, and checks on the way all that can be refused before
// training: the batch size against the data, the model's memory (before
// it is allocated), the init_from weights, and that the last layer fits
// the loss and the classes. Prepare validates trials with it and the
// runner builds them with it. Its errors are *settingError.
func (p *Prepared) build(spec *experiment.TrialSpec, reg framework.Registries, seed uint64) (*trialParts, error) {
	d, err := p.dataFor(spec)
	if err != nil {
		return nil, &settingError{"dataset", err}
	}
	n := d.train.Len()
	batch := spec.Training.BatchSize
	if batch > n {
		return nil, &settingError{"training.batch_size", fmt.Errorf("%d is larger than the %d training samples (use \"full\" for full-batch gradient descent)", batch, n)}
	}
	if batch <= 0 { // full batch (TrainConfig.BatchSize)
		batch = n
	}
	m, err := buildModel(reg.Layers, spec.Model, d.train.X.Cols, batch, seed)
	if err != nil {
		return nil, err
	}
	if p.init != nil {
		if err := m.LoadStateDict(p.init); err != nil {
			return nil, &settingError{"init_from", err}
		}
	}
	loss, err := reg.Losses.New(spec.Loss.Type, spec.Loss.Options)
	if err != nil {
		return nil, &settingError{"loss", err}
	}
	if err := fits(spec.Loss.Type, loss, m, d.train); err != nil {
		return nil, &settingError{"model", err}
	}
	opt, err := reg.Optimizers.New(spec.Optimizer.Type, spec.Optimizer.Options)
	if err != nil {
		return nil, &settingError{"optimizer", err}
	}
	sched, interval, err := buildSchedule(reg.Schedules, spec.Training.Schedule)
	if err != nil {
		return nil, &settingError{"training.schedule", err}
	}
	return &trialParts{data: d, model: m, loss: loss, opt: opt, schedule: sched, interval: interval}, nil
}

// buildSchedule makes the trial's learning-rate schedule and settles its
// interval. Registries without schedules (built by hand) run a constant
// rate, and refuse any other schedule.
func buildSchedule(r *framework.Registry[framework.Schedule], spec framework.ScheduleSpec) (framework.Schedule, string, error) {
	if r == nil {
		if spec.Type == "constant" && spec.Warmup.Iterations == 0 {
			return nil, framework.IntervalEpoch, nil
		}
		return nil, "", fmt.Errorf("no schedule registry to build %q from", spec.Type)
	}
	return framework.NewSchedule(r, spec)
}

// buildModel estimates the model's memory before it builds it, so that a
// model that cannot fit is refused rather than allocated. An error of one
// layer is set on its key, model.<index>.
func buildModel(layers *framework.Registry[framework.Layer], specs []framework.LayerSpec, in, batch int, seed uint64) (*framework.Model, error) {
	err := framework.CheckModelSize(layers, specs, in, batch)
	var m *framework.Model
	if err == nil {
		m, err = framework.NewModel(layers, specs, in, framework.NewTrainRand(seed, 0))
	}
	if err != nil {
		key := "model"
		var le *framework.LayerError
		if errors.As(err, &le) {
			key += "." + strconv.Itoa(le.Index)
		}
		return nil, &settingError{key, err}
	}
	return m, nil
}

// fits checks that the model's last layer suits the loss on this data and
// has an output for every class.
func fits(lossName string, loss framework.Loss, m *framework.Model, train *framework.Dataset) error {
	if err := loss.Check(train.Task, m.Out, train.Outputs()); err != nil {
		return fmt.Errorf("the last layer does not fit the loss %s on this data: %w", lossName, err)
	}
	if train.Task == framework.Classification && m.Out < train.Outputs() && !(m.Out == 1 && train.Outputs() == 2) {
		return fmt.Errorf("%d outputs cannot hold %d classes", m.Out, train.Outputs())
	}
	return nil
}

// check validates one grid point's trial for Prepare: it builds it, and
// turns a failure into an experiment error at the setting's file, line and
// key.
func (p *Prepared) check(plan framework.TrialPlan, spec *experiment.TrialSpec, reg framework.Registries) error {
	_, err := p.build(spec, reg, 0)
	var se *settingError
	if !errors.As(err, &se) {
		return err
	}
	e := p.Exp
	// a plugin's option error points at the option
	key := se.key
	var oe *framework.OptionError
	if errors.As(se.err, &oe) {
		key += "." + oe.Option
	}
	line := e.Line(key)
	// name the grid (random, include) setting too when it set the value
	note, vl := e.Varied(se.key, plan.Params, plan.Varied)
	if line == 0 { // a defaulted section (optimizer) has no line of its own
		line = vl
	}
	return &experiment.Error{File: e.File, Line: line, Key: key, Msg: se.err.Error() + note}
}
