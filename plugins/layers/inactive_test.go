package layers

import (
	"math"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// Each activation's InactiveRange is the rule its documentation states
// (ReLU z ≤ 0, tanh |z| > 2, sigmoid |z| > 4; NaN never inactive), at and
// next to the bounds, at zeros, infinities and NaN; and Inactive agrees.
func TestInactiveRanges(t *testing.T) {
	inf := float32(math.Inf(1))
	down := func(x float32) float32 { return math.Nextafter32(x, -inf) }
	up := func(x float32) float32 { return math.Nextafter32(x, inf) }
	for _, c := range []struct {
		name string
		act  framework.RangeInactive
		rule func(z float32) bool
	}{
		{"relu", &ReLU{}, func(z float32) bool { return z <= 0 }},
		{"tanh", &Tanh{}, func(z float32) bool { return z > 2 || z < -2 }},
		{"sigmoid", &Sigmoid{}, func(z float32) bool { return z > 4 || z < -4 }},
	} {
		zs := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 1, -1, inf, -inf, float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32}
		for _, b := range []float32{0, 2, 4} {
			for _, s := range []float32{1, -1} {
				zs = append(zs, s*b, down(s*b), up(s*b))
			}
		}
		r := c.act.InactiveRange()
		for _, z := range zs {
			if want := c.rule(z); r.Inactive(z) != want || c.act.Inactive(z) != want {
				t.Errorf("%s: z = %v: range %+v gives %v, Inactive %v; want %v", c.name, z, r, r.Inactive(z), c.act.Inactive(z), want)
			}
		}
	}
}
