package framework

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SweepInfo identifies a sweep: one experiment file run against one store.
type SweepInfo struct {
	Name       string // the experiment's name, unique in a store
	ConfigHash string // hash of the canonical experiment document
	Config     string // the experiment file as run (YAML text)
	Seed       uint64 // sweep seed; trial seeds derive from it
	Metric     string // ranking metric: val_loss, val_accuracy, train_loss, time_to_target
	// Planned is the number of trials the experiment has (0 if unknown;
	// not stored: derived from Config), so a summary of a part of the sweep
	// (a shard, a partial merge) can say so.
	Planned int
	Started time.Time //
	// DataID is the identity of the files the sweep reads (data, MNIST,
	// init_from): one line per file, "<sha256 hex> <size> <path>", in the
	// order they are read; empty when the data is built in or generated
	// (the config determines it). A resume refuses data that changed.
	DataID string
	// Growing a stored sweep (not stored; set by the runner): GrowsFrom is
	// the stored sweep's config hash when this experiment changes only
	// which trials it has (grid, random, include, exclude, repeats); the
	// store then keeps the stored trials if each is planned again
	// unchanged, adds the new ones and stores this config. NotGrowth says
	// otherwise why it does not only add trials ("" if unknown), for the
	// store's refusal. GrewFrom is the number of trials the stored sweep
	// planned, Kept the trials of it stored here (this shard's).
	GrowsFrom, NotGrowth string
	GrewFrom, Kept       int
	// Proposes is set for a sweep whose trials are not all planned before
	// it runs (tpe proposes settings as trials finish): a stored trial
	// missing from the plans is then one the run will propose and check,
	// not one a grown config dropped.
	Proposes bool
}

// Growth says how a grown sweep grew: "grew from 48 to 72 trials, 48
// kept"; "" unless it grows (GrowsFrom set).
func (i SweepInfo) Growth() string {
	if i.GrowsFrom == "" {
		return ""
	}
	return fmt.Sprintf("grew from %d to %d trials, %d kept", i.GrewFrom, i.Planned, i.Kept)
}

// TrialPlan is one trial of a sweep: a grid point and a repeat.
type TrialPlan struct {
	ID     string // stable: derived from the sweep name, the grid point's settings and the repeat
	Sweep  string // sweep name
	Index  int    // position in the sweep's fixed trial order (0-based)
	Point  int    // grid point index (0-based); repeats of a point share it
	Repeat int    // 0-based repeat of the point
	Seed   uint64 // the trial's seed, derived from the sweep seed and the point's settings and Repeat (or Repeat alone with paired_seeds), never Index
	// Params holds every setting of the trial as dotted keys, as in grid:
	// "training.learning_rate": 0.1, "optimizer.type": "adam", ...
	Params map[string]any
	// Varied lists the keys of Params that the grid or random search set.
	Varied []string
	// BatchLossEvery is how a store thins the per-iteration batch loss:
	// it keeps every n-th (the first and any non-finite one always, and a
	// diverged trial's last updates); 0 or 1 keeps all, a negative value
	// none. Sinks still see every iteration.
	BatchLossEvery int
}

// TrialSettings are the settings every sink shows, typed. They are decoded
// from Params (the stored form) by the experiment schema's own decoders.
type TrialSettings struct {
	Training        TrainConfig // BatchSize 0 is full batch (when HasBatchSize); Seed is not set
	HasBatchSize    bool        // the params give a batch size (a number or full)
	Optimizer       string      // the optimizer plugin's name
	Loss            string      // the loss plugin's name
	ValidationSplit float64
}

// Settings decodes the trial's typed settings from its Params. Values a
// stored trial lacks or that do not decode (a sweep stored by another
// version) are left at their zero values: the sweep checked them when it
// was planned.
func (p TrialPlan) Settings() TrialSettings {
	var s TrialSettings
	training := paramSection(p.Params, "training")
	decodeKnown(&s.Training, training)
	_, s.HasBatchSize = training["batch_size"]
	var d DataOptions
	decodeKnown(&d, paramSection(p.Params, "dataset"))
	s.ValidationSplit = d.ValidationSplit
	s.Optimizer, _ = p.Params["optimizer.type"].(string)
	s.Loss, _ = p.Params["loss.type"].(string)
	return s
}

