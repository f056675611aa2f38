package data

import (
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func TestBuiltinIris(t *testing.T) {
	d, err := Builtin("iris")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "iris" || d.Task != framework.Classification {
		t.Errorf("name %q task %q", d.Name, d.Task)
	}
	if d.X.Rows != 150 || d.X.Cols != 4 || len(d.X.Data) != 600 || d.Len() != 150 {
		t.Fatalf("X is %d×%d (%d values), want 150×4", d.X.Rows, d.X.Cols, len(d.X.Data))
	}
	want := []string{"setosa", "versicolor", "virginica"}
	if strings.Join(d.Classes, ",") != strings.Join(want, ",") {
		t.Errorf("classes %v, want %v", d.Classes, want)
	}
	if d.Outputs() != 3 || d.Y != nil {
		t.Errorf("Outputs %d, Y %v", d.Outputs(), d.Y)
	}
	if got := strings.Join(d.Features, ","); got != "sepal_length,sepal_width,petal_length,petal_width" {
		t.Errorf("features %s", got)
	}
	counts := make([]int, 3)
	for _, l := range d.Labels {
		counts[l]++
	}
	for c, n := range counts {
		if n != 50 {
			t.Errorf("class %s has %d samples, want 50", d.Classes[c], n)
		}
	}
	// First row of the file: 5.1,3.5,1.4,0.2,setosa.
	if r := d.X.Row(0); r[0] != 5.1 || r[1] != 3.5 || r[2] != 1.4 || r[3] != 0.2 || d.Labels[0] != 0 {
		t.Errorf("row 0 = %v label %d", r, d.Labels[0])
	}
	if d.Labels[149] != 2 {
		t.Errorf("last label %d, want 2 (virginica)", d.Labels[149])
	}
}

func TestBuiltinDigits(t *testing.T) {
	d, err := Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Rows != 1797 || d.X.Cols != 64 || len(d.Labels) != 1797 {
		t.Fatalf("X is %d×%d with %d labels, want 1797×64", d.X.Rows, d.X.Cols, len(d.Labels))
	}
	if len(d.Classes) != 10 {
		t.Fatalf("%d classes", len(d.Classes))
	}
	for i, c := range d.Classes {
		if c != string(rune('0'+i)) {
			t.Errorf("class %d is %q", i, c)
		}
	}
	counts := make([]int, 10)
	for _, l := range d.Labels {
		counts[l]++
	}
	// Class counts of the UCI test set as shipped with scikit-learn.
	want := []int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}
	for i := range want {
		if counts[i] != want[i] {
			t.Errorf("digit %d: %d samples, want %d", i, counts[i], want[i])
		}
	}
	if d.Labels[0] != 0 || d.Labels[1] != 1 {
		t.Errorf("first labels %v, want 0 1", d.Labels[:2])
	}
	for _, v := range d.X.Data {
		if v < 0 || v > 16 || v != float32(int(v)) {
			t.Fatalf("pixel value %v not an integer in 0..16", v)
		}
	}
}

func TestBuiltinFresh(t *testing.T) {
	a, _ := Builtin("iris")
	a.X.Data[0] = 99
	b, _ := Builtin("iris")
	if b.X.Data[0] == 99 {
		t.Fatal("Builtin returns shared storage")
	}
}

func TestBuiltinUnknown(t *testing.T) {
	_, err := Builtin("cifar")
	if err == nil || !strings.Contains(err.Error(), "digits") || !strings.Contains(err.Error(), "iris") {
		t.Fatalf("error %v should list the known names", err)
	}
	if len(BuiltinNames()) != 2 {
		t.Fatal(BuiltinNames())
	}
}
