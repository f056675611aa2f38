package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// LinearTrueWeights and LinearTrueBias are the parameters of the "linear"
// synthetic data set: y = x·LinearTrueWeights + LinearTrueBias + noise·N(0,1).
// A linear model trained on it should recover them (up to noise).
// Do not modify them.
var (
	LinearTrueWeights = []float64{2, -3, 0.5}
	LinearTrueBias    = 1.0
)

// MaxNoise bounds the noise of the synthetic data sets, whose features are
// of order 1: noise far above it leaves no signal, and a huge value turns
// every loss into Inf.
const MaxNoise = 1000

// CheckSynthetic refuses n samples of a synthetic data set that would not
// fit MaxBytes.
func CheckSynthetic(name string, n int) error {
	features := map[string]int64{"xor": 2, "spirals": 2, "linear": int64(len(LinearTrueWeights)), "sine": 1}[name]
	return CheckSize(fmt.Sprintf("synthetic %q with n = %d", name, n), int64(n), features)
}

// synthStream is the second PCG word; the seed is the first.
const synthStream = 0x9e3779b97f4a7c15

// SyntheticNames returns the names Synthetic accepts, sorted.
func SyntheticNames() []string { return []string{"linear", "sine", "spirals", "xor"} }

// Synthetic generates a data set of n samples, deterministic in (name, n,
// noise, seed) (math/rand/v2 PCG seeded with seed). noise is the standard
// deviation of the Gaussian noise added and must be >= 0; n must be >= 1.
//
//   - "xor": classification, 2 features, classes "0" and "1". Sample i sits
//     at corner i mod 4 of the unit square — (0,0), (0,1), (1,0), (1,1) — plus
//     noise·N(0,1) on each coordinate, and its class is the XOR of the
//     corner's coordinates (classes are balanced). With noise == 0 and
//     n <= 4 (including n <= 0) it is exactly the four XOR points.
//   - "spirals": classification, 2 features, classes "0" and "1": two
//     interleaved spirals (1.5 turns each, radius growing from 0.05 to 1,
//     the second rotated by π), samples alternating between them, plus
//     noise·N(0,1) on each coordinate.
//   - "linear": regression, 3 features x ~ N(0,1), one target
//     y = x·LinearTrueWeights + LinearTrueBias + noise·N(0,1) (computed
//     from the float32-rounded features).
//   - "sine": regression, 1 feature x ~ U(-π, π), y = sin(x) + noise·N(0,1).
//
// noise above MaxNoise, and an n whose data would not fit MaxBytes, are
// errors.
func Synthetic(name string, n int, noise float64, seed uint64) (*framework.Dataset, error) {
	if !(noise >= 0 && noise <= MaxNoise) {
		return nil, fmt.Errorf("data: synthetic %q: noise must be a number from 0 to %v, got %v", name, MaxNoise, noise)
	}
	if err := CheckSynthetic(name, n); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if name == "xor" && noise == 0 && n <= 4 {
		n = 4
	}
	switch name {
	case "xor", "spirals", "linear", "sine":
	default:
		return nil, fmt.Errorf("data: unknown synthetic data set %q (known: %s)", name, strings.Join(SyntheticNames(), ", "))
	}
	if n < 1 {
		return nil, fmt.Errorf("data: synthetic %q: n must be >= 1, got %d", name, n)
	}
	rng := rand.New(rand.NewPCG(seed, synthStream))
	d := &framework.Dataset{Name: name}
	switch name {
	case "xor":
		synthXOR(d, n, noise, rng)
	case "spirals":
		synthSpirals(d, n, noise, rng)
	case "linear":
		synthLinear(d, n, noise, rng)
	case "sine":
		synthSine(d, n, noise, rng)
	}
	return d, nil
}

// synthXOR fills d with the "xor" data set (see Synthetic).
func synthXOR(d *framework.Dataset, n int, noise float64, rng *rand.Rand) {
	d.Task = framework.Classification
	d.X = mat.New(n, 2)
	d.Labels = make([]int32, n)
	d.Classes = []string{"0", "1"}
	d.Features = []string{"x1", "x2"}
	for i := range n {
		a, b := (i/2)%2, i%2
		r := d.X.Row(i)
		r[0] = float32(float64(a) + noise*rng.NormFloat64())
		r[1] = float32(float64(b) + noise*rng.NormFloat64())
		d.Labels[i] = int32(a ^ b)
	}
}

// synthSpirals fills d with the "spirals" data set (see Synthetic).
func synthSpirals(d *framework.Dataset, n int, noise float64, rng *rand.Rand) {
	d.Task = framework.Classification
	d.X = mat.New(n, 2)
	d.Labels = make([]int32, n)
	d.Classes = []string{"0", "1"}
	d.Features = []string{"x1", "x2"}
	for i := range n {
		k := i % 2
		m := (n - k + 1) / 2 // samples in spiral k
		t := 0.0
		if m > 1 {
			t = float64(i/2) / float64(m-1)
		}
		rad := 0.05 + 0.95*t
		theta := 3*math.Pi*t + float64(k)*math.Pi
		r := d.X.Row(i)
		r[0] = float32(rad*math.Cos(theta) + noise*rng.NormFloat64())
		r[1] = float32(rad*math.Sin(theta) + noise*rng.NormFloat64())
		d.Labels[i] = int32(k)
	}
}

// synthLinear fills d with the "linear" data set (see Synthetic).
func synthLinear(d *framework.Dataset, n int, noise float64, rng *rand.Rand) {
	p := len(LinearTrueWeights)
	d.Task = framework.Regression
	d.X = mat.New(n, p)
	d.Y = mat.New(n, 1)
	d.Features = make([]string, p)
	for j := range p {
		d.Features[j] = fmt.Sprintf("x%d", j+1)
	}
	for i := range n {
		r := d.X.Row(i)
		y := LinearTrueBias
		for j := range p {
			r[j] = float32(rng.NormFloat64())
			y += float64(r[j]) * LinearTrueWeights[j]
		}
		d.Y.Data[i] = float32(y + noise*rng.NormFloat64())
	}
}

// synthSine fills d with the "sine" data set (see Synthetic).
func synthSine(d *framework.Dataset, n int, noise float64, rng *rand.Rand) {
	d.Task = framework.Regression
	d.X = mat.New(n, 1)
	d.Y = mat.New(n, 1)
	d.Features = []string{"x"}
	for i := range n {
		x := float32(-math.Pi + 2*math.Pi*rng.Float64())
		d.X.Data[i] = x
		d.Y.Data[i] = float32(math.Sin(float64(x)) + noise*rng.NormFloat64())
	}
}
