package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Reference: each kernel's doc-comment formula transcribed element by
// element with one call per rounded operation. The helpers are not inlined,
// so no compiler can fuse a multiply into an add (the Go rounding that the
// optimizers' scalar loops had on amd64).

//go:noinline
func add(a, b float32) float32 { return a + b }

//go:noinline
func sub(a, b float32) float32 { return a - b }

//go:noinline
func mul(a, b float32) float32 { return a * b }

//go:noinline
func div(a, b float32) float32 { return a / b }

func sqrt(a float32) float32 { return float32(math.Sqrt(float64(a))) }

func gradRef(grad, theta float32, wd float32) float32 {
	if wd == 0 {
		return grad
	}
	return add(grad, mul(wd, theta))
}

func refSGD(theta, grad []float32, nlr, wd float32) {
	for i := range theta {
		theta[i] = add(theta[i], mul(nlr, gradRef(grad[i], theta[i], wd)))
	}
}

func refMomentum(theta, grad, b []float32, p MomentumParams) {
	for i := range theta {
		g := gradRef(grad[i], theta[i], p.WD)
		if p.First {
			b[i] = g
		} else {
			b[i] = add(mul(p.Mu, b[i]), mul(p.Damp, g))
		}
		if p.Nesterov {
			theta[i] = add(theta[i], mul(p.NegLR, add(g, mul(p.Mu, b[i]))))
		} else {
			theta[i] = add(theta[i], mul(p.NegLR, b[i]))
		}
	}
}

func refAdam(theta, grad, m, v, vmax []float32, p AdamParams) {
	for i := range theta {
		if p.Keep != 1 {
			theta[i] = mul(theta[i], p.Keep)
		}
		g := gradRef(grad[i], theta[i], p.WD)
		m[i] = add(mul(p.B1, m[i]), mul(p.C1, g))
		v[i] = add(mul(p.B2, v[i]), mul(mul(p.C2, g), g))
		u := v[i]
		if p.AMSGrad {
			vmax[i] = max(vmax[i], v[i])
			u = vmax[i]
		}
		theta[i] = sub(theta[i], div(mul(p.StepSize, m[i]), add(div(sqrt(u), p.BC2Sqrt), p.Eps)))
	}
}

func refNAdam(theta, grad, m, v []float32, p NAdamParams) {
	for i := range theta {
		g := gradRef(grad[i], theta[i], p.WD)
		m[i] = add(mul(p.B1, m[i]), mul(p.C1, g))
		v[i] = add(mul(p.B2, v[i]), mul(mul(p.C2, g), g))
		d := add(sqrt(div(v[i], p.BC2)), p.Eps)
		theta[i] = sub(theta[i], div(mul(p.CG, g), d))
		theta[i] = sub(theta[i], div(mul(p.CM, m[i]), d))
	}
}

func refRMSprop(theta, grad, v, gAvg, b []float32, p RMSpropParams) {
	for i := range theta {
		g := gradRef(grad[i], theta[i], p.WD)
		v[i] = add(mul(p.Alpha, v[i]), mul(mul(p.CAlpha, g), g))
		vt := v[i]
		if p.Centered {
			gAvg[i] = add(mul(p.Alpha, gAvg[i]), mul(p.CAlpha, g))
			vt = sub(vt, mul(gAvg[i], gAvg[i]))
		}
		d := add(sqrt(vt), p.Eps)
		if p.Mu > 0 {
			b[i] = add(mul(p.Mu, b[i]), div(g, d))
			theta[i] = sub(theta[i], mul(p.LR, b[i]))
		} else {
			theta[i] = sub(theta[i], div(mul(p.LR, g), d))
		}
	}
}

func refAdagrad(theta, grad, sum []float32, p AdagradParams) {
	for i := range theta {
		g := gradRef(grad[i], theta[i], p.WD)
		sum[i] = add(sum[i], mul(g, g))
		theta[i] = sub(theta[i], div(mul(p.CLR, g), add(sqrt(sum[i]), p.Eps)))
	}
}

func refAdadelta(theta, grad, v, u []float32, p AdadeltaParams) {
	for i := range theta {
		g := gradRef(grad[i], theta[i], p.WD)
		v[i] = add(mul(p.Rho, v[i]), mul(mul(p.CRho, g), g))
		d := mul(div(sqrt(add(u[i], p.Eps)), sqrt(add(v[i], p.Eps))), g)
		u[i] = add(mul(p.Rho, u[i]), mul(mul(p.CRho, d), d))
		theta[i] = sub(theta[i], mul(p.LR, d))
	}
}

// ---- test data ----

var lengths = func() []int {
	var ns []int
	for n := 0; n <= 70; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1000, 4097)
}()

