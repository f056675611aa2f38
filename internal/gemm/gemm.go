// Package gemm holds the single-precision matrix multiply that every dense
// layer runs through. It is the one seam behind which fast kernels live: the
// portable pure-Go path in portable.go is the reference, and architecture
// specific kernels (selected at run time) must agree with it.
package gemm

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
var sgemm = Portable

// kernelName names the implementation behind sgemm.
var kernelName = "portable"

// Kernel names the implementation that Sgemm uses on this machine:
// "avx512", "avx2" or "portable".
func Kernel() string { return kernelName }
