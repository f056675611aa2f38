package results

import (
	"sync"

	"github.com/gradsweep/gradsweep/framework"
)

// Board keeps a running sweep's best grid point up to date as trials
// finish, ranking exactly as Rank does, so the live views (progress bar,
// Prometheus gauge) name the setting that 'sweep best' will. It keeps a
// small record per finished trial; epoch series only when the sweep can
// prune (a pruned point is valued at the epoch it was pruned at). Safe for
// concurrent use.
type Board struct {
	mu         sync.Mutex
	metric     Metric
	keepSeries bool
	points     map[int][]boardTrial
	best       Point
	hasBest    bool
}

type boardTrial struct {
	plan         *framework.TrialPlan
	status       framework.Status
	epochs       int
	final        framework.EpochStats
	timeToTarget float64
	series       []framework.EpochStats
}

// NewBoard makes a board ranking by m. keepSeries keeps each trial's
// epoch series, which ranking pruned points needs.
func NewBoard(m Metric, keepSeries bool) *Board {
	return &Board{metric: m, keepSeries: keepSeries, points: map[int][]boardTrial{}}
}

// Add records a finished trial (a later record of the same trial replaces
// the earlier one) and returns the best point and whether it changed.
// plan must stay valid while the board is used.
func (b *Board) Add(plan *framework.TrialPlan, t *framework.TrialData) (best Point, changed bool) {
	rec := boardTrial{plan: plan, status: t.Status, epochs: t.Epochs, final: t.Final, timeToTarget: t.TimeToTarget}
	if b.keepSeries {
		rec.series = t.EpochSeries
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	recs := b.points[plan.Point]
	replaced := false
	for i := range recs {
		if recs[i].plan.ID == plan.ID {
			recs[i], replaced = rec, true
		}
	}
	if !replaced {
		recs = append(recs, rec)
	}
	b.points[plan.Point] = recs
	p := b.score(plan.Point)
	old, had := b.best, b.hasBest
	switch {
	case !b.hasBest || compare(b.metric, &p, &b.best) < 0:
		b.best, b.hasBest = p, true
	case p.Point == b.best.Point:
		// The best point got worse: another may now lead.
		b.best = p
		for pt := range b.points {
			if q := b.score(pt); compare(b.metric, &q, &b.best) < 0 {
				b.best = q
			}
		}
	}
	changed = !had || old.Point != b.best.Point || !same(old.Mean, b.best.Mean) || old.N() != b.best.N() || old.Class != b.best.Class
	return b.best, changed
}

func same(a, b float64) bool { return a == b || (a != a && b != b) }

func (b *Board) score(pt int) Point {
	recs := b.points[pt]
	ts := make([]framework.TrialData, len(recs))
	ptrs := make([]*framework.TrialData, len(recs))
	for i, r := range recs {
		ts[i] = framework.TrialData{Plan: *r.plan, Status: r.status, Epochs: r.epochs, Final: r.final,
			TimeToTarget: r.timeToTarget, EpochSeries: r.series}
		ptrs[i] = &ts[i]
	}
	return score(b.metric, pt, ptrs)
}
