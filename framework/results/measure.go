package results

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// costs are what a trial spends, read like the ranking metrics (from its
// last finished epoch, or at a given epoch) so that a grid point's cost is
// its mean over repeats exactly as its metric is. They are not ranking
// metrics (an experiment's metric: and best --metric take the names in
// Names only), but a quality can be weighed against them (Pareto).
var costs = []Metric{
	{Name: "seconds", Doc: "wall-clock seconds of training up to the end of the last epoch",
		epoch: func(e *framework.EpochStats) float64 { return e.Seconds }},
	{Name: "iterations", Doc: "weight updates up to the end of the last epoch",
		epoch: func(e *framework.EpochStats) float64 { return float64(e.Iteration) }},
	{Name: "samples", Doc: "training samples seen up to the end of the last epoch",
		epoch: func(e *framework.EpochStats) float64 { return float64(e.Samples) }},
}

// MeasureNames lists every measure a grid point can be valued by: the
// ranking metrics (Names) and then the costs (seconds, iterations,
// samples).
func MeasureNames() []string {
	out := Names()
	for _, m := range costs {
		out = append(out, m.Name)
	}
	return out
}

// LookupMeasure finds a ranking metric or a cost by name; an unknown name
// is an error that lists MeasureNames and suggests the closest.
func LookupMeasure(name string) (Metric, error) {
	if m, err := Lookup(name); err == nil {
		return m, nil
	}
	for _, m := range costs {
		if m.Name == name {
			return m, nil
		}
	}
	return Metric{}, framework.UnknownNameError("measure", name, MeasureNames())
}

// LogScale says whether values of m are compared on the logarithm: for a
// loss, a time or a count (lower is better), whose spread grows with its
// size, when every value is positive. Accuracies, and any set with a
// value ≤ 0 or NaN, are compared as they are. The tie test, the
// hyperparameter importance and the report's log axes all ask this.
func (m Metric) LogScale(sets ...[]float64) bool {
	if m.HigherIsBetter {
		return false
	}
	for _, vs := range sets {
		for _, v := range vs {
			if !(v > 0) {
				return false
			}
		}
	}
	return true
}

// logs returns the natural logarithms of v.
func logs(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Log(x)
	}
	return out
}
