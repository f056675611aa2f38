package framework

import (
	"errors"
	"fmt"
)

// Schedule varies the learning rate of a trial in time, as PyTorch's
// torch.optim.lr_scheduler does. The trainer drives it in three calls:
//
//	s.Start(base, steps)        // once per trial, before the first update
//	lr := s.Rate()              // the rate of each update (optimizer.Step(params, lr))
//	s.Step(monitored)           // after each epoch or each iteration (the interval)
//
// Rate after k calls of Step is exactly PyTorch 1.13's
// optimizer.param_groups[0]['lr'] after k calls of scheduler.step() (the
// usual loop: optimizer.step(), then scheduler.step()): several schedulers
// compute it recursively from the previous rate (their "chainable" get_lr),
// and the plugins do the same float64 operations in the same order.
//
// Step and Rate must not allocate (they run inside the training step); nor
// may Start when it is called again on a started schedule (a warmup starts
// its schedule at its milestone, mid-training).
type Schedule interface {
	// DefaultInterval is when the schedule steps unless the experiment
	// says otherwise: IntervalEpoch (PyTorch's usual loop) or
	// IntervalIteration (OneCycleLR's).
	DefaultInterval() string
	// Start (re)starts the schedule for a trial with base rate base (the
	// trial's learning rate, PyTorch's initial_lr) and steps, the number of
	// Step calls a whole trial makes: its epochs with interval epoch, its
	// weight updates with interval iteration (onecycle's total_steps). A
	// trial that stops early makes fewer.
	Start(base float64, steps int)
	// Rate is the learning rate of the next update.
	Rate() float64
	// Step advances the schedule by one epoch or iteration. monitored is
	// the value a plateau rule watches (the epoch's loss); other schedules
	// ignore it.
	Step(monitored float64)
}

// The values of a schedule's interval.
const (
	IntervalEpoch     = "epoch"
	IntervalIteration = "iteration"
)

// InitialRater is implemented by a schedule that sets its own base rate
// instead of the trial's, as OneCycleLR overwrites PyTorch's initial_lr
// with max_lr / div_factor. A Warmup in front of it warms up to that rate.
type InitialRater interface {
	InitialRate(base float64) float64
}

// LinearLR is one step of PyTorch's LinearLR in its chainable form: the
// rate at step epoch (its last_epoch) from the rate lr of the step before,
// for a factor going linearly from start to end over total steps:
//
//	epoch 0:           lr·start
//	0 < epoch ≤ total: lr·(1 + (end − start) / (total·start + (epoch − 1)·(end − start)))
//	epoch > total:     lr
//
// Both the linear schedule and Warmup use it.
func LinearLR(lr float64, epoch, total int, start, end float64) float64 {
	switch {
	case epoch == 0:
		return lr * start
	case epoch > total:
		return lr
	}
	d := end - start
	return lr * (1 + d/(float64(float64(total)*start)+float64(float64(epoch-1)*d)))
}

// Warmup is the `warmup` of a schedule: a linear ramp in front of it, as
// PyTorch's SequentialLR([LinearLR(start_factor, end_factor=1,
// total_iters=Iterations), schedule], milestones=[Iterations]) does. The
// first Iterations updates take base·start_factor rising linearly towards
// base; at step Iterations the schedule starts afresh from base (its step
// 0, as SequentialLR's schedule.step(0)) and takes over. The warmup counts
// Step calls, so it is in the schedule's interval: iterations only when the
// schedule steps per iteration.
//
// ReduceLROnPlateau cannot follow a warmup in torch 1.13's SequentialLR (it
// would be stepped with 0 as its metric). Here it can: it starts at the
// milestone with the base rate, and only the values monitored after the
// milestone count.
type Warmup struct {
	Iterations  int     `opt:"iterations" default:"0" range:"[0,]" doc:"steps of the linear ramp in front of the schedule (0: none)"`
	StartFactor float64 `opt:"start_factor" default:"0.3333333333333333" range:"(0,1]" doc:"the first rate is base × start_factor (LinearLR's start_factor)"`
}

