package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// benchmarkPass times training passes of 64 batches at a batch size, on
// synthetic data of MNIST's shape (or MNIST with $MNIST_DIR).
func benchmarkPass(b *testing.B, batch int) {
	timePasses(b, Options{Batch: batch}, batch*64)
}

// timePasses times passes over the first n samples with the trainer of o,
// after one pass of warm-up, and reports samples/s.
func timePasses(b *testing.B, o Options, n int) {
	d, _, err := Data(os.Getenv("MNIST_DIR"), n, 784, 10)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := Trainer(o, d)
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

// TestBenchRuns checks the benchmark on a tiny run: counts add up, the mean
// loss of an untrained 10-class model is near log(10), and bad
// architectures are refused.
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
	d, _, _ := Data("", 16, 784, 10)
	if _, err := Trainer(Options{Batch: 8, Arch: "785-10"}, d); err == nil || !strings.Contains(err.Error(), "does not match the data's 784 features") {
		t.Errorf("arch width not matching the data: %v", err)
	}
	for _, bad := range []string{"784", "784,0,10", "784,a,10", "784,10.5"} {
		if _, err := ParseArch(bad); err == nil {
			t.Errorf("ParseArch(%q) accepted", bad)
		}
	}
}

// TestBenchThreads runs the reference workload on 1, 2 and 3 threads: the
// result says how many, and the losses are the same bits (the products
// split by output blocks only). The default is every core.
func TestBenchThreads(t *testing.T) {
	var want Result
	for _, n := range []int{1, 2, 3} {
		r, err := Run(Options{Batch: 32, Samples: 320, Threads: n})
		if err != nil {
			t.Fatal(err)
		}
		if r.Threads != n {
			t.Errorf("--threads %d: the result says %d", n, r.Threads)
		}
		if n == 1 {
			want = r
		} else if math.Float64bits(r.MeanLoss) != math.Float64bits(want.MeanLoss) || math.Float64bits(r.FinalLoss) != math.Float64bits(want.FinalLoss) {
			t.Errorf("%d threads: mean loss %v, final %v; 1 thread: %v, %v", n, r.MeanLoss, r.FinalLoss, want.MeanLoss, want.FinalLoss)
		}
	}
	if r, err := Run(Options{Batch: 8, Samples: 16, Arch: "784-16-10"}); err != nil || r.Threads != runtime.NumCPU() {
		t.Errorf("default threads: %d (%v), want %d", r.Threads, err, runtime.NumCPU())
	}
}

// TestBenchActivations runs the workload with every hidden activation: the
// model has that layer between its dense layers, the result says which, and
// an unknown name is refused with the list.
func TestBenchActivations(t *testing.T) {
	for _, act := range Activations {
		r, err := Run(Options{Batch: 8, Samples: 32, Arch: "784-16-8-10", Activation: act})
		if err != nil {
			t.Fatalf("%s: %v", act, err)
		}
		if r.Activation != act || r.MeanLoss < 1.5 || r.MeanLoss > 3.5 {
			t.Errorf("%s: %+v", act, r)
		}
		d, _, _ := Data("", 16, 784, 10)
		tr, err := Trainer(Options{Batch: 8, Arch: "784-16-8-10", Activation: act}, d)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, s := range tr.Model.Specs {
			types = append(types, s.Type)
		}
		if want := "dense " + act + " dense " + act + " dense"; strings.Join(types, " ") != want {
			t.Errorf("%s: layers %v, want %s", act, types, want)
		}
	}
	if _, err := Run(Options{Batch: 8, Samples: 32, Activation: "gelu"}); err == nil ||
		!strings.Contains(err.Error(), `--activation "gelu": the workload knows relu, leaky_relu, tanh, sigmoid`) {
		t.Errorf("unknown activation: %v", err)
	}
}

// The benchmark's model and data fall under the experiment's memory
// limits: refused before anything is allocated, never a fatal out of
// memory; a FIFO as --init is refused instead of blocking.
func TestRunRefusesWhatCannotFit(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Arch: "784,2000000000,10", Samples: 100}, "--arch: model layer 0 (dense): the model would need about"},
		{Options{Arch: "784,100000,100000,10", Samples: 100}, "--arch: model layer 2 (dense)"},
		{Options{Samples: 2000000000}, "--samples would need about"},
		{Options{Samples: 100, Init: fifo}, "is not a regular file"},
	} {
		if _, err := Run(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want …%s…", c.o, err, c.want)
		}
	}
}
