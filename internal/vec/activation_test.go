package vec

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var actStride = flag.Uint64("act-stride", 1021, "TestActivationAccuracy: check every `N`th float32 bit pattern (1: all 2³², hours)")

// sigmoid64 is σ in float64, the form the layers used before the kernels.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// ulps is the distance between a and b in float32 units in the last place
// (adjacent floats are 1 apart, +0 and −0 are 0 apart); two NaNs are 0
// apart, a NaN and a number infinitely far.
func ulps(a, b float32) float64 {
	an, bn := a != a, b != b
	if an || bn {
		if an && bn {
			return 0
		}
		return math.Inf(1)
	}
	ord := func(f float32) int64 {
		u := math.Float32bits(f)
		if u&0x80000000 != 0 {
			return -int64(u & 0x7fffffff)
		}
		return int64(u)
	}
	return math.Abs(float64(ord(a) - ord(b)))
}

type actFunc struct {
	name string
	run  func(dst, x []float32)
	ref  func(x float64) float64
}

var actFuncs = []actFunc{
	{"sigmoid", Sigmoid, sigmoid64},
	{"tanh", Tanh, math.Tanh},
	// ExpShift over its domain, x − shift ≤ 0: shifted by 0, and by −0.5,
	// which checks the subtraction too.
	{"exp", func(dst, x []float32) { ExpShift(dst, x, 0) }, expRef(0)},
	{"exp-shifted", func(dst, x []float32) { ExpShift(dst, x, -0.5) }, expRef(-0.5)},
}

// expRef is e^(x − shift) with the shift rounded to float32 as ExpShift
// rounds it; outside the domain it is NaN, which the accuracy sweep skips.
func expRef(shift float32) func(float64) float64 {
	return func(x float64) float64 {
		d := float32(x) - shift
		if d > 0 {
			return math.NaN()
		}
		return math.Exp(float64(d))
	}
}

