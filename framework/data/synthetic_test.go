package data

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func TestSyntheticDeterministic(t *testing.T) {
	for _, name := range SyntheticNames() {
		a, err := Synthetic(name, 101, 0.1, 7)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Synthetic(name, 101, 0.1, 7)
		c, _ := Synthetic(name, 101, 0.1, 8)
		if a.X.Rows != 101 || a.Len() != 101 {
			t.Errorf("%s: %d rows", name, a.X.Rows)
		}
		if !equalF32(a.X.Data, b.X.Data) || !slices.Equal(a.Labels, b.Labels) || (a.Y != nil && !equalF32(a.Y.Data, b.Y.Data)) {
			t.Errorf("%s: same seed, different data", name)
		}
		if equalF32(a.X.Data, c.X.Data) {
			t.Errorf("%s: different seeds, same data", name)
		}
		if len(a.Features) != a.X.Cols {
			t.Errorf("%s: %d feature names for %d columns", name, len(a.Features), a.X.Cols)
		}
		switch a.Task {
		case framework.Classification:
			if len(a.Labels) != 101 || a.Y != nil || len(a.Classes) != 2 || a.X.Cols != 2 {
				t.Errorf("%s: bad classification set", name)
			}
			n1 := 0
			for _, l := range a.Labels {
				n1 += int(l)
			}
			if n1 < 45 || n1 > 56 {
				t.Errorf("%s: %d of 101 in class 1, want about half", name, n1)
			}
		case framework.Regression:
			if a.Y == nil || a.Y.Rows != 101 || a.Y.Cols != 1 || a.Labels != nil {
				t.Errorf("%s: bad regression set", name)
			}
		}
	}
}

func TestSyntheticXORExact(t *testing.T) {
	for _, n := range []int{0, 1, 4} {
		d, err := Synthetic("xor", n, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantX := []float32{0, 0, 0, 1, 1, 0, 1, 1}
		if !equalF32(d.X.Data, wantX) || !slices.Equal(d.Labels, []int32{0, 1, 1, 0}) {
			t.Errorf("n=%d: X %v labels %v", n, d.X.Data, d.Labels)
		}
	}
	d, _ := Synthetic("xor", 400, 0.05, 3)
	for i := range d.Len() {
		r := d.X.Row(i)
		a, b := math.Round(float64(r[0])), math.Round(float64(r[1]))
		if int32(a)^int32(b) != d.Labels[i] {
			t.Fatalf("sample %d %v has label %d", i, r, d.Labels[i])
		}
	}
}

func TestSyntheticLinearNoiseless(t *testing.T) {
	d, err := Synthetic("linear", 50, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Cols != len(LinearTrueWeights) {
		t.Fatalf("%d features", d.X.Cols)
	}
	for i := range d.Len() {
		y := LinearTrueBias
		for j, w := range LinearTrueWeights {
			y += w * float64(d.X.At(i, j))
		}
		if math.Abs(y-float64(d.Y.Data[i])) > 1e-5*math.Max(1, math.Abs(y)) {
			t.Fatalf("row %d: y %v, want %v", i, d.Y.Data[i], y)
		}
	}
	// With noise, least squares recovers the weights: solve the normal
	// equations of [x 1] (4×4) by Gaussian elimination.
	d, _ = Synthetic("linear", 2000, 0.1, 9)
	const p = 4
	var a [p][p + 1]float64
	for i := range d.Len() {
		row := []float64{float64(d.X.At(i, 0)), float64(d.X.At(i, 1)), float64(d.X.At(i, 2)), 1}
		for r := range p {
			for c := range p {
				a[r][c] += row[r] * row[c]
			}
			a[r][p] += row[r] * float64(d.Y.Data[i])
		}
	}
	for k := range p {
		for r := k + 1; r < p; r++ {
			f := a[r][k] / a[k][k]
			for c := k; c <= p; c++ {
				a[r][c] -= f * a[k][c]
			}
		}
	}
	var w [p]float64
	for k := p - 1; k >= 0; k-- {
		s := a[k][p]
		for c := k + 1; c < p; c++ {
			s -= a[k][c] * w[c]
		}
		w[k] = s / a[k][k]
	}
	want := append(append([]float64{}, LinearTrueWeights...), LinearTrueBias)
	for j := range want {
		if math.Abs(w[j]-want[j]) > 0.02 {
			t.Errorf("fitted parameter %d = %.4f, want %v", j, w[j], want[j])
		}
	}
}

func TestSyntheticSineSpirals(t *testing.T) {
	d, _ := Synthetic("sine", 200, 0, 2)
	for i := range d.Len() {
		x := float64(d.X.Data[i])
		if x < -math.Pi || x > math.Pi || math.Abs(math.Sin(x)-float64(d.Y.Data[i])) > 1e-6 {
			t.Fatalf("sample %d: x %v y %v", i, x, d.Y.Data[i])
		}
	}
	d, _ = Synthetic("spirals", 200, 0, 2)
	for i := range d.Len() {
		r := math.Hypot(float64(d.X.At(i, 0)), float64(d.X.At(i, 1)))
		if r < 0.04 || r > 1.001 {
			t.Fatalf("sample %d at radius %v", i, r)
		}
		if int(d.Labels[i]) != i%2 {
			t.Fatalf("sample %d label %d", i, d.Labels[i])
		}
	}
	// The two spirals are point-symmetric: sample 2j+1 = -(sample 2j).
	if math.Abs(float64(d.X.At(10, 0)+d.X.At(11, 0))) > 1e-6 {
		t.Errorf("spirals not interleaved: %v %v", d.X.Row(10), d.X.Row(11))
	}
}

func TestSyntheticErrors(t *testing.T) {
	_, err := Synthetic("moons", 10, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "spirals") || !strings.Contains(err.Error(), "xor") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Synthetic("sine", 0, 0, 1); err == nil {
		t.Error("n=0 accepted")
	}
	if _, err := Synthetic("sine", 10, -1, 1); err == nil {
		t.Error("negative noise accepted")
	}
	if _, err := Synthetic("sine", 10, math.NaN(), 1); err == nil {
		t.Error("NaN noise accepted")
	}
}

// A data set that cannot fit MaxBytes, or noise that leaves no signal, is
// refused before anything is allocated.
func TestSyntheticLimits(t *testing.T) {
	var err error
	n := allocated(func() { _, err = Synthetic("xor", 2_000_000_000, 0.1, 1) })
	if err == nil || !strings.Contains(err.Error(), `synthetic "xor" with n = 2000000000 would need about 22.4 GiB in memory`) {
		t.Errorf("n = 2e9: %v", err)
	}
	if n > 1<<20 {
		t.Errorf("refusing allocated %d bytes", n)
	}
	for _, noise := range []float64{1e308, MaxNoise * 1.5} {
		if _, err := Synthetic("sine", 10, noise, 1); err == nil || !strings.Contains(err.Error(), "noise must be a number from 0 to 1000") {
			t.Errorf("noise %v: %v", noise, err)
		}
	}
	if _, err := Synthetic("sine", 10, MaxNoise, 1); err != nil {
		t.Errorf("noise %v: %v", MaxNoise, err)
	}
}
