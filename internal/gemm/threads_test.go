package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/internal/threads"
)

// splitOdd is the odd sizes the split tests combine: partial micro-tiles,
// partial panels, several k blocks.
var splitOdd = []int{1, 3, 7, 17, 33, 65, 129, 255, 257}

// splitJobs lists, for each implementation that splits, a function that
// describes a product as a job (as Sgemm would split it).
func splitJobs() map[string]func(p *problem) *job {
	jobs := map[string]func(p *problem) *job{
		"portable": func(p *problem) *job {
			return &job{transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, beta: p.beta, ldc: p.ldc}
		},
	}
	for name, f := range kernelJobs() {
		jobs[name] = f
	}
	return jobs
}

func sameBits(t *testing.T, what string, got, want []float32) bool {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: c[%d] = %v (%#x), want %v (%#x) bit for bit", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return false
		}
	}
	return true
}

// TestSplitBitIdentical computes odd-shaped products in 1 part and in 2, 3
// and 4 parts (each part as a thread would run it): every element must have
// the same bits, for every layout the layers use and every beta.
func TestSplitBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ks := []int{1, 7, 33, 257, 700}
	if testing.Short() {
		ks = []int{7, 257}
	}
	for name, newJob := range splitJobs() {
		for _, m := range splitOdd {
			for _, n := range splitOdd {
				for _, k := range ks {
					for combo := range 4 {
						beta := betas[(m+n+k+combo)%len(betas)]
						p := newProblem(rng, combo&1 != 0, combo&2 != 0, m, n, k, combo%2, (combo+1)%3, combo%3, beta)
						checkSplit(t, name, p, newJob)
					}
				}
			}
		}
		// A packed when it is not transposed (lda a multiple of 512), in
		// several chunks.
		for _, s := range [][3]int{{65, 257, 512}, {2100, 70, 512}, {33, 200, 1024}} {
			p := newProblem(rng, false, s[0]%2 == 0, s[0], s[1], s[2], 0, 0, 0, 0)
			checkSplit(t, name, p, newJob)
		}
	}
}

func checkSplit(t *testing.T, name string, p *problem, newJob func(p *problem) *job) {
	t.Helper()
	want := append([]float32(nil), p.c...)
	j := newJob(p)
	j.c = want
	j.Part(0, 1)
	for parts := 2; parts <= 4; parts++ {
		got := append([]float32(nil), p.c...)
		j.c = got
		for i := range parts {
			j.Part(i, parts)
		}
		if !sameBits(t, fmt.Sprintf("%s %v in %d parts", name, p, parts), got, want) {
			return
		}
	}
}

// TestSgemmThreadsBitIdentical runs Sgemm with 1, 2 and 3 threads lent and
// no size threshold: the same bits, and the same as before splitting
// existed (the one-thread path).
func TestSgemmThreadsBitIdentical(t *testing.T) {
	defer threads.SetLimit(threads.SetLimit(1))
	defer SetSplitThreshold(SetSplitThreshold(1))
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range [][3]int{{32, 128, 784}, {128, 784, 32}, {32, 784, 128}, {257, 129, 65}, {255, 10, 33}, {17, 257, 255}} {
		for combo := range 4 {
			p := newProblem(rng, combo&1 != 0, combo&2 != 0, s[0], s[1], s[2], 0, 0, 0, betas[combo%3])
			threads.SetLimit(1)
			want := append([]float32(nil), p.c...)
			Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, want, p.ldc)
			for _, th := range []int{2, 3} {
				threads.SetLimit(th)
				got := append([]float32(nil), p.c...)
				Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
				sameBits(t, fmt.Sprintf("%v with %d threads", p, th), got, want)
			}
		}
	}
}

// TestSplitNoAllocs: a split product allocates nothing in steady state (the
// training step must not).
func TestSplitNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	defer threads.SetLimit(threads.SetLimit(3))
	defer SetSplitThreshold(SetSplitThreshold(1))
	rng := rand.New(rand.NewPCG(15, 16))
	for combo := range 4 {
		p := newProblem(rng, combo&1 != 0, combo&2 != 0, 64, 128, 100, 0, 0, 0, 0)
		f := func() { Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc) }
		f()
		if n := testing.AllocsPerRun(50, f); n > 0.1 {
			t.Errorf("%v: %v allocations per split call", p, n)
		}
	}
}

// BenchmarkSgemmThreads times the MLP shapes with 1 and 2 threads and no
// threshold, to choose minPartFlops: a shape whose 2-thread time is not
// clearly below its 1-thread time is below the threshold.
func BenchmarkSgemmThreads(b *testing.B) {
	defer threads.SetLimit(threads.SetLimit(1))
	defer SetSplitThreshold(SetSplitThreshold(1))
	shapes := append(denseShapes(256), denseShapes(32)...)
	shapes = append(shapes, denseShapes(8)...)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		p := newProblem(rng, s.transA, s.transB, s.m, s.n, s.k, 0, 0, 0, 0)
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%dMF/t%d", s.name, 2*s.m*s.n*s.k>>20, th), func(b *testing.B) {
				threads.SetLimit(th)
				for b.Loop() {
					Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
				}
			})
		}
	}
}

// BenchmarkSgemmThreadsSquare is the ceiling of the split: a 512³ product
// with 1 and 2 threads.
func BenchmarkSgemmThreadsSquare(b *testing.B) {
	defer threads.SetLimit(threads.SetLimit(1))
	rng := rand.New(rand.NewPCG(1, 1))
	p := newProblem(rng, false, false, 512, 512, 512, 0, 0, 0, 0)
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", th), func(b *testing.B) {
			threads.SetLimit(th)
			for b.Loop() {
				Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
			}
		})
	}
}
