package sweep

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// ResultsReader is a Store that reads a sweep's trials back (outcomes and
// epoch series, without batch losses). With one, the run's summary and its
// live best cover every stored trial (earlier runs, other processes), not
// only the trials this run trained.
type ResultsReader interface {
	Flush() error // commit everything given so far
	LoadResults(sweep string) ([]framework.TrialData, error)
}

// seedBoard ranks the trials an earlier run or another process finished,
// so the live best starts from the stored sweep.
func (r *run) seedBoard() error {
	if r.opt.Store == nil {
		return nil
	}
	stored, err := r.opt.Store.Finished(r.info.Name)
	if err != nil {
		return err
	}
	r.stored = stored
	for i := range r.stored {
		r.noteStanding(r.board.Add(&r.stored[i].Plan, &r.stored[i]))
	}
	return nil
}

// noteStanding tells the StandingSinks about a new best point.
func (r *run) noteStanding(best results.Point, changed bool) {
	if !changed || best.N() == 0 {
		return
	}
	plan := best.Plan
	st := framework.Standing{Metric: r.metric.Name, Plan: &plan, Mean: best.Mean, N: best.N(), Note: best.Note()}
	for _, s := range r.sinks {
		if ss, ok := s.(framework.StandingSink); ok {
			ss.Standing(r.info.Name, st)
		}
	}
}

// summary is the sweep's state when the run ends. It is computed from the
// stored sweep when the store can read it back, so after a resume, beside
// other processes, or in a shard it says what 'sweep best' says, and how
// much of the sweep that covers; without such a store, from the trials
// this run saw.
func (r *run) summary(ctx context.Context) (framework.SweepSummary, error) {
	sum := framework.SweepSummary{Counts: map[framework.Status]int{}, Seconds: time.Since(r.start).Seconds(),
		Iterations: r.iters.Load(), SavedIters: r.saved.Load(), Interrupted: ctx.Err() != nil}
	sum.RunCounts = map[framework.Status]int{}
	r.mu.Lock()
	for st, n := range r.counts {
		if n > 0 && st != framework.Running {
			sum.RunCounts[st] = n
		}
	}
	r.mu.Unlock()
	var trials []framework.TrialData
	if rr, ok := r.opt.Store.(ResultsReader); ok {
		if err := rr.Flush(); err != nil {
			return sum, err
		}
		var err error
		if trials, err = rr.LoadResults(r.info.Name); err != nil {
			return sum, fmt.Errorf("summary of sweep %s: %w", r.info.Name, err)
		}
	} else {
		r.mu.Lock()
		trials = append(trials, r.seen...)
		r.mu.Unlock()
	}
	s := results.Summarize(r.metric, trials, r.info.Planned)
	for st, n := range s.Counts {
		sum.Counts[st] = n
	}
	sum.Stored, sum.Planned = s.Trials, s.Planned
	sum.Coverage = s.Coverage()
	sum.Headline = s.Headline(results.Describe)
	sum.BestValue = math.NaN()
	if b := s.Best(); b != nil {
		plan := b.Plan
		sum.Best, sum.BestValue, sum.BestStd, sum.BestN, sum.BestNote = &plan, b.Mean, b.Std, b.N(), b.Note()
		sum.Tied = results.TiedWithTop(s.Ranked)
	}
	return sum, nil
}
