// Package gemm holds the single-precision matrix multiply that every dense
// layer runs through. It is the one seam behind which fast kernels live: the
// portable pure-Go path in portable.go is the reference, and architecture
// specific kernels (selected at run time) must agree with it.
//
// Large products are split over the idle cores that package threads lends:
// by whole output blocks only, never inside a sum, so that C is bit-identical
// whatever the number of threads.
package gemm

import (
	"sync"
	"sync/atomic"

	"github.com/gradsweep/gradsweep/internal/threads"
)

// Sgemm computes, for row-major matrices,
//
//	C = op(A)·op(B) + beta·C
//
// where op(A) is A (m×k, leading dimension lda) or, with transA, Aᵀ of a
// stored k×m matrix; likewise op(B) is B (k×n, ldb) or Bᵀ of a stored n×k
// matrix. C is m×n with leading dimension ldc. beta is 0 (overwrite; C's old
// contents, even NaN, are ignored) or 1 (accumulate); other values scale C
// first.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	sgemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is the implementation in use; fast kernels replace it at init.
var sgemm = portableSplit

// kernelName names the implementation behind sgemm.
var kernelName = "portable"

// Kernel names the implementation that Sgemm uses on this machine:
// "avx512", "avx2" or "portable".
func Kernel() string { return kernelName }

// minPartFlops is the least work (2·m·n·k / parts) worth a thread of its
// own: 64 MFLOP. A product alone splits well from 1 MFLOP on
// (BenchmarkSgemmThreads, idle machine: 1.6–1.8× at 4–49 MFLOP), but inside
// training the parts run on a core whose cache does not hold the weights
// and activations the caller's does, and the caller then reads back what
// the helper wrote: whole training passes (bench.BenchmarkSplitThreshold,
// 2 cores of an AMD EPYC, 2026-11-30) lost up to 17% on the reference MLP
// 784-128-64-10 at batch 32 when its 6 MFLOP products split, gained
// nothing dependable at batch 256 (49 MFLOP: 0.91–1.09× over runs), and
// gained 1.5× on a wide 784-1024-1024-10 MLP at batch 256 (products of
// 400–540 MFLOP), nothing at batch 32 (51–67 MFLOP). So only products of
// 128 MFLOP and more are split.
var minPartFlops atomic.Int64

func init() { minPartFlops.Store(64 << 20) }

// SetSplitThreshold sets the least work per part (2·m·n·k flops / parts)
// for which a product is split, and returns the previous one; 1 splits
// every product into as many parts as threads are lent. For tests and
// measurements: the results are the same bits whatever the threshold.
func SetSplitThreshold(flops int) int {
	return int(minPartFlops.Swap(int64(max(flops, 1))))
}

// splitParts is the number of parts worth splitting an m×n×k product into,
// at most units (the blocks the implementation can hand out whole).
func splitParts(m, n, k, units int) int {
	return min(units, int(2*int64(m)*int64(n)*int64(k)/minPartFlops.Load()))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// job is one product split by output blocks (see threads.Job).
type job struct {
	ks             splitter // nil: Portable, by rows
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	mode           int  // kernel store mode of beta
	packA          bool // A is packed (decided once for every part)
	nBlocks        int  // row blocks of the one-thread call
	panels         int  // column panels of the one-thread call
}

// splitter computes one part of a job with fast kernels.
type splitter interface {
	part(j *job, i, n int)
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// runJob runs the product described by jb in at most parts parts.
func runJob(jb job, parts int) {
	j := jobPool.Get().(*job)
	*j = jb
	threads.Run(j, parts)
	*j = job{}
	jobPool.Put(j)
}

// Part computes part i of n of the product (threads.Job).
func (j *job) Part(i, n int) {
	if j.ks != nil {
		j.ks.part(j, i, n)
		return
	}
	// Portable computes each row of C on its own: any split by rows gives
	// the same bits.
	r0, r1 := i*j.m/n, (i+1)*j.m/n
	a := j.a
	if j.transA {
		a = a[r0:]
	} else {
		a = a[r0*j.lda:]
	}
	Portable(j.transA, j.transB, r1-r0, j.n, j.k, a, j.lda, j.b, j.ldb, j.beta, j.c[r0*j.ldc:], j.ldc)
}

// portableSplit is Portable, split by rows over lent threads when large.
func portableSplit(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if parts := splitParts(m, n, k, m); parts > 1 && shapeOK(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
		runJob(job{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}, parts)
		return
	}
	Portable(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// shapeOK reports whether every element the operation touches is inside the
// slices; otherwise the caller falls back to Portable, which panics exactly
// as before.
func shapeOK(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	if m <= 0 || n <= 0 || k < 0 || ldc < n || len(c) < (m-1)*ldc+n {
		return false
	}
	if k == 0 {
		return true
	}
	if transA {
		if lda < m || len(a) < (k-1)*lda+m {
			return false
		}
	} else if lda < k || len(a) < (m-1)*lda+k {
		return false
	}
	if transB {
		if ldb < k || len(b) < (n-1)*ldb+k {
			return false
		}
	} else if ldb < n || len(b) < (k-1)*ldb+n {
		return false
	}
	return true
}
