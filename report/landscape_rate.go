package report

import "math"

// ConvergenceRate is the measured linear convergence rate ρ of a loss
// series f_0, f_1, … that falls like f_k ∝ ρ^{2k} (the squared distance to
// a minimum of value 0 shrinking by ρ per step, as on a quadratic): with
// n values, the sum of the series over its last quarter over its sum over
// the quarter that ends at n/2, to the power 1/(2·(n/2)), the steps
// between them. Sums over windows, not single values, make it hold for
// momentum's oscillating iterates too (complex eigenvalues); a fast decay
// seen through strong oscillation is read less precisely, as each
// window's first values weigh most (about 2·10⁻³ at ρ = 0.7 with ±50%
// oscillation, 10⁻³ from ρ = 0.8). The series is
// cut where it first falls below rateFloor × f_0, before float32
// parameters turn subnormal. NaN for fewer than 8 values (after the cut)
// or a non-positive or non-finite one; a value above 1 is a diverging
// series.
func ConvergenceRate(f []float64) float64 {
	for i, v := range f {
		if i > 0 && v < rateFloor*f[0] {
			f = f[:i]
			break
		}
	}
	n := len(f)
	if n < 8 {
		return math.NaN()
	}
	for _, v := range f {
		if !(v > 0) || math.IsInf(v, 0) {
			return math.NaN()
		}
	}
	d, w := n/2, n/4
	sum := func(end int) float64 {
		s := 0.0
		for _, v := range f[end-w : end] {
			s += v
		}
		return s
	}
	return math.Pow(sum(n)/sum(n-d), 1/(2*float64(d)))
}

// rateFloor is where ConvergenceRate stops reading a series: f at 10⁻⁶⁰
// of its start is a point at 10⁻³⁰ of its distance, still a normal
// float32 (subnormals, below 1.2·10⁻³⁸, lose precision).
const rateFloor = 1e-60
