package report

import (
	"math"
	"testing"
)

// TestConvergenceRate: the rate of f_k = ρ^{2k}·(1 + ½cos(ωk)), an
// oscillating linear decay, is ρ; a series is read only down to
// rateFloor·f_0, and too short a series has none.
func TestConvergenceRate(t *testing.T) {
	for _, rho := range []float64{0.8, 0.9, 0.99, 1.02} {
		f := make([]float64, 400)
		for k := range f {
			f[k] = math.Pow(rho, 2*float64(k)) * (1 + 0.5*math.Cos(0.7*float64(k)))
		}
		if got := ConvergenceRate(f); math.Abs(got-rho) > 1e-3 {
			t.Errorf("ρ = %v: measured %v", rho, got)
		}
	}
	if got := ConvergenceRate([]float64{1, 0.5, 0.25}); !math.IsNaN(got) {
		t.Errorf("3 values: %v, want NaN", got)
	}
	// past the floor the series is float32 noise: it is not read
	f := make([]float64, 100)
	for k := range f {
		f[k] = math.Pow(0.2, 2*float64(k))
		if f[k] < 1e-65 {
			f[k] = 1e-65 // stalled
		}
	}
	if got := ConvergenceRate(f); math.Abs(got-0.2) > 1e-3 {
		t.Errorf("stalled series: measured %v, want 0.2", got)
	}
}

// TestThinPath keeps the first and last points and at most MaxPathPoints.
func TestThinPath(t *testing.T) {
	pts := make([][2]float64, 10*MaxPathPoints+7)
	for i := range pts {
		pts[i] = [2]float64{float64(i), 0}
	}
	th := ThinPath(pts)
	if len(th) != MaxPathPoints || th[0] != pts[0] || th[len(th)-1] != pts[len(pts)-1] {
		t.Errorf("%d points, first %v, last %v", len(th), th[0], th[len(th)-1])
	}
}
