// Package results is gradsweep's one vocabulary of results: the ranking
// metrics (each defined once: name, direction, how it is read from a
// trial, when it applies), the ranking of grid points over their repeats
// (where diverged, failed and pruned points go, and whether the top is
// distinguishable from the next ones), and the summary of a stored sweep.
// The runner, the SQLite store, the live metrics, the report and the
// command line all answer "which setting is best?" through this package,
// so they cannot disagree.
package results

import (
	"fmt"
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// Metric is a ranking metric.
type Metric struct {
	Name string
	// HigherIsBetter is true for accuracies; losses and times rank lowest
	// first.
	HigherIsBetter bool
	// Doc says what the metric is, for help texts and the README.
	Doc string
	// needs is what a sweep must have for the metric to exist.
	needs need
	// epoch reads the metric from one epoch's statistics; nil for metrics
	// that are not per-epoch (time_to_target).
	epoch func(e *framework.EpochStats) float64
}

type need int

const (
	needValidation need = 1 << iota
	needClassification
	needTarget
)

// The ranking metrics, in the order help texts list them.
var metrics = []Metric{
	{Name: "val_loss", Doc: "loss on the validation split, evaluated after the last epoch", needs: needValidation,
		epoch: func(e *framework.EpochStats) float64 { return e.ValLoss }},
	{Name: "val_accuracy", HigherIsBetter: true, Doc: "fraction of the validation split classified correctly after the last epoch",
		needs: needValidation | needClassification, epoch: func(e *framework.EpochStats) float64 { return e.ValAccuracy }},
	{Name: "train_loss", Doc: "running mean of the last epoch's batch losses, each computed before its update, weighted by batch size",
		epoch: func(e *framework.EpochStats) float64 { return e.TrainLoss }},
	{Name: "train_accuracy", HigherIsBetter: true, Doc: "running, batch-size-weighted accuracy of the last epoch's batches, before each update",
		needs: needClassification, epoch: func(e *framework.EpochStats) float64 { return e.TrainAccuracy }},
	{Name: "time_to_target", Doc: "training seconds until an epoch's train_loss reached training.stop.target_loss", needs: needTarget},
}

// Names lists the ranking metrics.
func Names() []string {
	out := make([]string, len(metrics))
	for i, m := range metrics {
		out[i] = m.Name
	}
	return out
}

// Lookup finds a metric by name; an unknown name is an error that lists
// the known ones and suggests the closest.
func Lookup(name string) (Metric, error) {
	for _, m := range metrics {
		if m.Name == name {
			return m, nil
		}
	}
	return Metric{}, framework.UnknownNameError("metric", name, Names())
}

// MustLookup is Lookup for names known to be valid (stored sweeps were
// checked when they were run); an unknown name falls back to val_loss.
func MustLookup(name string) Metric {
	if m, err := Lookup(name); err == nil {
		return m
	}
	return metrics[0]
}

// Better says whether value a beats value b. NaN never beats anything.
func (m Metric) Better(a, b float64) bool {
	if math.IsNaN(a) {
		return false
	}
	if math.IsNaN(b) {
		return true
	}
	if m.HigherIsBetter {
		return a > b
	}
	return a < b
}

// Direction is "higher is better" or "lower is better".
func (m Metric) Direction() string {
	if m.HigherIsBetter {
		return "higher is better"
	}
	return "lower is better"
}

// Value reads the metric of a trial's last finished epoch (NaN when the
// trial has none, or has not reached the target).
func (m Metric) Value(t *framework.TrialData) float64 {
	if m.epoch == nil {
		return t.TimeToTarget
	}
	return m.epoch(&t.Final)
}

// At reads the metric at the end of the given epoch (1-based), from the
// trial's epoch series; NaN when the trial did not finish that epoch. For
// time_to_target it is the time to target if the target was reached by
// then.
func (m Metric) At(t *framework.TrialData, epoch int) float64 {
	if m.epoch == nil {
		if math.IsNaN(t.TimeToTarget) {
			return math.NaN()
		}
		for _, e := range t.EpochSeries {
			if e.Epoch == epoch {
				if t.TimeToTarget <= e.Seconds {
					return t.TimeToTarget
				}
				return math.NaN()
			}
		}
		return math.NaN()
	}
	for i := range t.EpochSeries {
		if t.EpochSeries[i].Epoch == epoch {
			return m.epoch(&t.EpochSeries[i])
		}
	}
	if t.Final.Epoch == epoch {
		return m.epoch(&t.Final)
	}
	return math.NaN()
}

// Setting is what a sweep has that decides which metrics exist for it.
type Setting struct {
	Validation     bool // a validation split (dataset.validation_split > 0, or varied)
	Classification bool // class labels (accuracy exists)
	Target         bool // training.stop.target_loss is set (or varied)
}

// Applies returns nil when the metric can have a value in a sweep with
// the given setting, else an error saying why not and what to do.
func (m Metric) Applies(s Setting) error {
	switch {
	case m.needs&needValidation != 0 && !s.Validation:
		return fmt.Errorf("%s needs a validation split: set dataset.validation_split (e.g. 0.2), or rank by train_loss", m.Name)
	case m.needs&needClassification != 0 && !s.Classification:
		return fmt.Errorf("%s needs a classification task: this sweep's data is a regression, so rank by a loss", m.Name)
	case m.needs&needTarget != 0 && !s.Target:
		return fmt.Errorf("%s needs training.stop.target_loss: without a target no trial can have a time to it", m.Name)
	}
	return nil
}
