// Package pruners holds the built-in pruners, one file each: median (prune a
// trial that is worse than the median of the trials before it) and asha
// (synchronous successive halving: keep the best 1/η of the grid points at
// each rung). Both compare the monitored loss: val_loss, or train_loss
// without a validation split.
package pruners

import (
	"math"
	"sort"

	"github.com/gradsweep/gradsweep/framework"
)

var builtins framework.Builtins[framework.Pruner]

func add(p framework.Plugin[framework.Pruner]) bool { return builtins.Add(p) }

// Register adds every built-in pruner to r.
func Register(r *framework.Registry[framework.Pruner]) { builtins.RegisterInto(r) }

func init() { Register(framework.Pruners) }

// median of v; NaN for no values (so that no comparison with it prunes).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
