package framework

import (
	"math"
	"testing"
	"time"
)

// Each stop rule does what its doc comment says, at the boundaries.
func TestDivergenceRule(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		name   string
		factor float64
		losses []float64
		want   int // 1-based iteration that diverges, 0 for none
	}{
		{"NaN diverges, first or not", 0, []float64{nan}, 1},
		{"-Inf diverges", -1, []float64{1, -inf}, 2},
		{"default factor 1e4 × the first loss", 0, []float64{2, 2e4, 2e4 + 1e-9}, 3},
		{"the bound is at least factor × 1", 10, []float64{0.01, 10, 10.5}, 3},
		{"a negative factor bounds nothing finite", -1, []float64{1, 1e300}, 0},
		{"the first loss is never exploding", 2, []float64{1e300, 1e300}, 0},
	} {
		d := newDivergence(c.factor)
		got := 0
		for i, l := range c.losses {
			if d.batch(l, i+1) {
				got = i + 1
				break
			}
		}
		if got != c.want {
			t.Errorf("%s: diverged at iteration %d, want %d", c.name, got, c.want)
		}
	}
	d := newDivergence(0)
	for _, c := range []struct {
		val          float64
		hasVal, want bool
	}{{math.NaN(), true, true}, {math.NaN(), false, false}, {inf, false, true}, {-inf, true, true}, {1e300, true, false}} {
		if got := d.validation(c.val, c.hasVal); got != c.want {
			t.Errorf("validation(%v, hasVal %v) = %v, want %v", c.val, c.hasVal, got, c.want)
		}
	}
}

func TestPatienceRule(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name     string
		epochs   int
		minDelta float64
		val      []float64 // NaN: no validation split, train_loss watched
		train    []float64
		want     int // 1-based epoch that exhausts patience, 0 for none
	}{
		{"off", 0, 0, []float64{1, 1, 1, 1}, nil, 0},
		{"two epochs without improvement", 2, 0, []float64{1, 0.5, 0.5, 0.6}, nil, 4},
		{"an improvement of exactly min_delta does not count", 1, 0.25, []float64{1, 0.75}, nil, 2},
		{"more than min_delta resets", 2, 0.25, []float64{1, 0.74, 0.6, 0.48, 0.4, 0.3}, nil, 6},
		{"train_loss without validation", 1, 0, []float64{nan, nan, nan}, []float64{1, 0.9, 0.95}, 3},
	} {
		p := newPatience(c.epochs, c.minDelta)
		got := 0
		for i, v := range c.val {
			es := EpochStats{Epoch: i + 1, ValLoss: v, TrainLoss: math.NaN()}
			if c.train != nil {
				es.TrainLoss = c.train[i]
			}
			if p.exhausted(es) {
				got = i + 1
				break
			}
		}
		if got != c.want {
			t.Errorf("%s: stopped after epoch %d, want %d", c.name, got, c.want)
		}
	}
}

func TestTargetTimeAndInterruptRules(t *testing.T) {
	if targetReached(TrainConfig{StopRules: StopRules{TargetLoss: 1}}, 0) {
		t.Error("a target loss without HasTargetLoss stopped training")
	}
	cfg := TrainConfig{StopRules: StopRules{TargetLoss: 0.5, HasTargetLoss: true}}
	if !targetReached(cfg, 0.5) || targetReached(cfg, math.Nextafter(0.5, 1)) {
		t.Error("target_loss: want train_loss ≤ target to stop, and only that")
	}
	spent := clock{before: 3, start: time.Now()}
	if outOfTime(0, spent) || !outOfTime(3, spent) || outOfTime(3600, spent) {
		t.Error("max_seconds: want 0 to be no budget, and the earlier calls' time to count")
	}
	done := make(chan struct{})
	if interrupted(done) || interrupted(nil) {
		t.Error("interrupted before the context was cancelled")
	}
	close(done)
	if !interrupted(done) {
		t.Error("not interrupted after the context was cancelled")
	}
}
