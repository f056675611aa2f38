package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/gradsweep/gradsweep/framework"
)

// Class is where a grid point ranks: every point of a lower class ranks
// before every point of a higher one.
type Class int

const (
	// Complete: every finished repeat completed and has a value.
	Complete Class = iota
	// PrunedClass: a pruner stopped some repeat (none diverged or failed).
	// A pruner stops what it judged worse than what it let finish, so these
	// rank after the completed points: the ones that got further first,
	// then by their mean value at that epoch.
	PrunedClass
	// Unstable: some repeats diverged or failed, the others have a value
	// (ranked by the mean of those): a setting that blows up on some seeds
	// is worse than any that never does.
	Unstable
	// NoValue: nothing finished with a value yet (pending, running,
	// interrupted, or the metric never applied, such as a target never
	// reached).
	NoValue
	// Broken: every finished repeat diverged or failed.
	Broken
)

// Point is one grid point's standing: the metric over its repeats.
type Point struct {
	Point int
	Plan  framework.TrialPlan // the point's first trial (lowest repeat present)
	IDs   []string            // its trials' ids, by repeat
	Class Class
	// Mean and Std (sample, n−1) of Values; NaN where there are too few.
	Mean, Std float64
	// Values are the repeats' values that the mean is over: the final
	// values of completed repeats or, for a pruned point, every repeat's
	// value at epoch PrunedAt.
	Values []float64
	// PrunedAt is the epoch the earliest pruned repeat stopped at (0 if
	// none was pruned); the values of a pruned point are read there.
	PrunedAt int
	// Counts of the point's trials.
	Repeats, Completed, Diverged, Failed, Pruned, Unfinished int
	// Against the top point, when both have at least two values: the tie
	// test's p-value (Welch's t-test, see Metric.tieP; NaN where untested),
	// and whether the difference is below the significance level (Tied).
	// The top point has P = NaN.
	P        float64
	Tied     bool
	Compared bool // tested against the top point (same class, and for pruned points the same epoch)
}

// N is the number of values the mean is over.
func (p *Point) N() int { return len(p.Values) }

// tieP is the p-value of the tie test between two points' values: Welch's
// t-test, on the logarithms of the values for a metric that is a loss or
// a time (positive, and spread in proportion to its size: three repeats
// at 19, 786 and 5431 are no tie with three at 0.11 ± 0.02, though their
// raw spread hides it), on the values themselves for accuracies or when a
// value is not positive.
func (m Metric) tieP(a, b []float64) float64 {
	if !m.LogScale(a, b) {
		return WelchP(a, b)
	}
	return WelchP(logs(a), logs(b))
}

// Alpha is the significance level of the tie test: a point whose
// difference from the top has a two-sided Welch p-value ≥ Alpha is tied
// with it.
const Alpha = 0.05

// Rank groups trials by grid point and orders the points best first:
// by Class, then within a class as its doc says, then by point index.
// It also tests each point against the top one (see Point.Tied).
func Rank(m Metric, trials []framework.TrialData) []Point {
	byPoint := map[int][]*framework.TrialData{}
	var order []int
	for i := range trials {
		t := &trials[i]
		if _, ok := byPoint[t.Plan.Point]; !ok {
			order = append(order, t.Plan.Point)
		}
		byPoint[t.Plan.Point] = append(byPoint[t.Plan.Point], t)
	}
	out := make([]Point, 0, len(order))
	for _, pt := range order {
		out = append(out, score(m, pt, byPoint[pt]))
	}
	slices.SortStableFunc(out, func(a, b Point) int { return compare(m, &a, &b) })
	if len(out) > 0 {
		top := &out[0]
		top.P = math.NaN()
		for i := 1; i < len(out); i++ {
			p := &out[i]
			p.P = math.NaN()
			if p.Class != top.Class || (top.Class != Complete && top.Class != PrunedClass) ||
				(top.Class == PrunedClass && p.PrunedAt != top.PrunedAt) {
				continue
			}
			p.Compared = true
			p.P = m.tieP(top.Values, p.Values)
			p.Tied = !(p.P < Alpha) // NaN (too few values to test) is no evidence of a difference
		}
	}
	return out
}