// value draws a float32 from a mix of ordinary values, zeros of both signs,
// subnormals and large values, positive and negative.
func value(r *rand.Rand) float32 {
	s := float32(1)
	if r.IntN(2) == 0 {
		s = -1
	}
	switch r.IntN(10) {
	case 0:
		return s * 0 // ±0
	case 1:
		return s * math.Float32frombits(uint32(1+r.IntN(1<<23-1))) // subnormal
	case 2:
		return s * float32(math.Ldexp(1+r.Float64(), 60+r.IntN(60))) // large
	case 3:
		return s * float32(math.Ldexp(1+r.Float64(), -126+r.IntN(20))) // tiny normal
	default:
		return s * float32(r.NormFloat64())
	}
}

// coef draws a coefficient: usually a typical optimizer value, sometimes
// 0, 1, a negative, subnormal or large one.
func coef(r *rand.Rand, typical float32) float32 {
	switch r.IntN(8) {
	case 0:
		return value(r)
	case 1:
		return 0
	case 2:
		return 1
	default:
		return typical
	}
}

// arrays are a kernel's inputs: slices of length n placed at an odd offset
// inside larger buffers whose guard elements must stay untouched.
type arrays struct {
	n    int
	bufs [][]float32
}

const guard = 5

func newArrays(r *rand.Rand, k, n int) *arrays {
	a := &arrays{n: n}
	for range k {
		buf := make([]float32, n+2*guard)
		for i := range buf {
			buf[i] = value(r)
		}
		a.bufs = append(a.bufs, buf)
	}
	return a
}

func (a *arrays) clone() *arrays {
	c := &arrays{n: a.n}
	for _, b := range a.bufs {
		c.bufs = append(c.bufs, append([]float32(nil), b...))
	}
	return c
}

func (a *arrays) s(j int) []float32 { return a.bufs[j][guard : guard+a.n : guard+a.n] }

func same(x, y float32) bool {
	return math.Float32bits(x) == math.Float32bits(y) || x != x && y != y // any NaN matches any NaN
}

