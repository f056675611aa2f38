package report

import "math"

// ConvergenceRate is the measured linear convergence rate ρ of a loss
// series f_0, f_1, … that falls like f_k ∝ ρ^{2k} (the squared distance to
// a minimum of value 0 shrinking by ρ per step, as on a quadratic): the
// ratio of the series' envelope, its largest value over a window of n/8
// steps, at the end and at the middle, to the power 1/(2·steps between
// them). The envelope, not single values, makes it hold for momentum's
// oscillating iterates too (complex eigenvalues). The series is cut where
// it first falls below rateFloor × f_0: float32 parameters lose their
// precision long before f underflows. NaN for fewer than 8 values (after
// the cut) or a non-positive or non-finite one; a value above 1 is a
// diverging series.
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
	h, w := n/2, max(1, n/8)
	envelope := func(end int) float64 {
		m := 0.0
		for _, v := range f[end-w : end] {
			m = max(m, v)
		}
		return m
	}
	return math.Pow(envelope(n)/envelope(h), 1/(2*float64(n-h)))
}

// rateFloor is where ConvergenceRate stops reading a series: f at 10⁻²⁰
// of its start is a point at 10⁻¹⁰ of its distance, well inside float32's
// normal range (and its relative precision still 6·10⁻⁸).
const rateFloor = 1e-20
