package pruners

import (
	"math"
	"sort"

	"github.com/gradsweep/gradsweep/framework"
)

// ASHA is synchronous successive halving (Jamieson & Talwalkar 2016; the
// synchronous form of Li et al.'s ASHA): rungs at MinEpochs·Etaᵏ epochs;
// at each rung only the best ⌈n/Eta⌉ of the n grid points that reached it
// go on. A point is scored by the mean of its repeats' monitored losses, so
// repeats are kept or pruned together and a lucky seed does not decide;
// ties go by point order. A point with a NaN among its repeats scores +Inf.
type ASHA struct {
	MinEpochs int `opt:"min_epochs" default:"1" range:"[1,1000000]" doc:"epochs of the first rung"`
	Eta       int `opt:"eta" default:"3" range:"[2,1000]" doc:"keep the best 1/eta of the points at each rung; rungs are eta times apart"`
}

var (
	_ = add(framework.Plugin[framework.Pruner]{Name: "asha", Doc: "synchronous successive halving: keep the best 1/eta at each rung", New: func() framework.Pruner { return new(ASHA) }})
	_ = add(framework.Plugin[framework.Pruner]{Name: "successive_halving", Doc: "another name of asha", New: func() framework.Pruner { return new(ASHA) }})
)

// Checkpoints are the rungs MinEpochs·Etaᵏ below maxEpochs.
func (a *ASHA) Checkpoints(maxEpochs int) []int {
	var out []int
	for e := a.MinEpochs; e < maxEpochs; e *= a.Eta {
		out = append(out, e)
		if a.Eta < 2 || e > maxEpochs/a.Eta { // the next rung would pass maxEpochs (or overflow)
			break
		}
	}
	return out
}

// Prune keeps the best ⌈points/Eta⌉ points.
func (a *ASHA) Prune(members []framework.RungMember) []bool {
	var points []int
	scores := map[int][]float64{}
	for _, m := range members {
		if _, seen := scores[m.Point]; !seen {
			points = append(points, m.Point)
		}
		scores[m.Point] = append(scores[m.Point], m.Value)
	}
	mean := func(p int) float64 {
		s := 0.0
		for _, v := range scores[p] {
			s += v
		}
		if math.IsNaN(s) {
			return math.Inf(1)
		}
		return s / float64(len(scores[p]))
	}
	sort.SliceStable(points, func(i, j int) bool { return mean(points[i]) < mean(points[j]) })
	kept := map[int]bool{}
	for _, p := range points[:(len(points)+a.Eta-1)/a.Eta] {
		kept[p] = true
	}
	pruned := make([]bool, len(members))
	for i, m := range members {
		pruned[i] = !kept[m.Point]
	}
	return pruned
}
