package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

type sgemmFunc func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

type impl struct {
	name string
	f    sgemmFunc
}

// impls lists the implementations under test: the one Sgemm selected on this
// machine, every other kernel set the CPU supports (see extraImpls) and the
// portable path forced through the Sgemm seam.
func impls() []impl {
	list := []impl{{"selected-" + Kernel(), Sgemm}}
	list = append(list, extraImpls()...)
	list = append(list, impl{"forced-portable", func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		saved := sgemm
		sgemm = Portable
		defer func() { sgemm = saved }()
		Sgemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
	}})
	return list
}

type problem struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	beta           float32
	a, b, c        []float32
	// alloc, if set, provides the C slice handed to the implementation.
	alloc func(n int) []float32
	// want and tol are Portable's result and the tolerance per element.
	want []float32
	tol  []float64
}

const padding = -12345.5 // sentinel in C's padding: must never change

func newProblem(rng *rand.Rand, transA, transB bool, m, n, k, padA, padB, padC int, beta float32) *problem {
	p := &problem{transA: transA, transB: transB, m: m, n: n, k: k, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = ac+padA, bc+padB, n+padC
	// Padding of A and B holds NaN: a kernel that reads it shows up.
	fill := func(rows, cols, ld int) []float32 {
		if rows == 0 || cols == 0 {
			return nil
		}
		s := make([]float32, (rows-1)*ld+cols)
		for i := range s {
			if i%ld < cols {
				s[i] = float32(rng.NormFloat64())
			} else {
				s[i] = float32(math.NaN())
			}
		}
		return s
	}
	p.a = fill(ar, ac, p.lda)
	p.b = fill(br, bc, p.ldb)
	p.c = make([]float32, (m-1)*p.ldc+n)
	for i := range p.c {
		switch {
		case i%p.ldc >= n:
			p.c[i] = padding
		case beta == 0:
			p.c[i] = float32(math.NaN())
		default:
			p.c[i] = float32(rng.NormFloat64())
		}
	}
	return p
}

func (p *problem) String() string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d beta=%v",
		p.transA, p.transB, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.beta)
}

func (p *problem) elemA(i, q int) float64 {
	if p.transA {
		return float64(p.a[q*p.lda+i])
	}
	return float64(p.a[i*p.lda+q])
}

func (p *problem) elemB(q, j int) float64 {
	if p.transB {
		return float64(p.b[j*p.ldb+q])
	}
	return float64(p.b[q*p.ldb+j])
}

// check runs f on a copy of C and compares it with Portable. The tolerance
// is relative to Σ|a·b| + |beta·c|, scaled by k: FMA and blocking reorder the
// float32 rounding.
func (p *problem) expect() {
	if p.want != nil {
		return
	}
	p.want = append([]float32(nil), p.c...)
	Portable(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, p.want, p.ldc)
	p.tol = make([]float64, len(p.c))
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			idx := i*p.ldc + j
			scale := 0.0
			if p.beta != 0 {
				scale = math.Abs(float64(p.beta) * float64(p.c[idx]))
			}
			for q := 0; q < p.k; q++ {
				scale += math.Abs(p.elemA(i, q) * p.elemB(q, j))
			}
			p.tol[idx] = 4*float64(p.k+2)*0x1p-24*scale + 1e-30
		}
	}
}

// check runs f on a copy of C and compares it with Portable. The tolerance
// is relative to Σ|a·b| + |beta·c|, scaled by k: FMA and blocking reorder the
// float32 rounding. C's padding must be left alone.
func (p *problem) check(t *testing.T, name string, f sgemmFunc) {
	t.Helper()
	p.expect()
	got := append([]float32(nil), p.c...)
	if p.alloc != nil {
		got = p.alloc(len(p.c))
		copy(got, p.c)
	}
	f(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	bad := 0
	for idx, g := range got {
		i, j := idx/p.ldc, idx%p.ldc
		if j >= p.n {
			if g != padding {
				t.Errorf("%s %v: wrote C padding (%d,%d) = %v", name, p, i, j, g)
				bad++
			}
		} else if w := p.want[idx]; math.IsNaN(float64(g)) || math.Abs(float64(g)-float64(w)) > p.tol[idx] {
			t.Errorf("%s %v: C(%d,%d) = %v, want %v (tol %g)", name, p, i, j, g, w, p.tol[idx])
			bad++
		}
		if bad > 5 {
			t.Fatalf("%s: too many errors", name)
		}
	}
}

// checkAll checks every implementation on p.
func (p *problem) checkAll(t *testing.T) {
	t.Helper()
	for _, im := range impls() {
		p.check(t, im.name, im.f)
	}
}

var betas = []float32{0, 1, 0.5}

func TestSmallShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 300
	}
	for it := 0; it < n; it++ {
		m, nn, k := 1+rng.IntN(70), 1+rng.IntN(70), 1+rng.IntN(70)
		switch it % 7 {
		case 0:
			m = 1
		case 1:
			nn = 1 + rng.IntN(3)
		case 2:
			m = 1 + rng.IntN(4)
		}
		pad := func() int {
			if rng.IntN(2) == 0 {
				return 0
			}
			return 1 + rng.IntN(9)
		}
		for combo := range 4 {
			beta := betas[(it+combo)%len(betas)]
			p := newProblem(rng, combo&1 != 0, combo&2 != 0, m, nn, k, pad(), pad(), pad(), beta)
			p.checkAll(t)
		}
	}
}

