package framework

import (
	"slices"
	"testing"

	"github.com/gradsweep/gradsweep/framework/mat"
)

// gather gives the rows idx of the dataset whether it views them
// (consecutive samples) or copies them (any other order), for inputs,
// labels and regression targets alike.
func TestGatherViewsAndCopies(t *testing.T) {
	const n, cols = 10, 3
	x := mat.New(n, cols)
	y := mat.New(n, 2)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	for i := range y.Data {
		y.Data[i] = -float32(i)
	}
	labels := []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	cls := &Dataset{Task: Classification, X: x, Labels: labels}
	reg := &Dataset{Task: Regression, X: x, Y: y}
	var b batchBuf
	for _, idx := range [][]int{{3, 4, 5, 6}, {0}, {9}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 4}, {1, 3, 5}, {7, 7}} {
		for _, d := range []*Dataset{cls, reg} {
			got, tg := b.gather(d, idx)
			if got.Rows != len(idx) || got.Cols != cols {
				t.Fatalf("%v: %d×%d batch", idx, got.Rows, got.Cols)
			}
			for r, i := range idx {
				if !slices.Equal(got.Row(r), d.X.Row(i)) {
					t.Errorf("%v: input row %d is %v, want sample %d's %v", idx, r, got.Row(r), i, d.X.Row(i))
				}
				switch {
				case d.Task == Classification && tg.Labels[r] != labels[i]:
					t.Errorf("%v: label %d is %d, want %d", idx, r, tg.Labels[r], labels[i])
				case d.Task == Regression && !slices.Equal(tg.Values.Row(r), y.Row(i)):
					t.Errorf("%v: target row %d is %v, want %v", idx, r, tg.Values.Row(r), y.Row(i))
				}
			}
			_, consec := consecutive(idx)
			if view := &got.Data[0] == &d.X.Data[idx[0]*cols]; view != consec {
				t.Errorf("%v: view %v, want a view exactly when the samples are consecutive", idx, view)
			}
			if consec && cap(got.Data) != len(idx)*cols {
				t.Errorf("%v: a view with capacity %d reaches past its rows", idx, cap(got.Data))
			}
		}
	}
}
