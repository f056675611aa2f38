package pruners

import (
	"math"
	"slices"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// Rungs never overflow: a huge eta gives the first rung only, instead of
// wrapping to 0 and looping forever.
func TestCheckpointsOverflowSafe(t *testing.T) {
	if got := (&ASHA{MinEpochs: 2, Eta: 4611686018427387904}).Checkpoints(100); !slices.Equal(got, []int{2}) {
		t.Errorf("huge eta: %v", got)
	}
	if got := (&ASHA{MinEpochs: 1, Eta: 3}).Checkpoints(30); !slices.Equal(got, []int{1, 3, 9, 27}) {
		t.Errorf("eta 3: %v", got)
	}
	if got := (&ASHA{MinEpochs: math.MaxInt / 2, Eta: 3}).Checkpoints(math.MaxInt); !slices.Equal(got, []int{math.MaxInt / 2}) {
		t.Errorf("huge min_epochs: %v", got)
	}
	if got := (&Median{WarmupEpochs: 2}).Checkpoints(5); !slices.Equal(got, []int{2, 3, 4}) {
		t.Errorf("median, interval 0: %v", got)
	}
}

// The median of nothing is NaN (no trial is worse than it), not a panic.
func TestMedianOfNothing(t *testing.T) {
	if m := median(nil); !math.IsNaN(m) {
		t.Errorf("median(nil) = %v", m)
	}
	if m := median([]float64{3, 1, 2, 4}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}

// asha keeps the best ⌈n/η⌉ points by the mean over their repeats, so a
// lucky repeat does not save a point; median prunes a trial worse than the
// median of those before it, once startup_trials have reported.
func TestPruneDecisions(t *testing.T) {
	m := func(point int, v float64) framework.RungMember { return framework.RungMember{Point: point, Value: v} }
	// point 0: mean 2; point 1: mean 1.5 (one lucky repeat at 0.1); point 2: mean 3; point 3: NaN
	rung := []framework.RungMember{m(0, 2), m(0, 2), m(1, 0.1), m(1, 2.9), m(2, 3), m(2, 3), m(3, math.NaN()), m(3, 0)}
	got := (&ASHA{MinEpochs: 1, Eta: 2}).Prune(rung)
	want := []bool{false, false, false, false, true, true, true, true}
	if !slices.Equal(got, want) {
		t.Errorf("asha eta 2: %v, want %v", got, want)
	}
	got = (&Median{StartupTrials: 2}).Prune([]framework.RungMember{m(0, 5), m(1, 1), m(2, 4), m(3, 2), m(4, 9)})
	// 5, 1: startup; 4 > median(5,1)=3 → pruned; 2 < median(5,1,4)=4 → kept; 9 > median(5,1,4,2)=3 → pruned
	want = []bool{false, false, true, false, true}
	if !slices.Equal(got, want) {
		t.Errorf("median: %v, want %v", got, want)
	}
}