// compare reports every element (guards included) of got that differs in
// bits from want.
func compare(t *testing.T, what string, got, want *arrays) {
	t.Helper()
	bad := 0
	for j := range want.bufs {
		for i := range want.bufs[j] {
			g, w := got.bufs[j][i], want.bufs[j][i]
			if !same(g, w) {
				if bad < 5 {
					t.Errorf("%s: array %d element %d = %g (%#08x), want %g (%#08x)", what, j, i-guard, g, math.Float32bits(g), w, math.Float32bits(w))
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d elements differ", what, bad)
	}
}

// impls lists the portable kernels and every assembly set this CPU runs.
func impls(t testing.TB) []*impl {
	list := append([]*impl{portable}, archImpls...)
	if t != nil {
		var names []string
		for _, im := range list {
			names = append(names, im.name)
		}
		t.Logf("implementations tested: %v (in use: %s)", names, cur.name)
	}
	return list
}

// use makes im the implementation behind the exported functions.
func use(t testing.TB, im *impl) {
	old := cur
	cur = im
	t.Cleanup(func() { cur = old })
}

// kernelCase is one kernel variant: k arrays, a reference and the exported
// kernel, both applied to the slices of the arrays.
type kernelCase struct {
	name string
	k    int
	ref  func(s func(int) []float32)
	run  func(s func(int) []float32)
}

// cases draws the coefficients of every variant of every kernel.
func cases(r *rand.Rand) []kernelCase {
	var cs []kernelCase
	bools := []bool{false, true}
	for _, wdOn := range bools {
		wd := float32(0)
		if wdOn {
			wd = coef(r, 1e-4) + 1e-30 // never 0
		}
		nlr := coef(r, -0.05)
		cs = append(cs, kernelCase{fmt.Sprintf("sgd wd=%g", wd), 2,
			func(s func(int) []float32) { refSGD(s(0), s(1), nlr, wd) },
			func(s func(int) []float32) { SGD(s(0), s(1), nlr, wd) }})
		for _, first := range bools {
			for _, nest := range bools {
				p := MomentumParams{NegLR: coef(r, -0.01), Mu: coef(r, 0.9), Damp: coef(r, 0.9), WD: wd, First: first, Nesterov: nest}
				cs = append(cs, kernelCase{fmt.Sprintf("momentum %+v", p), 3,
					func(s func(int) []float32) { refMomentum(s(0), s(1), s(2), p) },
					func(s func(int) []float32) { Momentum(s(0), s(1), s(2), p) }})
			}
		}
		for _, decoupled := range bools {
			for _, ams := range bools {
				p := AdamParams{B1: coef(r, 0.9), C1: coef(r, 0.1), B2: coef(r, 0.999), C2: coef(r, 0.001),
					BC2Sqrt: coef(r, 0.0447), Eps: coef(r, 1e-8), StepSize: coef(r, 0.0019), WD: wd, Keep: 1, AMSGrad: ams}
				if decoupled {
					p.Keep = 0.9999
				}
				if r.IntN(3) == 0 {
					p.C2 = -p.C2 // −0 moments, for max's signed zeros
				}
				cs = append(cs, kernelCase{fmt.Sprintf("adam %+v", p), 5,
					func(s func(int) []float32) { refAdam(s(0), s(1), s(2), s(3), s(4), p) },
					func(s func(int) []float32) {
						vmax := s(4)
						if !ams {
							vmax = nil
						}
						Adam(s(0), s(1), s(2), s(3), vmax, p)
					}})
			}
		}
		{
			p := NAdamParams{B1: coef(r, 0.9), C1: coef(r, 0.1), B2: coef(r, 0.999), C2: coef(r, 0.001), BC2: coef(r, 0.002),
				Eps: coef(r, 1e-8), CG: coef(r, 0.1), CM: coef(r, 0.5), WD: wd}
			cs = append(cs, kernelCase{fmt.Sprintf("nadam %+v", p), 4,
				func(s func(int) []float32) { refNAdam(s(0), s(1), s(2), s(3), p) },
				func(s func(int) []float32) { NAdam(s(0), s(1), s(2), s(3), p) }})
		}
		for _, centered := range bools {
			for _, mom := range bools {
				p := RMSpropParams{Alpha: coef(r, 0.99), CAlpha: coef(r, 0.01), Eps: coef(r, 1e-8), LR: coef(r, 0.01), WD: wd, Centered: centered}
				if mom {
					p.Mu = 0.9
				}
				cs = append(cs, kernelCase{fmt.Sprintf("rmsprop %+v", p), 5,
					func(s func(int) []float32) { refRMSprop(s(0), s(1), s(2), s(3), s(4), p) },
					func(s func(int) []float32) {
						gAvg, b := s(3), s(4)
						if !centered {
							gAvg = nil
						}
						if !mom {
							b = nil
						}
						RMSprop(s(0), s(1), s(2), gAvg, b, p)
					}})
			}
		}
		{
			p := AdagradParams{CLR: coef(r, 0.01), Eps: coef(r, 1e-10), WD: wd}
			cs = append(cs, kernelCase{fmt.Sprintf("adagrad %+v", p), 3,
				func(s func(int) []float32) { refAdagrad(s(0), s(1), s(2), p) },
				func(s func(int) []float32) { Adagrad(s(0), s(1), s(2), p) }})
		}
		{
			p := AdadeltaParams{Rho: coef(r, 0.9), CRho: coef(r, 0.1), Eps: coef(r, 1e-6), LR: coef(r, 1), WD: wd}
			cs = append(cs, kernelCase{fmt.Sprintf("adadelta %+v", p), 4,
				func(s func(int) []float32) { refAdadelta(s(0), s(1), s(2), s(3), p) },
				func(s func(int) []float32) { Adadelta(s(0), s(1), s(2), s(3), p) }})
		}
	}
	return cs
}

// TestBitIdentical runs every variant of every kernel, in every
// implementation, on random data of many lengths and compares each output
// element's bits with the reference.
func TestBitIdentical(t *testing.T) {
	list := impls(t)
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 4 { // fresh coefficients each round
		for _, c := range cases(r) {
			for _, n := range lengths {
				in := newArrays(r, c.k, n)
				want := in.clone()
				c.ref(want.s)
				for _, im := range list {
					use(t, im)
					got := in.clone()
					c.run(got.s)
					compare(t, fmt.Sprintf("round %d %s %s n=%d", round, im.name, c.name, n), got, want)
				}
			}
		}
	}
}

// TestSpecialValues feeds each kernel arrays made only of the awkward
// values (±0, ±subnormal, ±large, ±1) in every combination position.
func TestSpecialValues(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 3e-39, -3e-39, 1e38, -1e38, 1, -1, 1e-20, 0.5}
	list := impls(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases(r) {
		n := 97
		in := newArrays(r, c.k, n)
		for j := range in.bufs {
			for i := range in.bufs[j] {
				in.bufs[j][i] = specials[(i*(j+3)+j*j)%len(specials)]
			}
		}
		want := in.clone()
		c.ref(want.s)
		for _, im := range list {
			use(t, im)
			got := in.clone()
			c.run(got.s)
			compare(t, im.name+" "+c.name, got, want)
		}
	}
}

// The reference max is Go's: check the signed-zero and NaN cases the
// assembly emulates, through Adam's amsgrad with v passed through unchanged
// (B2 = 1 and C2·g·g = −0).
func TestAMSGradMax(t *testing.T) {
	nan := float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	pairs := [][2]float32{{0, negz}, {negz, 0}, {negz, negz}, {0, 0}, {1, nan}, {nan, 1}, {nan, nan}, {-1, 2}, {2, -1}, {3, 3}}
	for _, im := range impls(t) {
		use(t, im)
		n := len(pairs)
		theta, grad, m := make([]float32, n), make([]float32, n), make([]float32, n)
		v, vmax := make([]float32, n), make([]float32, n)
		for i, p := range pairs {
			vmax[i], v[i] = p[0], p[1]
		}
		Adam(theta, grad, m, v, vmax, AdamParams{B1: 1, C1: 0, B2: 1, C2: -1, BC2Sqrt: 1, Eps: 1, StepSize: 1, Keep: 1, AMSGrad: true})
		for i, p := range pairs {
			want := max(p[0], p[1])
			if !same(vmax[i], want) || math.Signbit(float64(vmax[i])) != math.Signbit(float64(want)) && want == 0 {
				t.Errorf("%s: max(%g, %g) = %g, want %g", im.name, p[0], p[1], vmax[i], want)
			}
		}
	}
}

func TestShortSlicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a gradient shorter than theta")
		}
	}()
	SGD(make([]float32, 4), make([]float32, 3, 8), 1, 0)
}