func score(m Metric, pt int, ts []*framework.TrialData) Point {
	slices.SortStableFunc(ts, func(a, b *framework.TrialData) int { return cmp.Compare(a.Plan.Repeat, b.Plan.Repeat) })
	p := Point{Point: pt, Plan: ts[0].Plan, Repeats: len(ts), Mean: math.NaN(), Std: math.NaN()}
	for _, t := range ts {
		p.IDs = append(p.IDs, t.Plan.ID)
		switch t.Status {
		case framework.Completed:
			p.Completed++
		case framework.Diverged:
			p.Diverged++
		case framework.Failed:
			p.Failed++
		case framework.Pruned:
			p.Pruned++
			if p.PrunedAt == 0 || t.Epochs < p.PrunedAt {
				p.PrunedAt = t.Epochs
			}
		default:
			p.Unfinished++
		}
	}
	for _, t := range ts {
		var v float64
		switch {
		case p.Pruned > 0 && (t.Status == framework.Completed || t.Status == framework.Pruned):
			v = m.At(t, p.PrunedAt)
		case t.Status == framework.Completed:
			v = m.Value(t)
		default:
			continue
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			p.Values = append(p.Values, v)
		}
	}
	p.Mean, p.Std = MeanStd(p.Values)
	bad := p.Diverged + p.Failed
	switch {
	case bad > 0 && len(p.Values) > 0:
		p.Class = Unstable
	case bad > 0 && p.Unfinished == 0:
		p.Class = Broken
	case len(p.Values) == 0:
		p.Class = NoValue
	case p.Pruned > 0:
		p.Class = PrunedClass
	default:
		p.Class = Complete
	}
	return p
}

func compare(m Metric, a, b *Point) int {
	if c := cmp.Compare(a.Class, b.Class); c != 0 {
		return c
	}
	if a.Class == PrunedClass && a.PrunedAt != b.PrunedAt {
		return cmp.Compare(b.PrunedAt, a.PrunedAt) // further first
	}
	switch {
	case m.Better(a.Mean, b.Mean):
		return -1
	case m.Better(b.Mean, a.Mean):
		return 1
	}
	return cmp.Compare(a.Point, b.Point)
}

// MeanStd is the mean and the sample standard deviation (n−1) of v; NaN
// for the mean of nothing and the std of fewer than two values.
func MeanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	mean = s / float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// Note says in words why a point is not a plain completed result: "1 of 2
// diverged", "pruned at epoch 3", "1 of 3 repeats", ...; "" for a point
// whose every repeat completed.
func (p *Point) Note() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }
	switch {
	case p.Diverged > 0 && p.Diverged == p.Repeats:
		add("every repeat diverged")
	case p.Diverged > 0:
		add("%d of %d diverged", p.Diverged, p.Repeats)
	}
	switch {
	case p.Failed > 0 && p.Failed == p.Repeats:
		add("every repeat failed")
	case p.Failed > 0:
		add("%d of %d failed", p.Failed, p.Repeats)
	}
	if p.Pruned > 0 {
		if p.Pruned == p.Repeats {
			add("pruned at epoch %d", p.PrunedAt)
		} else {
			add("%d of %d pruned, at epoch %d", p.Pruned, p.Repeats, p.PrunedAt)
		}
	}
	if p.Unfinished > 0 {
		add("%d of %d not finished", p.Unfinished, p.Repeats)
	}
	if p.Class == NoValue && p.Unfinished == 0 && p.Pruned == 0 {
		add("no value")
	}
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Verdict says how the point stands against the top one: "best",
// "tied with best (p=0.31)", "worse (p=0.002)", "tied with best (too few
// repeats to test)" or "" for points that are not compared (another
// class).
func (p *Point) Verdict(rank int) string {
	switch {
	case rank == 0 && p.N() > 0:
		return "best"
	case !p.Compared:
		return ""
	case math.IsNaN(p.P):
		return "tied with best (too few repeats to test)"
	case p.Tied:
		return fmt.Sprintf("tied with best (p=%.2g)", p.P)
	}
	return fmt.Sprintf("worse (p=%.2g)", p.P)
}

// TiedWithTop counts the points tied with the top one.
func TiedWithTop(ranked []Point) int {
	n := 0
	for i := 1; i < len(ranked); i++ {
		if ranked[i].Tied {
			n++
		}
	}
	return n
}
