package bench

import (
	"context"
	"os"
	"testing"
)

// benchmarkStep times one training pass step by step at a batch size, on
// synthetic data of MNIST's shape (or MNIST with $MNIST_DIR).
func benchmarkPass(b *testing.B, batch int) {
	n := batch * 64
	d, _, err := Data(os.Getenv("MNIST_DIR"), n, 784, 10)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := Trainer(Options{Batch: batch}, d)
	if err != nil {
		b.Fatal(err)
	}
	tr.Config.Epochs = 1 << 30
	ctx := context.Background()
	epoch := 1
	tr.TrainUntil(ctx, d, nil, epoch) // warm-up
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		epoch++
		tr.TrainUntil(ctx, d, nil, epoch)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkPassBatch1(b *testing.B)   { benchmarkPass(b, 1) }
func BenchmarkPassBatch32(b *testing.B)  { benchmarkPass(b, 32) }
func BenchmarkPassBatch256(b *testing.B) { benchmarkPass(b, 256) }

// TestMeanLossMatchesReference checks the benchmark's arithmetic on a
// tiny run: the mean loss is the sample-weighted mean of batch losses and
// the first batch loss of an untrained 10-class model is near log(10).
func TestBenchRuns(t *testing.T) {
	r, err := Run(Options{Batch: 8, Samples: 64, Arch: "784-16-10"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 64 || r.StepsPerS <= 0 || r.SamplesPerS != r.StepsPerS*8 && (r.SamplesPerS/r.StepsPerS-8) > 1e-9 {
		t.Errorf("%+v", r)
	}
	if r.MeanLoss < 1.5 || r.MeanLoss > 3.5 {
		t.Errorf("mean loss %v of an untrained 10-class model, want ≈ log 10", r.MeanLoss)
	}
	if _, err := Run(Options{Batch: 8, Samples: 64, Arch: "785-10"}); err == nil {
		t.Error("arch width not matching the data accepted")
	}
}