// ---- benchmarks ----

// benchN is the parameter count of the 784-128-64-10 MLP.
const benchN = 109386

// BenchmarkKernels times one step of each kernel over benchN elements in
// each implementation; ns/elem is the figure to compare.
func BenchmarkKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	// θ, g and the state arrays of typical magnitude; state arrays (index
	// 2 on) non-negative, as second moments and sums are.
	typical := func(k int) *arrays {
		a := &arrays{n: benchN}
		for j := range k {
			buf := make([]float32, benchN+2*guard)
			for i := range buf {
				buf[i] = float32(r.NormFloat64()) * 0.01
				if j >= 2 {
					buf[i] = float32(math.Abs(float64(buf[i])))
				}
			}
			a.bufs = append(a.bufs, buf)
		}
		return a
	}
	type bc struct {
		name string
		k    int
		run  func(s func(int) []float32)
	}
	list := []bc{
		{"sgd", 2, func(s func(int) []float32) { SGD(s(0), s(1), -1e-9, 0) }},
		{"sgd-wd", 2, func(s func(int) []float32) { SGD(s(0), s(1), -1e-9, 1e-4) }},
		{"momentum", 3, func(s func(int) []float32) {
			Momentum(s(0), s(1), s(2), MomentumParams{NegLR: -1e-9, Mu: 0.9, Damp: 1})
		}},
		{"nesterov", 3, func(s func(int) []float32) {
			Momentum(s(0), s(1), s(2), MomentumParams{NegLR: -1e-9, Mu: 0.9, Damp: 1, Nesterov: true})
		}},
		{"adam", 4, func(s func(int) []float32) {
			Adam(s(0), s(1), s(3), s(2), nil, AdamParams{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, BC2Sqrt: 0.5, Eps: 1e-8, StepSize: 1e-9, Keep: 1})
		}},
		{"adamw-amsgrad", 5, func(s func(int) []float32) {
			Adam(s(0), s(1), s(3), s(2), s(4), AdamParams{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, BC2Sqrt: 0.5, Eps: 1e-8, StepSize: 1e-9, Keep: 0.99999, AMSGrad: true})
		}},
		{"nadam", 4, func(s func(int) []float32) {
			NAdam(s(0), s(1), s(3), s(2), NAdamParams{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, BC2: 0.5, Eps: 1e-8, CG: 1e-9, CM: 1e-9})
		}},
		{"rmsprop", 3, func(s func(int) []float32) {
			RMSprop(s(0), s(1), s(2), nil, nil, RMSpropParams{Alpha: 0.99, CAlpha: 0.01, Eps: 1e-8, LR: 1e-9})
		}},
		{"rmsprop-centered-momentum", 5, func(s func(int) []float32) {
			RMSprop(s(0), s(1), s(2), s(3), s(4), RMSpropParams{Alpha: 0.99, CAlpha: 0.01, Eps: 1e-8, LR: 1e-9, Mu: 0.9, Centered: true})
		}},
		{"adagrad", 3, func(s func(int) []float32) { Adagrad(s(0), s(1), s(2), AdagradParams{CLR: 1e-9, Eps: 1e-10}) }},
		{"adadelta", 4, func(s func(int) []float32) {
			Adadelta(s(0), s(1), s(2), s(3), AdadeltaParams{Rho: 0.9, CRho: 0.1, Eps: 1e-6, LR: 1e-9})
		}},
	}
	for _, c := range list {
		a := typical(c.k)
		for _, im := range impls(nil) {
			b.Run(c.name+"/"+im.name, func(b *testing.B) {
				use(b, im)
				for b.Loop() {
					c.run(a.s)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN, "ns/elem")
			})
		}
	}
}
