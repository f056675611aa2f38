package metrics

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// observe puts every duration in the bucket a binary search finds, however
// the durations jump between buckets (the cached bucket must not stick).
func TestDurationBucketsMatchSearch(t *testing.T) {
	h := newDurationHistogram("d", "d", IterationBuckets)
	b := h.newBatch()
	want := make([]uint64, len(IterationBuckets)+1)
	rng := rand.New(rand.NewPCG(1, 2))
	vals := append([]float64{0, 1e-5, 1e-5 * (1 + 1e-12), 1, 1.5, 1e-5, 1e-5}, IterationBuckets...)
	for range 2000 {
		vals = append(vals, rng.ExpFloat64()*1e-3)
	}
	for _, v := range vals {
		i, _ := slices.BinarySearch(IterationBuckets, v)
		want[i]++
		h.observe(&b, v)
	}
	if !slices.Equal(b.counts, want) || b.n != uint64(len(vals)) {
		t.Fatalf("counts %v, want %v", b.counts, want)
	}
}
