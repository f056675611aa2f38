package sweep_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/sweep"
)

// updateLog keeps, per trial, the iterations of the updates it was given,
// and checks that they had all arrived when the trial's Epoch and
// TrialFinished did.
type updateLog struct {
	mu      sync.Mutex
	iters   map[string][]int
	batches int
	errs    []string
}

func newUpdateLog() *updateLog { return &updateLog{iters: map[string][]int{}} }

func (l *updateLog) add(t *framework.TrialPlan, updates []framework.IterationStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches++
	if len(updates) == 0 || len(updates) > framework.IterationBatch {
		l.errs = append(l.errs, fmt.Sprintf("trial %s: a batch of %d updates", t.ID, len(updates)))
	}
	for _, u := range updates {
		l.iters[t.ID] = append(l.iters[t.ID], u.Iteration)
	}
}

// check says whether trial t's updates so far end at iteration want.
func (l *updateLog) check(t *framework.TrialPlan, event string, want int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := 0
	if it := l.iters[t.ID]; len(it) > 0 {
		got = it[len(it)-1]
	}
	if got != want {
		l.errs = append(l.errs, fmt.Sprintf("trial %s: at %s the updates given end at iteration %d, want %d", t.ID, event, got, want))
	}
}

func (l *updateLog) SweepStarted(framework.SweepInfo, []framework.TrialPlan) {}
func (l *updateLog) TrialStarted(*framework.TrialPlan)                       {}
func (l *updateLog) Iteration(t *framework.TrialPlan, s framework.IterationStats) {
	l.add(t, []framework.IterationStats{s})
}
func (l *updateLog) Epoch(t *framework.TrialPlan, s framework.EpochStats) {
	l.check(t, fmt.Sprintf("epoch %d", s.Epoch), s.Iteration)
}
func (l *updateLog) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	l.check(t, "finish ("+string(o.Status)+")", o.Result.Iterations)
}
func (l *updateLog) SweepFinished(framework.SweepInfo, framework.SweepSummary) {}

// batchedLog takes updates through IterationRecorder, as the store and
// the metrics do.
type batchedLog struct{ *updateLog }

func (b batchedLog) IterationRecorder(t *framework.TrialPlan) func([]framework.IterationStats) {
	return func(updates []framework.IterationStats) { b.add(t, slices.Clone(updates)) }
}

// An IterationSink gets every update once, in order, in batches of at most
// IterationBatch, and all of them before the Epoch and TrialFinished they
// lead to: for trials that diverge, and for trials a pruner pauses at a
// rung and resumes. A plain Sink gets the same updates one by one.
func TestUpdatesReachSinksInBatches(t *testing.T) {
	p := prepare(t, src+"pruner: {type: asha, min_epochs: 1, eta: 3}\n")
	batched, plain, c := batchedLog{newUpdateLog()}, newUpdateLog(), newCollector()
	sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Sinks: []framework.Sink{batched, plain, c}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*updateLog{batched.updateLog, plain} {
		for _, msg := range l.errs {
			t.Error(msg)
		}
	}
	var total int64
	statuses := map[framework.Status]int{}
	for _, plan := range p.Plans {
		o, ok := c.outcomes[plan.ID]
		if !ok {
			t.Fatalf("trial %s did not finish", plan.ID)
		}
		statuses[o.Status]++
		want := make([]int, o.Result.Iterations)
		for i := range want {
			want[i] = i + 1
		}
		total += int64(len(want))
		if got := batched.iters[plan.ID]; !slices.Equal(got, want) {
			t.Errorf("trial %s (%s): the recorder got iterations %v, want 1…%d", plan.ID, o.Status, got, len(want))
		}
		if got := plain.iters[plan.ID]; !slices.Equal(got, want) {
			t.Errorf("trial %s (%s): Sink.Iteration got iterations %v, want 1…%d", plan.ID, o.Status, got, len(want))
		}
	}
	if sum.Iterations != total {
		t.Errorf("summary counts %d updates, the trials %d", sum.Iterations, total)
	}
	if statuses[framework.Diverged] == 0 || statuses[framework.Pruned] == 0 {
		t.Errorf("statuses %v: the test needs diverged and pruned trials", statuses)
	}
	if batched.batches*4 > plain.batches {
		t.Errorf("%d batches for %d updates: the updates were hardly batched", batched.batches, plain.batches)
	}
}