// paramSection gathers the dotted keys under section into nested mappings:
// {"training.stop.patience": 5} is {"stop": {"patience": 5}} in "training".
func paramSection(params map[string]any, section string) map[string]any {
	out := map[string]any{}
	for k, v := range params {
		rest, ok := strings.CutPrefix(k, section+".")
		if !ok {
			continue
		}
		m := out
		parts := strings.Split(rest, ".")
		for _, part := range parts[:len(parts)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// Setting is the value the trial gave a dotted key: Params[key], or the
// mapping stored under it as key.a, key.b, ... (a schedule given as
// {type: step, step_size: 2}); nil if none.
func (p TrialPlan) Setting(key string) any {
	if v, ok := p.Params[key]; ok {
		return v
	}
	if m := paramSection(p.Params, key); len(m) > 0 {
		return m
	}
	return nil
}

// Flow writes a setting as in a YAML flow: 500, adam, "2", [4, 8], {a: 1}.
// A string is quoted when it would read back as something else.
func Flow(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if _, err := strconv.ParseFloat(x, 64); err == nil || x == "" || x != strings.TrimSpace(x) ||
			strings.ContainsAny(x, ",[]{}:#\"'&*!|>%@`") || slices.Contains([]string{"true", "false", "null", "~", "yes", "no", "on", "off"}, strings.ToLower(x)) {
			return strconv.Quote(x)
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, c := range x {
			parts[i] = Flow(c)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, Flow(k)+": "+Flow(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// TrialOutcome is a finished trial as recorded.
type TrialOutcome struct {
	Status Status
	Error  string // for failed trials
	Result Result // the trainer's result (zero for failed trials that never trained)
	Ended  time.Time
}

// Sink receives what a sweep produces: the SQLite store, live metrics and
// progress displays implement it. Iteration is called for every weight
// update. Calls for one trial come from one
// goroutine in order; calls for different trials may be concurrent, so a
// Sink must be safe for concurrent use. Sinks must not block training for
// long (buffer, batch, drop).
type Sink interface {
	SweepStarted(s SweepInfo, trials []TrialPlan)
	TrialStarted(t *TrialPlan)
	Iteration(t *TrialPlan, s IterationStats)
	Epoch(t *TrialPlan, s EpochStats)
	TrialFinished(t *TrialPlan, o TrialOutcome)
	SweepFinished(s SweepInfo, summary SweepSummary)
}

// IterationSink is a Sink that keeps state per trial and takes a trial's
// weight updates in batches: the runner calls IterationRecorder once per
// trial, after TrialStarted, and gives the trial's updates to the function
// it returns instead of to Sink.Iteration, in order, as slices of
// consecutive updates. A batch ends after IterationBatch updates or
// IterationBatchSeconds of training, and before every Epoch and
// TrialFinished (a pruner pauses trials only at an epoch's end). The
// slice is reused once the function returns. At batch size 1 an update
// takes a few µs, so a call, a look-up and a lock per update per sink are
// worth sparing.
type IterationSink interface {
	Sink
	IterationRecorder(t *TrialPlan) func(updates []IterationStats)
}

// LayerSink is a Sink that also takes a trial's layer statistics
// (record.layer_stats_every), from the trial's goroutine, when they are
// measured: an IterationSink may not have had the batch that holds that
// update yet. stats is reused after the call.
type LayerSink interface {
	LayerStats(t *TrialPlan, iteration int, stats []LayerStats)
}

// The most updates, and training seconds, in one batch given to an
// IterationSink's recorder: they bound how far live metrics lag behind.
const (
	IterationBatch        = 64
	IterationBatchSeconds = 0.05
)

// SweepSummary is the state of a sweep when a run ends, as ranked by
// package results over the stored sweep (every trial the store holds, not
// only this run's).
type SweepSummary struct {
	Counts    map[Status]int // stored trials by state
	RunCounts map[Status]int // trials this run finished, by state
	Seconds   float64        // wall time of this run
	// Best is the first trial of the best grid point (nil if no point has
	// a value); BestValue, BestStd and BestN its metric's mean, sample std
	// (NaN with one value) and number of values over its repeats; BestNote
	// says when it is not a plain completed point ("pruned at epoch 3").
	Best      *TrialPlan
	BestValue float64
	BestStd   float64
	BestN     int
	BestNote  string
	// Tied counts the settings the repeats cannot tell from the best.
	Tied int
	// Stored trials summarised, of Planned in the experiment; Coverage says
	// it in words when they differ or some have not finished ("" if all).
	Stored, Planned int
	Coverage        string
	// Headline is the one-line answer, as 'sweep best' would give it.
	Headline    string
	Iterations  int64 // weight updates done in this run
	SavedIters  int64 // iterations a pruner avoided in this run (estimate: planned − done for pruned trials)
	Interrupted bool
	// Grew says how this run grew the stored sweep (SweepInfo.Growth), or "".
	Grew string
	// KeptWeights is the file keep_best wrote ("" if it wrote none: no
	// trial of this run completed with a value of the metric).
	KeptWeights string
}

// Standing is a running sweep's best grid point so far, ranked as 'sweep
// best' ranks (package results): the mean of the metric over the point's
// repeats.
type Standing struct {
	Metric string
	Plan   *TrialPlan // the point's first trial
	Mean   float64
	N      int    // values in the mean
	Note   string // "" for a plain completed point, else e.g. "pruned at epoch 3"
}

// A StandingSink is a Sink told each time the sweep's best grid point, or
// its value, changes. Calls may come from several goroutines.
type StandingSink interface {
	Standing(sweep string, s Standing)
}

// SweepData is everything stored about one sweep, as read back by reports
// and exports (from the database alone).
type SweepData struct {
	Info   SweepInfo
	Trials []TrialData
}

// TrialData is one trial with its recorded outcome and series.
type TrialData struct {
	Plan        TrialPlan
	Status      Status
	Error       string
	StopReason  string
	Started     time.Time
	Ended       time.Time
	Seconds     float64
	Epochs      int
	Iterations  int
	Samples     int
	Final       EpochStats // last epoch's metrics (NaN where absent)
	BestValLoss float64
	// Divergence: the iteration whose loss was not finite or exploded, and
	// the last finite batch loss before it.
	DivergedIteration int
	LastFiniteLoss    float64
	TimeToTarget      float64 // seconds to reach training.stop.target_loss (NaN if not reached)
	EpochSeries       []EpochStats
	BatchLoss         []IterationStats // possibly thinned
	// Layers is the gradient flow (record.layer_stats_every), by
	// iteration then layer; nil if not recorded.
	Layers []LayerPoint
}
