package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// Summary is the answer a sweep gives so far, computed from its trials as
// stored: counts by state, the best grid point and what is tied with it,
// and how much of the sweep the trials cover.
type Summary struct {
	Metric Metric
	Counts map[framework.Status]int
	// Trials is the number of trials summarised; Planned the number the
	// experiment has (0 when unknown). A shard's database, or a merge of
	// some shards, holds a part: Trials < Planned.
	Trials, Planned int
	// Ranked is every grid point, best first (see Rank).
	Ranked []Point
}

// Summarize ranks the trials by the metric. planned is the experiment's
// number of trials (0 if unknown).
func Summarize(m Metric, trials []framework.TrialData, planned int) Summary {
	s := Summary{Metric: m, Counts: map[framework.Status]int{}, Trials: len(trials), Planned: planned, Ranked: Rank(m, trials)}
	for i := range trials {
		s.Counts[trials[i].Status]++
	}
	return s
}

// Best is the top grid point when it has a value (nil otherwise: nothing
// finished, or every point diverged).
func (s *Summary) Best() *Point {
	if len(s.Ranked) == 0 || s.Ranked[0].N() == 0 {
		return nil
	}
	return &s.Ranked[0]
}

// Finished counts the trials that ended (completed, diverged, failed or
// pruned).
func (s *Summary) Finished() int {
	return s.Counts[framework.Completed] + s.Counts[framework.Diverged] + s.Counts[framework.Failed] + s.Counts[framework.Pruned]
}

// Coverage says what part of the sweep the summary covers: "" when it is
// all of it and every trial finished, else "14 of 20 trials finished" or
// "5 of 20 trials stored (a part of the sweep: a shard or a partial
// merge)".
func (s *Summary) Coverage() string {
	switch {
	case s.Planned > 0 && s.Trials < s.Planned:
		return fmt.Sprintf("%d of %d trials stored, %d finished (a part of the sweep: a shard or a partial merge)", s.Trials, s.Planned, s.Finished())
	case s.Finished() < s.Trials:
		return fmt.Sprintf("%d of %d trials finished", s.Finished(), s.Trials)
	}
	return ""
}

// Headline is the one-line answer: the best setting's mean ± std over its
// repeats, its trials, and whether the next settings are distinguishable
// from it. describe names a setting.
func (s *Summary) Headline(describe func(framework.TrialPlan) string) string {
	b := s.Best()
	if b == nil {
		if len(s.Ranked) > 0 && s.Ranked[0].Class == Broken {
			return fmt.Sprintf("no setting has a %s: every repeat of every setting diverged or failed", s.Metric.Name)
		}
		return fmt.Sprintf("no setting has a %s yet", s.Metric.Name)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "best %s (mean over %s): %s with %s", s.Metric.Name, repeatsText(b), MeanStdText(b), describe(b.Plan))
	if note := b.Note(); note != "" {
		fmt.Fprintf(&sb, " [%s]", note)
	}
	switch n := TiedWithTop(s.Ranked); {
	case n > 0:
		fmt.Fprintf(&sb, "; tied with %d other setting(s): the repeats cannot tell them apart (Welch's t-test, p ≥ %g)", n, Alpha)
	case len(s.Ranked) > 1 && s.Ranked[1].Compared:
		fmt.Fprintf(&sb, "; distinguishable from the next (p=%.2g)", s.Ranked[1].P)
	}
	return sb.String()
}

func repeatsText(p *Point) string {
	if p.N() == 1 {
		return "1 repeat"
	}
	return fmt.Sprintf("%d repeats", p.N())
}

// MeanStdText formats a point's "mean ± std" ("mean" alone with one value,
// "–" with none): never a NaN.
func MeanStdText(p *Point) string {
	if p.N() == 0 {
		return "–"
	}
	if p.N() == 1 {
		return Num(p.Mean)
	}
	return Num(p.Mean) + " ± " + Num(p.Std)
}

// Describe names a trial's setting by its varied parameters
// ("optimizer.type=sgd training.learning_rate=0.1"), or "the base
// settings" when nothing varies. Numbers print with four significant
// digits at most.
func Describe(t framework.TrialPlan) string {
	var parts []string
	for _, k := range t.Varied {
		v := t.Setting(k)
		text := framework.Flow(v)
		if f, ok := v.(float64); ok {
			// random search draws 0.0004726922417170728: four digits tell the settings apart
			text = strconv.FormatFloat(f, 'g', 4, 64)
		}
		parts = append(parts, k+"="+text)
	}
	if len(parts) == 0 {
		return "the base settings"
	}
	return strings.Join(parts, " ")
}

// Num formats a metric value with six significant digits.
func Num(v float64) string { return fmt.Sprintf("%.6g", v) }

// IncomparableNote warns when a loss metric ranks trials whose loss
// functions differ (the grid varies loss.type): each trial's loss is its
// own loss function's value, so an mse of 0.1 and a half_mse of 0.05 are
// the same fit. It returns "" when the ranking is sound.
func IncomparableNote(m Metric, trials []framework.TrialData) string {
	if !strings.HasSuffix(m.Name, "_loss") {
		return ""
	}
	kinds := map[string]bool{}
	for _, t := range trials {
		kinds[t.Plan.Settings().Loss] = true
	}
	if len(kinds) < 2 {
		return ""
	}
	return fmt.Sprintf("the trials use %d different loss functions, so their %s values are not comparable: rank within one loss.type (or by accuracy)", len(kinds), m.Name)
}

// SettingOf infers from a stored sweep's trials which metrics can exist:
// a validation split and a target from the trials' settings
// (dataset.validation_split, training.stop.target_loss), a classification
// task from accuracies recorded. Before any epoch finished, nothing can be
// told from the data and classification is assumed.
func SettingOf(trials []framework.TrialData) Setting {
	var s Setting
	epochs := false
	for i := range trials {
		t := &trials[i]
		set := t.Plan.Settings()
		s.Validation = s.Validation || set.ValidationSplit > 0
		s.Target = s.Target || set.Training.HasTargetLoss
		if !math.IsNaN(t.TimeToTarget) {
			s.Target = true
		}
		for j := 0; j <= len(t.EpochSeries); j++ {
			e := t.Final
			if j < len(t.EpochSeries) {
				e = t.EpochSeries[j]
			}
			if e.Epoch > 0 {
				epochs = true
				if !math.IsNaN(e.TrainAccuracy) || !math.IsNaN(e.ValAccuracy) {
					s.Classification = true
				}
				if !math.IsNaN(e.ValLoss) {
					s.Validation = true
				}
			}
		}
	}
	if !epochs {
		s.Classification = true
	}
	return s
}
