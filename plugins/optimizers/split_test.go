package optimizers_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/internal/threads"
	"github.com/gradsweep/gradsweep/plugins/optimizers"
)

// stepped runs 5 steps of optimizer name (with every option that adds a
// state: AMSGrad, centred RMSprop with momentum, weight decay) on odd-sized
// parameters, on nThreads threads, and returns the weights.
func stepped(t *testing.T, name string, nThreads int) [][]float32 {
	t.Helper()
	defer threads.SetLimit(threads.SetLimit(nThreads))
	opts := map[string]map[string]any{
		"adam":    {"amsgrad": true, "weight_decay": 0.01},
		"adamw":   {"amsgrad": true},
		"rmsprop": {"centered": true, "momentum": 0.5},
		"sgd":     {"weight_decay": 0.01},
	}[name]
	o, err := fresh().New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var params []*framework.Param
	for i, n := range []int{1, 1037, 77, 4099} {
		p := &framework.Param{Name: fmt.Sprint(i), Shape: []int{n}, Value: make([]float32, n), Grad: make([]float32, n)}
		for j := range p.Value {
			p.Value[j] = float32(r.NormFloat64())
		}
		params = append(params, p)
	}
	for range 5 {
		for _, p := range params {
			for j := range p.Grad {
				p.Grad[j] = float32(r.NormFloat64())
			}
		}
		o.Step(params, 0.01)
	}
	var out [][]float32
	for _, p := range params {
		out = append(out, p.Value)
	}
	return out
}

// TestSplitUpdatesBitIdentical: every optimizer's update split over 2 and
// 3 threads (no size threshold) gives the weights of 1 thread, bit for bit.
func TestSplitUpdatesBitIdentical(t *testing.T) {
	defer optimizers.SetSplitElems(optimizers.SetSplitElems(1))
	for _, name := range fresh().Names() {
		want := stepped(t, name, 1)
		for _, n := range []int{2, 3} {
			got := stepped(t, name, n)
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s on %d threads: weight %d[%d] = %v, want %v", name, n, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// TestSplitUpdatesAllocateNothing: a split step allocates nothing once the
// state exists.
func TestSplitUpdatesAllocateNothing(t *testing.T) {
	defer optimizers.SetSplitElems(optimizers.SetSplitElems(1))
	defer threads.SetLimit(threads.SetLimit(3))
	ps := []*framework.Param{{Name: "w", Shape: []int{5000}, Value: make([]float32, 5000), Grad: make([]float32, 5000)}}
	for _, name := range fresh().Names() {
		o, _ := fresh().New(name, nil)
		o.Step(ps, 0.01)
		if n := testing.AllocsPerRun(20, func() { o.Step(ps, 0.01) }); n != 0 {
			t.Errorf("%s: %v allocations per split step", name, n)
		}
	}
}
