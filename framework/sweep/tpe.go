package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/results"
)

// A tpe sweep (experiment.TPE) knows only its startup settings when it
// starts; the others are proposed batch by batch as it runs. Proposals
// happen in one place, propose, between batches: when every setting so
// far has finished (here or in another process sharing the store), the
// next batch is proposed from their results, read in trial order from the
// store (or from this run's memory without one) and ranked as results.Rank
// ranks points. Those results are bit-identical whatever the workers, so
// the proposals are too; and since they are a function of the stored
// results alone, a resumed run, or a second process, re-derives every
// earlier batch exactly (its trials have the same ids, already stored)
// before it runs anything new. The batches' trials are registered in the
// store with PrepareSweep as they are proposed.

// tpePoll is how often a run waits for the settings that other processes
// are training before it can propose the next batch.
const tpePoll = 100 * time.Millisecond

// runTPE runs a tpe sweep: the trials proposed so far (on the workers,
// or in rungs with a pruner), then the next batch, until every setting has
// finished, ctx is cancelled or a failure stops the sweep.
func (r *run) runTPE(ctx context.Context) error {
	for {
		if err := r.propose(); err != nil {
			return err
		}
		var err error
		if r.prep.Exp.Pruner != nil {
			err = r.runPruned(ctx)
		} else {
			err = r.runPool(ctx)
		}
		if err != nil || ctx.Err() != nil || r.stopped() {
			return err
		}
		done, err := r.finishedTrials()
		if err != nil {
			return err
		}
		ranked, complete := r.tpeRanking(done)
		switch {
		case !complete: // other processes are training some: wait for them
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(tpePoll):
			}
		case len(ranked) == r.prep.Exp.TPE.Trials:
			return nil
		}
	}
}

// propose adds every batch that can be proposed now: while every setting
// so far has finished, the next batch, from their results. Its trials are
// checked as Prepare checks trials, and registered in the store.
func (r *run) propose() error {
	grown := false
	for {
		done, err := r.finishedTrials()
		if err != nil {
			return err
		}
		ranked, complete := r.tpeRanking(done)
		if !complete {
			break
		}
		pts := r.prep.Exp.NextBatch(r.prep.points, ranked)
		if len(pts) == 0 {
			break
		}
		if err := r.prep.addPoints(pts, r.opt.Registries); err != nil {
			return err
		}
		grown = true
	}
	if !grown {
		return r.queue.checkHeld()
	}
	if r.opt.Store != nil {
		if err := r.opt.Store.PrepareSweep(r.info, r.prep.Plans, false); err != nil {
			return err
		}
	}
	r.queue.setPlans(r.prep.Plans)
	return r.queue.checkHeld()
}

// tpeRanking ranks the settings proposed so far by their finished trials
// (done, of any sweep part and order): the indices of the settings, best
// first, as results.Rank orders points (the mean over repeats; pruned,
// diverged and failed ones after every completed one). complete is false
// while some trial of them has not finished.
func (r *run) tpeRanking(done []framework.TrialData) (ranked []int, complete bool) {
	plans := r.prep.Plans
	byID := make(map[string]int, len(plans))
	for i := range plans {
		byID[plans[i].ID] = i
	}
	mine := make([]framework.TrialData, 0, len(plans))
	for _, td := range done {
		if i, ok := byID[td.Plan.ID]; ok {
			td.Plan = plans[i] // the point index this run gave it
			mine = append(mine, td)
			delete(byID, td.Plan.ID)
		}
	}
	if len(byID) > 0 {
		return nil, false
	}
	for _, pt := range results.Rank(r.metric, mine) {
		ranked = append(ranked, pt.Point)
	}
	return ranked, true
}

// finishedTrials are the sweep's finished trials: the store's (every
// process's and every earlier run's, after committing this run's), or
// without a store this run's.
func (r *run) finishedTrials() ([]framework.TrialData, error) {
	if r.opt.Store == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]framework.TrialData(nil), r.done...), nil
	}
	if rr, ok := r.opt.Store.(ResultsReader); ok {
		if err := rr.Flush(); err != nil {
			return nil, err
		}
	}
	return r.opt.Store.Finished(r.info.Name)
}

// addPoints appends the trials of new settings to the prepared sweep,
// each resolved and checked as Prepare does.
func (p *Prepared) addPoints(pts []experiment.Point, reg framework.Registries) error {
	from := len(p.Plans)
	plans, err := p.Exp.AppendPlans(p.Plans, pts)
	if err != nil {
		return err
	}
	if err := p.resolve(plans[from:], reg); err != nil {
		return err
	}
	p.Plans = plans
	p.points = append(p.points, pts...)
	return nil
}

// tpeShardError refuses --shard for a tpe sweep: a batch is proposed from
// every setting before it, so no part of the sweep can run alone.
func tpeShardError(e *experiment.Experiment) error {
	return &experiment.Error{File: e.File, Line: e.Line("tpe"), Key: "tpe",
		Msg: "a tpe sweep cannot be sharded (each batch is proposed from every finished setting before it): run it without --shard, in one process or in several sharing the database"}
}

// setPlans gives the queue the grown list of trials.
func (q *queue) setPlans(plans []framework.TrialPlan) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.plans = plans
}

// checkHeld fails when a trial claimed from the store before this run
// proposed it is still unknown once the run has proposed what it can:
// the store holds settings this run would not propose.
func (q *queue) checkHeld() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, pl := range q.held {
		if !q.isKnown(pl) {
			return fmt.Errorf("sweep %q: stored trial %s (index %d) is not one this run proposes: the database holds another sequence of tpe settings", q.sweep, pl.ID, pl.Index)
		}
	}
	return nil
}

// isKnown reports whether a claimed trial is one of the queue's plans.
func (q *queue) isKnown(pl framework.TrialPlan) bool {
	return pl.Index >= 0 && pl.Index < len(q.plans) && q.plans[pl.Index].ID == pl.ID
}
