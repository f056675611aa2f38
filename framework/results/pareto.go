package results

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// ParetoPoint is one grid point valued by two measures: its standing
// under each (mean ± std over repeats, as Rank computes it), whether it
// is on the front, and which front points beat it.
type ParetoPoint struct {
	A, B  Point
	Front bool
	// DominatedBy are the point indices of the front points that dominate
	// this one (at least as good on both measures, better on one), in the
	// order of the front; empty on the front.
	DominatedBy []int
}

// Pareto is the quality-against-cost view of a sweep: the grid points no
// other point beats on both of two measures.
type Pareto struct {
	A, B Metric
	// Points are the points valued by both: the front first, then the
	// dominated ones, each part ordered by A (best first), then by B, then
	// by point index.
	Points []ParetoPoint
	// Excluded says which points were left out and why ("" if none): only
	// points whose every finished repeat completed have both values.
	Excluded string
}

// Front is the number of points on the front.
func (p *Pareto) Front() int {
	n := 0
	for i := range p.Points {
		if p.Points[i].Front {
			n++
		}
	}
	return n
}

// Dominates says whether point x beats point y on measures a and b: at
// least as good on both means and better on one. Equal means on both
// dominate neither way, so tied points share the front.
func Dominates(a, b Metric, xa, xb, ya, yb float64) bool {
	noWorse := !a.Better(ya, xa) && !b.Better(yb, xb)
	return noWorse && (a.Better(xa, ya) || b.Better(xb, yb))
}

// ComputePareto values every grid point by measures a and b (means over
// repeats, as Rank) and finds the front. Points of class Complete under
// both count; the others (a diverged, failed or pruned repeat, or no
// value) are left out and counted in Excluded.
func ComputePareto(a, b Metric, trials []framework.TrialData) *Pareto {
	out := &Pareto{A: a, B: b}
	ra, rb := Rank(a, trials), Rank(b, trials)
	byPoint := map[int]*Point{}
	for i := range rb {
		byPoint[rb[i].Point] = &rb[i]
	}
	var diverged, pruned, none int
	for i := range ra {
		pa, pb := &ra[i], byPoint[ra[i].Point]
		switch {
		case pa.Class == Complete && pb.Class == Complete:
			out.Points = append(out.Points, ParetoPoint{A: *pa, B: *pb})
		case pa.Class == Unstable || pa.Class == Broken:
			diverged++
		case pa.Class == PrunedClass:
			pruned++
		default:
			none++
		}
	}
	pts := out.Points
	for i := range pts {
		for j := range pts {
			if i != j && Dominates(a, b, pts[j].A.Mean, pts[j].B.Mean, pts[i].A.Mean, pts[i].B.Mean) {
				pts[i].DominatedBy = append(pts[i].DominatedBy, j)
			}
		}
		pts[i].Front = len(pts[i].DominatedBy) == 0
	}
	order := func(x, y ParetoPoint) int {
		if x.Front != y.Front {
			if x.Front {
				return -1
			}
			return 1
		}
		switch {
		case a.Better(x.A.Mean, y.A.Mean):
			return -1
		case a.Better(y.A.Mean, x.A.Mean):
			return 1
		case b.Better(x.B.Mean, y.B.Mean):
			return -1
		case b.Better(y.B.Mean, x.B.Mean):
			return 1
		}
		return cmp.Compare(x.A.Point, y.A.Point)
	}
	// Keep only the front points among the dominators (one exists for
	// every dominated point: domination is transitive and the points are
	// finite), named by point index.
	idx := make([][]int, len(pts))
	for i := range pts {
		for _, j := range pts[i].DominatedBy {
			if pts[j].Front {
				idx[i] = append(idx[i], j)
			}
		}
	}
	for i := range pts {
		pts[i].DominatedBy = nil
		for _, j := range idx[i] {
			pts[i].DominatedBy = append(pts[i].DominatedBy, pts[j].A.Point)
		}
	}
	slices.SortStableFunc(out.Points, order)
	rank := map[int]int{}
	for i, p := range out.Points {
		rank[p.A.Point] = i
	}
	for i := range out.Points {
		slices.SortFunc(out.Points[i].DominatedBy, func(x, y int) int { return cmp.Compare(rank[x], rank[y]) })
	}
	out.Excluded = excludedText(len(ra)-len(out.Points), len(ra), diverged, pruned, none)
	return out
}

// Headline says what the front is in one line: "the Pareto front of
// val_loss (lower is better) against seconds (lower is better): 3 of 15
// grid points".
func (p *Pareto) Headline() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "the Pareto front of %s (%s) against %s (%s): %d of %d grid point(s) no other beats on both",
		p.A.Name, p.A.Direction(), p.B.Name, p.B.Direction(), p.Front(), len(p.Points))
	return sb.String()
}
