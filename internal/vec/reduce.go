package vec

// The reductions below sum float32 data in float64: every element is widened
// to float64 (exactly), and the terms are added into 16 partial sums, term i
// into sum i mod 16, in increasing i, each sum starting at +0. The 16 sums
// are then folded in a fixed tree:
//
//	t[j] = s[j] + s[j+8]   (j < 8)
//	u[j] = t[j] + t[j+4]   (j < 4)
//	v[j] = u[j] + u[j+2]   (j < 2)
//	result = v[0] + v[1]
//
// The 16 independent sums let the assembly keep two AVX-512 vectors (four
// AVX2 vectors) of float64 accumulators busy instead of waiting on one chain
// of additions, and fixing the order makes every implementation give the
// same bits (only a NaN result's payload may differ). A squared float32 is
// exact in float64 (48 significant bits), so x·x + s rounds once whether or
// not it is fused; the square of a difference is rounded before it is added.
//
// Special values: an infinite element makes a sum +Inf, a NaN element (or
// +Inf − +Inf in a difference) makes it NaN. Finite float32 data never
// overflow: a square is below 2^256.

// SumSquares is Σ x[i]², summed in float64 as described above: the squared
// Euclidean (Frobenius) norm of x. It is 0 for an empty x.
func SumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return cur.sumSq(x)
}

// SumSquaresDistance is Σ w[i]² and Σ (w[i] − v[i])² over i < len(w), each
// summed in float64 as described above, with w[i] − v[i] the float64
// difference of the widened elements: the squared norms of w and of w − v.
// v must hold at least len(w) elements (it panics otherwise).
func SumSquaresDistance(w, v []float32) (ww, dd float64) {
	n := len(w)
	need(n, len(v))
	if n == 0 {
		return 0, 0
	}
	return cur.sumSqDist(w, v[:n])
}

// DeadColumns counts the columns of the rows × cols row-major matrix z in
// which every element lies outside the interval (lo, hi]: z ≤ lo or z > hi
// (a NaN is never outside, ±Inf compares as usual): the units of a layer
// whose activation leaves them inactive for a whole batch. A matrix of no
// rows has every column dead. z must hold at least rows·cols elements
// (it panics otherwise). Counting is exact, so every implementation
// agrees.
func DeadColumns(z []float32, rows, cols int, lo, hi float32) int {
	if rows < 0 || cols < 0 {
		panic("vec: DeadColumns of a negative shape")
	}
	if rows == 0 || cols == 0 {
		return cols
	}
	need(rows*cols, len(z))
	return cur.deadColumns(z[:rows*cols], rows, cols, lo, hi)
}
