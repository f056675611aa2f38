package pruners

import "github.com/gradsweep/gradsweep/framework"

// Median is Optuna's MedianPruner rule: at every checkpoint (every Interval
// epochs from WarmupEpochs on), a trial whose monitored loss is above the
// median of the values the trials before it (in trial order) had at that
// checkpoint is pruned, once StartupTrials of them have reported.
type Median struct {
	WarmupEpochs  int `opt:"warmup_epochs" default:"1" range:"[0,1000000]" doc:"first epoch at which a trial may be pruned"`
	Interval      int `opt:"interval" default:"1" range:"[1,1000000]" doc:"epochs between checkpoints"`
	StartupTrials int `opt:"startup_trials" default:"5" range:"[1,1000000]" doc:"trials that must report at a checkpoint before any is pruned there"`
}

var _ = add(framework.Plugin[framework.Pruner]{Name: "median", Doc: "prune a trial worse than the median of the trials before it", New: func() framework.Pruner { return new(Median) }})

// Checkpoints are WarmupEpochs (at least 1), then every Interval epochs.
func (m *Median) Checkpoints(maxEpochs int) []int {
	var out []int
	for e := max(m.WarmupEpochs, 1); e < maxEpochs; e += max(m.Interval, 1) {
		out = append(out, e)
	}
	return out
}

// Prune compares each member with the members before it.
func (m *Median) Prune(members []framework.RungMember) []bool {
	pruned := make([]bool, len(members))
	var before []float64
	for i, r := range members {
		pruned[i] = len(before) >= m.StartupTrials && r.Value > median(before)
		before = append(before, r.Value)
	}
	return pruned
}
