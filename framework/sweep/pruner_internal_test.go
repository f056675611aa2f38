package sweep

import (
	"math"
	"slices"
	"testing"
)

// Rungs never overflow: a huge eta gives the first rung only, instead of
// wrapping to 0 and looping forever.
func TestCheckpointsOverflowSafe(t *testing.T) {
	if got := checkpoints("asha", 0, 0, 2, 4611686018427387904, 100); !slices.Equal(got, []int{2}) {
		t.Errorf("huge eta: %v", got)
	}
	if got := checkpoints("asha", 0, 0, 1, 3, 30); !slices.Equal(got, []int{1, 3, 9, 27}) {
		t.Errorf("eta 3: %v", got)
	}
	if got := checkpoints("asha", 0, 0, math.MaxInt/2, 3, math.MaxInt); !slices.Equal(got, []int{math.MaxInt / 2}) {
		t.Errorf("huge min_epochs: %v", got)
	}
	if got := checkpoints("median", 2, 0, 0, 0, 5); !slices.Equal(got, []int{2, 3, 4}) {
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
