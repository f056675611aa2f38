package data

import (
	"math"
	"slices"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// indexed returns a classification set whose row i is (i, -i), label i%3.
func indexed(n int) *framework.Dataset {
	d := &framework.Dataset{Name: "idx", Task: framework.Classification, X: mat.New(n, 2),
		Labels: make([]int32, n), Classes: []string{"a", "b", "c"}, Features: []string{"i", "m"}}
	for i := range n {
		d.X.Data[2*i], d.X.Data[2*i+1] = float32(i), -float32(i)
		d.Labels[i] = int32(i % 3)
	}
	return d
}

func ids(d *framework.Dataset) []int {
	if d == nil {
		return nil
	}
	out := make([]int, d.Len())
	for i := range out {
		out[i] = int(d.X.At(i, 0))
	}
	return out
}

func TestSplitSizesAndCoverage(t *testing.T) {
	cases := []struct {
		n          int
		frac       float64
		wantVal    int
		wantValNil bool
	}{
		{150, 0.2, 30, false},
		{10, 0.25, 3, false}, // round(2.5) = 3
		{10, 0.01, 1, false}, // at least 1
		{2, 0.01, 1, false},
		{3, 0.9, 2, false}, // train keeps at least 1
		{1, 0.5, 0, true},  // a single sample stays in train
		{10, 0, 0, true},
	}
	for _, c := range cases {
		d := indexed(c.n)
		orig := slices.Clone(d.X.Data)
		tr, va, err := Split(d, c.frac, 42)
		if err != nil {
			t.Fatal(err)
		}
		if (va == nil) != c.wantValNil || len(ids(va)) != c.wantVal || tr.Len() != c.n-c.wantVal {
			t.Errorf("n=%d frac=%v: train %d val %d (nil %v), want val %d", c.n, c.frac, tr.Len(), len(ids(va)), va == nil, c.wantVal)
			continue
		}
		all := append(ids(tr), ids(va)...)
		slices.Sort(all)
		for i, v := range all {
			if v != i {
				t.Fatalf("n=%d frac=%v: samples lost or duplicated: %v", c.n, c.frac, all)
			}
		}
		for _, s := range []*framework.Dataset{tr, va} {
			if s == nil {
				continue
			}
			for i := range s.Len() {
				k := int(s.X.At(i, 0))
				if s.X.At(i, 1) != -float32(k) || s.Labels[i] != int32(k%3) {
					t.Fatalf("row %d (sample %d) has mismatched columns or label", i, k)
				}
			}
			if len(s.Labels) != s.Len() || len(s.Classes) != 3 || len(s.Features) != 2 {
				t.Fatal("metadata not carried over")
			}
		}
		if !slices.Equal(d.X.Data, orig) {
			t.Fatal("Split modified its input")
		}
		if c.frac == 0 && !slices.Equal(ids(tr), ids(indexed(c.n))) {
			t.Error("frac 0 should keep the order")
		}
		tr.X.Data[0] = 1e9
		if d.X.Data[0] == 1e9 {
			t.Fatal("Split shares storage with its input")
		}
	}
}

func TestSplitDeterminism(t *testing.T) {
	d := indexed(100)
	_, v1, _ := Split(d, 0.3, 1)
	_, v2, _ := Split(d, 0.3, 1)
	_, v3, _ := Split(d, 0.3, 2)
	if !slices.Equal(ids(v1), ids(v2)) {
		t.Error("same seed, different split")
	}
	if slices.Equal(ids(v1), ids(v3)) {
		t.Error("different seeds, same split")
	}
	if slices.IsSorted(ids(v1)) {
		t.Error("validation set not shuffled")
	}
}

func TestSplitRegressionAndErrors(t *testing.T) {
	d, _ := Synthetic("linear", 20, 0, 1)
	tr, va, err := Split(d, 0.5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Y.Rows != 10 || va.Y.Rows != 10 || tr.Labels != nil || tr.Name != "linear/train" || va.Name != "linear/val" {
		t.Fatalf("regression split: %+v %+v", tr, va)
	}
	for i := range va.Len() {
		y := LinearTrueBias
		for j, w := range LinearTrueWeights {
			y += w * float64(va.X.At(i, j))
		}
		if math.Abs(y-float64(va.Y.Data[i])) > 1e-4 {
			t.Fatal("Y rows not moved with X rows")
		}
	}
	for _, f := range []float64{-0.1, 1, 1.5, math.NaN()} {
		if _, _, err := Split(d, f, 1); err == nil {
			t.Errorf("fraction %v accepted", f)
		}
	}
	if _, _, err := Split(nil, 0.1, 1); err == nil {
		t.Error("nil accepted")
	}
	bad := indexed(5)
	bad.Labels = bad.Labels[:3]
	if _, _, err := Split(bad, 0.1, 1); err == nil {
		t.Error("inconsistent labels accepted")
	}
}

func TestStandardizer(t *testing.T) {
	d, _ := Builtin("iris")
	// A constant column must be centred, not divided by zero.
	d.X.Data[0] = 0
	for i := range d.Len() {
		d.X.Row(i)[1] = 3
	}
	tr, va, _ := Split(d, 0.2, 5)
	s := FitStandardizer(tr)
	if s.Std[1] != 1 || s.Mean[1] != 3 {
		t.Errorf("constant column: mean %v std %v", s.Mean[1], s.Std[1])
	}
	s.Apply(tr)
	s.Apply(va)
	for j := range tr.X.Cols {
		var m, v float64
		for i := range tr.Len() {
			m += float64(tr.X.At(i, j))
		}
		m /= float64(tr.Len())
		for i := range tr.Len() {
			dv := float64(tr.X.At(i, j)) - m
			v += dv * dv
		}
		sd := math.Sqrt(v / float64(tr.Len()))
		wantSD := 1.0
		if j == 1 {
			wantSD = 0
		}
		if math.Abs(m) > 1e-5 || math.Abs(sd-wantSD) > 1e-5 {
			t.Errorf("column %d after standardising: mean %v std %v", j, m, sd)
		}
	}
	row := []float32{float32(s.Mean[0]), 3, float32(s.Mean[2] + s.Std[2]), 0}
	s.ApplyRow(row)
	if math.Abs(float64(row[0])) > 1e-6 || row[1] != 0 || math.Abs(float64(row[2])-1) > 1e-6 {
		t.Errorf("ApplyRow: %v", row)
	}
	defer func() {
		if recover() == nil {
			t.Error("Apply on a different width did not panic")
		}
	}()
	x, _ := Synthetic("sine", 3, 0, 1)
	s.Apply(x)
}

// SplitInPlace gives the same samples in the same order as Split, as
// views of one copy of the data: train and validation share the data
// set's storage, and nothing else holds rows.
func TestSplitInPlaceIsSplitWithoutACopy(t *testing.T) {
	for _, name := range []string{"spirals", "linear"} {
		for _, frac := range []float64{0.2, 0.5, 0.01} {
			d, err := Synthetic(name, 501, 0.3, 9)
			if err != nil {
				t.Fatal(err)
			}
			want, wantVal, err := Split(d, frac, 42)
			if err != nil {
				t.Fatal(err)
			}
			storage := &d.X.Data[0]
			got, gotVal, err := SplitInPlace(d, frac, 42)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ got, want *framework.Dataset }{{got, want}, {gotVal, wantVal}} {
				if !slices.Equal(c.got.X.Data, c.want.X.Data) || !slices.Equal(c.got.Labels, c.want.Labels) ||
					(c.want.Y != nil && !slices.Equal(c.got.Y.Data, c.want.Y.Data)) || c.got.Len() != c.want.Len() {
					t.Fatalf("%s %v: SplitInPlace differs from Split", name, frac)
				}
			}
			if &gotVal.X.Data[0] != storage || &got.X.Data[0] != &d.X.Data[gotVal.Len()*d.X.Cols] {
				t.Errorf("%s %v: the splits are not views of the data set's storage", name, frac)
			}
		}
	}
}