// Wrap returns s behind the warmup, or s itself when Iterations is 0.
func (w Warmup) Wrap(s Schedule) (Schedule, error) {
	if w.Iterations == 0 {
		return s, nil
	}
	if w.Iterations < 0 || !(w.StartFactor > 0 && w.StartFactor <= 1) {
		return nil, fmt.Errorf("warmup: iterations %d must be ≥ 0 and start_factor %v in (0, 1]", w.Iterations, w.StartFactor)
	}
	return &warmed{Schedule: s, n: w.Iterations, factor: w.StartFactor}, nil
}

// warmed is a schedule behind a Warmup.
type warmed struct {
	Schedule            // the schedule after the milestone
	n           int     // the milestone: steps of warmup
	factor      float64 // LinearLR's start_factor
	base, first float64 // the trial's base rate; the rate the ramp reaches
	steps, k    int     // Step calls of the whole trial; made so far
	lr          float64 // the ramp's rate while k < n
}

func (w *warmed) Start(base float64, steps int) {
	w.base, w.steps, w.k = base, steps, 0
	w.first = base
	if ir, ok := w.Schedule.(InitialRater); ok {
		w.first = ir.InitialRate(base)
	}
	w.lr = LinearLR(w.first, 0, w.n, w.factor, 1)
}

func (w *warmed) Rate() float64 {
	if w.k < w.n {
		return w.lr
	}
	return w.Schedule.Rate()
}

func (w *warmed) Step(monitored float64) {
	w.k++
	switch {
	case w.k < w.n:
		w.lr = LinearLR(w.lr, w.k, w.n, w.factor, 1)
	case w.k == w.n:
		w.Schedule.Start(w.base, max(1, w.steps-w.n))
	default:
		w.Schedule.Step(monitored)
	}
}

// ScheduleSpec is training.schedule in an experiment: a schedule plugin's
// name and options, when it steps, and an optional warmup in front of it.
// It is written as a name (`schedule: cosine`) or a mapping:
//
//	schedule: {type: step, step_size: 10, gamma: 0.5, interval: epoch, warmup: {iterations: 3}}
type ScheduleSpec struct {
	Type     string         // the schedule plugin's name
	Options  map[string]any // its options
	Interval string         // IntervalEpoch or IntervalIteration; "" is the schedule's DefaultInterval
	Warmup   Warmup
}

// DecodeOption reads a schedule's name, or a mapping with type, the
// schedule's options, interval and warmup. The options are checked when
// the schedule is built (NewSchedule).
func (s *ScheduleSpec) DecodeOption(raw any) error {
	*s = ScheduleSpec{Options: map[string]any{}}
	_ = DecodeOptions(&s.Warmup, nil) // its defaults
	switch x := raw.(type) {
	case string:
		s.Type = x
		return nil
	case map[string]any:
		name, ok := x["type"].(string)
		if !ok {
			return fmt.Errorf("needs a type (a schedule's name), got %s", Describe(x["type"]))
		}
		s.Type = name
		for k, v := range x {
			switch k {
			case "type":
			case "interval":
				iv, _ := v.(string)
				if iv != IntervalEpoch && iv != IntervalIteration {
					return &OptionError{Option: "interval", Err: fmt.Errorf("must be %s or %s, got %s", IntervalEpoch, IntervalIteration, Describe(v))}
				}
				s.Interval = iv
			case "warmup":
				w, ok := v.(map[string]any)
				if !ok {
					return &OptionError{Option: "warmup", Err: fmt.Errorf("must be a mapping {iterations: N, start_factor: f}, got %s", Describe(v))}
				}
				if err := DecodeOptions(&s.Warmup, w); err != nil {
					var oe *OptionError
					if errors.As(err, &oe) {
						return &OptionError{Option: "warmup." + oe.Option, Unknown: oe.Unknown, Err: oe.Err}
					}
					return err
				}
			default:
				s.Options[k] = v
			}
		}
		return nil
	}
	return fmt.Errorf("must be a schedule's name or a mapping {type: NAME, ...}, got %s", Describe(raw))
}

// NewSchedule builds the schedule a spec names from r, behind its warmup,
// and returns it with its interval: the spec's, or the schedule's default.
func NewSchedule(r *Registry[Schedule], spec ScheduleSpec) (Schedule, string, error) {
	s, err := r.New(spec.Type, spec.Options)
	if err != nil {
		return nil, "", err
	}
	interval := spec.Interval
	if interval == "" {
		interval = s.DefaultInterval()
	}
	w, err := spec.Warmup.Wrap(s)
	return w, interval, err
}
