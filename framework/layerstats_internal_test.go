package framework

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/framework/mat"
)

// byCall hides a RangeInactive's range, so inactiveFraction calls Inactive
// for each element.
type byCall struct{ r InactiveRange }

func (b byCall) Inactive(z float32) bool { return b.r.Inactive(z) }

type ranged struct{ byCall }

func (r ranged) InactiveRange() InactiveRange { return r.r }

// The vector scan of a RangeInactive finds the dead fraction the scan
// with a call per element finds, on matrices from all units dead to none,
// with NaN, ±Inf and values on the bounds, and allocates nothing.
func TestInactiveFractionByRange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, rg := range []InactiveRange{{Lo: 0, Hi: float32(math.Inf(1))}, {Lo: math.Nextafter32(-2, float32(math.Inf(-1))), Hi: 2}} {
		for _, shape := range [][2]int{{1, 1}, {1, 7}, {32, 64}, {5, 3}, {17, 33}} {
			rows, cols := shape[0], shape[1]
			z := &mat.Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
			for _, pActive := range []float64{0, 0.01, 0.1, 0.5, 1} {
				for i := range z.Data {
					v := float32(-3 - r.Float64()) // inactive for both ranges
					if r.Float64() < pActive {
						v = []float32{1, 2, 0.5, float32(math.NaN()), float32(math.Inf(1))}[r.IntN(5)]
					} else if r.IntN(4) == 0 {
						v = []float32{rg.Lo, float32(math.Inf(-1)), -2.5}[r.IntN(3)]
					}
					z.Data[i] = v
				}
				want := inactiveFraction(z, byCall{rg})
				var act InactiveUnits = ranged{byCall{rg}}
				if got := inactiveFraction(z, act); got != want {
					t.Errorf("range %+v, %dx%d, p(active) %v: %v by range, %v by call", rg, rows, cols, pActive, got, want)
				}
				if allocs := testing.AllocsPerRun(3, func() { inactiveFraction(z, act) }); allocs != 0 {
					t.Errorf("%v allocations", allocs)
				}
			}
		}
	}
}