// TestActivationAccuracy sweeps the float32 line, every 1021st bit pattern
// (4.2 million inputs, every binade of both signs; -act-stride 1 checks all 2³²),
// and requires of every implementation the same bits as the portable one and
// of the portable one at most MaxULP ulps from the float64 function rounded
// to float32.
func TestActivationAccuracy(t *testing.T) {
	stride := max(*actStride, 1)
	if testing.Short() {
		stride = 65521
	}
	list := impls(t)
	const chunk = 1 << 16
	x := make([]float32, 0, chunk)
	want := make([]float32, chunk)
	got := make([]float32, chunk)
	for _, f := range actFuncs {
		worst, worstX := 0.0, float32(0)
		check := func() {
			use(t, portable)
			f.run(want[:len(x)], x)
			for i, v := range x {
				ref := float32(f.ref(float64(v)))
				if ref != ref && v == v {
					continue // outside ExpShift's domain
				}
				if d := ulps(want[i], ref); d > worst {
					worst, worstX = d, v
				}
			}
			for _, im := range list[1:] {
				use(t, im)
				f.run(got[:len(x)], x)
				for i := range x {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%s %s(%g) = %g (%#x), portable %g (%#x)", im.name, f.name, x[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
			x = x[:0]
		}
		for u := uint64(0); u < 1<<32; u += stride {
			x = append(x, math.Float32frombits(uint32(u)))
			if len(x) == chunk {
				check()
			}
		}
		check()
		t.Logf("%s: worst error %g ulp at x = %g (%#x)", f.name, worst, worstX, math.Float32bits(worstX))
		bound := float64(MaxULP)
		if strings.HasPrefix(f.name, "exp") {
			bound = ExpMaxULP
		}
		if worst > bound {
			t.Errorf("%s: error %g ulp at x = %g, above the bound of %g", f.name, worst, worstX, bound)
		}
	}
}

// TestActivationSpecialValues checks the exact values at the ends, at zero
// and for NaN, in every implementation, at every position of a vector.
func TestActivationSpecialValues(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	maxF := float32(math.MaxFloat32)
	type c struct{ x, sig, tanh float32 }
	cs := []c{
		{0, 0.5, 0}, {negZero, 0.5, negZero},
		{inf, 1, 1}, {-inf, 0, -1}, {maxF, 1, 1}, {-maxF, 0, -1},
		{100, 1, 1}, {-110, 0, -1}, {20, 1, 1}, {-9.5, float32(sigmoid64(-9.5)), -1},
		{1e-45, 0.5, 1e-45}, {-1e-45, 0.5, -1e-45}, {1e-20, 0.5, 1e-20},
	}
	for _, im := range impls(t) {
		use(t, im)
		for _, n := range []int{1, 7, 8, 16, 17, 33} {
			for _, cc := range cs {
				x := make([]float32, n)
				for i := range x {
					x[i] = cc.x
				}
				x[n-1] = nan
				s, th := make([]float32, n), make([]float32, n)
				Sigmoid(s, x)
				Tanh(th, x)
				for i := 0; i < n-1; i++ {
					if math.Float32bits(th[i]) != math.Float32bits(cc.tanh) {
						t.Errorf("%s n=%d: tanh(%g) = %g, want %g", im.name, n, cc.x, th[i], cc.tanh)
					}
					if cc.x == -9.5 {
						if ulps(s[i], cc.sig) > MaxULP {
							t.Errorf("%s n=%d: σ(%g) = %g, want %g", im.name, n, cc.x, s[i], cc.sig)
						}
					} else if math.Float32bits(s[i]) != math.Float32bits(cc.sig) {
						t.Errorf("%s n=%d: σ(%g) = %g, want %g", im.name, n, cc.x, s[i], cc.sig)
					}
				}
				if s[n-1] == s[n-1] || th[n-1] == th[n-1] {
					t.Errorf("%s n=%d: σ(NaN) = %g, tanh(NaN) = %g, want NaN", im.name, n, s[n-1], th[n-1])
				}
			}
		}
	}
}

// TestActivationExact checks the kernels that compute plain float32
// expressions against those expressions in scalar Go, bit for bit, on
// random data (special values included) of every length, in place too.
func TestActivationExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type ec struct {
		name string
		run  func(dst, a, b []float32, s float32)
		ref  func(a, b, s float32) float32
	}
	list := []ec{
		{"sigmoidGrad", func(d, a, b []float32, _ float32) { SigmoidGrad(d, a, b) },
			func(g, y, _ float32) float32 { return g * float32(y*(1-y)) }},
		{"tanhGrad", func(d, a, b []float32, _ float32) { TanhGrad(d, a, b) },
			func(g, y, _ float32) float32 { return g * (1 - float32(y*y)) }},
		{"leakyRelu", func(d, a, _ []float32, s float32) { LeakyReLU(d, a, s) },
			func(x, _, s float32) float32 {
				if x > 0 {
					return x
				}
				return s * x
			}},
		{"leakyReluGrad", func(d, a, b []float32, s float32) { LeakyReLUGrad(d, a, b, s) },
			func(g, x, s float32) float32 {
				if x > 0 {
					return g
				}
				return g * s
			}},
	}
	for _, im := range impls(t) {
		use(t, im)
		for _, c := range list {
			for _, n := range lengths {
				a, b := make([]float32, n), make([]float32, n)
				for i := range a {
					a[i], b[i] = value(r), value(r)
					if r.IntN(4) == 0 {
						b[i] = float32(r.Float64())
					}
				}
				s := float32(r.Float64())
				want := make([]float32, n)
				for i := range want {
					want[i] = c.ref(a[i], b[i], s)
				}
				for _, inPlace := range []bool{false, true} {
					dst := make([]float32, n)
					aa := append([]float32(nil), a...)
					if inPlace {
						dst = aa
					}
					c.run(dst, aa, b, s)
					for i := range want {
						if !same(dst[i], want[i]) {
							t.Fatalf("%s %s n=%d in place %v: [%d] = %g, want %g (a=%g b=%g s=%g)", im.name, c.name, n, inPlace, i, dst[i], want[i], a[i], b[i], s)
						}
					}
				}
			}
		}
	}
}

// TestActivationLengths runs Sigmoid and Tanh on every length through the
// masked tails and checks each element against the one-element call and
// that nothing past n is written.
func TestActivationLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, im := range impls(t) {
		use(t, im)
		for _, f := range actFuncs {
			for _, n := range lengths {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 4)
				}
				dst := make([]float32, n+guard)
				for i := n; i < len(dst); i++ {
					dst[i] = 42
				}
				f.run(dst[:n], x)
				one := make([]float32, 1)
				for i := range n {
					f.run(one, x[i:i+1])
					if math.Float32bits(one[0]) != math.Float32bits(dst[i]) {
						t.Fatalf("%s %s n=%d: [%d] = %g in a vector, %g alone", im.name, f.name, n, i, dst[i], one[0])
					}
				}
				for i := n; i < len(dst); i++ {
					if dst[i] != 42 {
						t.Fatalf("%s %s n=%d wrote past the end", im.name, f.name, n)
					}
				}
			}
		}
	}
}

func BenchmarkActivations(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	x, y, g := make([]float32, benchN), make([]float32, benchN), make([]float32, benchN)
	for i := range x {
		x[i], g[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	dst := make([]float32, benchN)
	list := []struct {
		name string
		run  func()
	}{
		{"sigmoid", func() { Sigmoid(dst, x) }},
		{"tanh", func() { Tanh(dst, x) }},
		{"sigmoidGrad", func() { SigmoidGrad(dst, g, y) }},
		{"tanhGrad", func() { TanhGrad(dst, g, y) }},
		{"leakyRelu", func() { LeakyReLU(dst, x, 0.01) }},
		{"leakyReluGrad", func() { LeakyReLUGrad(dst, g, x, 0.01) }},
	}
	for _, c := range list {
		for _, im := range impls(nil) {
			b.Run(fmt.Sprintf("%s/%s", c.name, im.name), func(b *testing.B) {
				use(b, im)
				for b.Loop() {
					c.run()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN, "ns/elem")
			})
		}
	}
}
