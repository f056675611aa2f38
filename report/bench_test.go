package report

import (
	"testing"
)

// bench200 is a 200-trial sweep: 5 learning rates × 4 batch sizes × 2
// optimizers × 5 repeats, 20 epochs over 1024 samples, batch loss thinned
// to about 2000 points per trial as a store would keep it.
func bench200() synthSpec {
	return synthSpec{name: "bench200", lrs: []float64{0.001, 0.01, 0.1, 1, 3}, batches: []int{1, 32, 256, 0},
		opts: []string{"sgd", "adam"}, repeats: 5, epochs: 20, n: 1024, batchLoss: true, maxBatch: 2000, pruned: true}
}

func BenchmarkReport200(b *testing.B) {
	d := synth(bench200())
	if len(d.Trials) != 200 {
		b.Fatalf("%d trials", len(d.Trials))
	}
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if err := Write(dir, d, Options{SmoothWindow: 25}); err != nil {
			b.Fatal(err)
		}
	}
}
