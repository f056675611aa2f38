package framework

// Pruner is a plugin kind: a rule that stops unpromising trials early. The
// sweep pauses its trials after each checkpoint epoch, gives the pruner the
// monitored values of every trial that reached it, and ends the trials it
// picks as pruned. A pruner sees trials in the sweep's fixed trial order
// (from this run and from earlier, interrupted runs alike), so its
// decisions do not depend on workers, processes or resumes.
type Pruner interface {
	// Checkpoints lists, ascending, the epochs after which decisions are
	// taken for trials of at most maxEpochs epochs (none at maxEpochs
	// itself: a trial that reached its end is finished, not pruned).
	Checkpoints(maxEpochs int) []int
	// Prune decides at one checkpoint; it returns which members are pruned.
	Prune(members []RungMember) []bool
}

// RungMember is one trial at a checkpoint.
type RungMember struct {
	Point int     // the trial's grid point: repeats of a point share it
	Value float64 // the monitored loss at the checkpoint (lower is better; NaN and +Inf rank last)
}

// Pruners is the default registry of pruners, filled by plugins/pruners.
var Pruners = NewRegistry[Pruner]("pruner")