func TestExhaustiveTiny(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for m := 1; m <= 14; m++ {
		for n := 1; n <= 34; n++ {
			for _, k := range []int{1, 2, 3, 7, 17} {
				for combo := range 4 {
					beta := betas[(m+n+k+combo)%len(betas)]
					p := newProblem(rng, combo&1 != 0, combo&2 != 0, m, n, k, 0, 1, 2, beta)
					p.checkAll(t)
				}
			}
		}
	}
}

func TestLargeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	type shape struct{ m, n, k, padA, padB, padC int }
	shapes := []shape{
		{256, 128, 784, 0, 0, 0},
		{256, 784, 128, 0, 0, 0},
		{128, 784, 256, 0, 0, 0},
		{256, 10, 64, 0, 0, 0},
		{10, 64, 256, 0, 0, 0},
		{37, 300, 600, 3, 5, 7},   // several k blocks, edges
		{130, 75, 513, 0, 0, 1},   // k blocks with a short last one
		{100, 100, 600, 1, 1, 1},  // odd everything
		{1, 700, 513, 0, 0, 0},    // matrix-vector
		{3, 130, 1000, 0, 9, 0},   // dot kernels
		{50, 70, 520, 0, 0, 0},    // lda = 520
		{70, 100, 40, 0, 0, 0},    // small k
		{64, 96, 1024, 0, 0, 0},   // lda 1024 (packed A when not transposed)
		{40, 1024, 90, 0, 0, 0},   // ldb 1024
		{200, 512, 512, 0, 0, 0},  // both aliased
		{53, 1536, 1100, 0, 0, 0}, // aliased ldb, edges in m
		{2100, 70, 512, 0, 0, 0},  // packed A in several chunks
	}
	for i, s := range shapes {
		for combo := range 4 {
			beta := betas[(i+combo)%len(betas)]
			p := newProblem(rng, combo&1 != 0, combo&2 != 0, s.m, s.n, s.k, s.padA, s.padB, s.padC, beta)
			p.checkAll(t)
		}
	}
}

func TestZeroK(t *testing.T) {
	for _, im := range impls() {
		for _, beta := range betas {
			c := []float32{1, 2, 3, float32(math.NaN()), 5, 6}
			if beta != 0 {
				c[3] = 4
			}
			im.f(false, true, 2, 3, 0, nil, 1, nil, 1, beta, c, 3)
			for i, v := range c {
				if want := float32(i+1) * beta; v != want {
					t.Errorf("%s beta=%v: c[%d] = %v, want %v", im.name, beta, i, v, want)
				}
			}
		}
	}
}

// TestConcurrent runs Sgemm from several goroutines at once (sweeps train
// trials in parallel); packing scratch must not be shared.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for it := range 20 {
				p := newProblem(rng, it%2 == 0, it%3 != 0, 20+rng.IntN(100), 20+rng.IntN(100), 20+rng.IntN(300), 0, 0, 0, betas[it%3])
				p.check(t, "concurrent", Sgemm)
			}
		}()
	}
	wg.Wait()
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{1, 128, 784}, {32, 128, 784}, {256, 64, 128}} {
		for combo := range 4 {
			p := newProblem(rng, combo&1 != 0, combo&2 != 0, s[0], s[1], s[2], 0, 0, 0, 0)
			f := func() {
				Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
			}
			f()
			if n := testing.AllocsPerRun(20, f); n > 0.1 {
				t.Errorf("%v: %v allocations per call", p, n)
			}
		}
	}
}

type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

func denseShapes(batch int) []benchShape {
	var s []benchShape
	for _, l := range [][2]int{{784, 128}, {128, 64}, {64, 10}} {
		in, out := l[0], l[1]
		s = append(s,
			benchShape{fmt.Sprintf("B%d/fwd_%dx%d", batch, in, out), false, true, batch, out, in},
			benchShape{fmt.Sprintf("B%d/dX_%dx%d", batch, in, out), false, false, batch, in, out},
			benchShape{fmt.Sprintf("B%d/dW_%dx%d", batch, in, out), true, false, out, in, batch},
		)
	}
	return s
}

// BenchmarkSgemm reports GFLOP/s for the dense-layer shapes of an MLP
// 784-128-64-10 at batch 256, 32 and 1, and for a 1024³ product.
func BenchmarkSgemm(b *testing.B) { benchShapes(b, Sgemm) }

func benchShapes(b *testing.B, f sgemmFunc) {
	shapes := append(denseShapes(256), denseShapes(32)...)
	shapes = append(shapes, denseShapes(1)...)
	shapes = append(shapes, benchShape{"square_1024", false, false, 1024, 1024, 1024})
	shapes = append(shapes, benchShape{"square_1000", false, false, 1000, 1000, 1000})
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			p := newProblem(rng, s.transA, s.transB, s.m, s.n, s.k, 0, 0, 0, 0)
			b.ResetTimer()
			for b.Loop() {
				f(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
