package data

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var cls = CSVOptions{Target: "y", Task: framework.Classification}

func TestLoadCSVErrors(t *testing.T) {
	cases := []struct {
		name, content string
		opt           CSVOptions
		want          []string // substrings of the error
	}{
		{"bad-number", "a,b,y\n1,2,x\n3,abc,y\n", cls, []string{`:3: column "b": "abc" is not a number`}},
		{"bad-number-line17", "sepal_length,y\n" + strings.Repeat("1,a\n", 15) + "abc,b\n", cls,
			[]string{`:17: column "sepal_length": "abc" is not a number`}},
		{"empty-cell", "a,b,y\n1,,x\n", cls, []string{`:2: column "b": "" is not a number`}},
		{"nan", "a,b,y\n1,NaN,x\n", cls, []string{`:2: column "b": "NaN" is not a finite number`}},
		{"inf", "a,b,y\n-Inf,1,x\n", cls, []string{`:2: column "a": "-Inf" is not a finite number`}},
		{"overflow32", "a,y\n1e39,x\n", cls, []string{`:2: column "a": "1e39" is out of float32 range`}},
		{"overflow64", "a,y\n1e400,x\n", cls, []string{`:2: column "a": "1e400" is out of range`}},
		{"empty", "", cls, []string{"empty file"}},
		{"header-only", "a,b,y\n", cls, []string{"no data rows"}},
		{"ragged", "a,b,y\n1,2,x\n1,2\n", cls, []string{":3:", "2 cells", "3 columns"}},
		{"no-target", "a,b,c\n1,2,3\n", cls, []string{`no target column "y"`, `"a", "b", "c"`}},
		{"no-feature", "a,b,y\n1,2,3\n", CSVOptions{Target: "y", Task: framework.Classification, Features: []string{"z"}},
			[]string{`no feature column "z"`}},
		{"dup-col", "a,a,y\n1,2,3\n", cls, []string{`"a" appears twice`}},
		{"regression-target", "a,y\n1,2\n2,cat\n", CSVOptions{Target: "y", Task: framework.Regression},
			[]string{`:3: column "y" (regression target): "cat" is not a number`}},
		{"empty-label", "a,y\n1,\n", cls, []string{`:2: column "y": empty class label`}},
		{"no-task", "a,y\n1,2\n", CSVOptions{Target: "y"}, []string{"Task"}},
		{"quote", "a,y\n1,\"x\n", cls, []string{"malformed CSV"}},
		{"only-target", "y\n1\n", cls, []string{"no feature columns"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "data.csv", c.content)
			d, err := LoadCSV(p, c.opt)
			if err == nil {
				t.Fatalf("no error; got %+v", d)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestCSVLineNumbersWithQuotedNewlines(t *testing.T) {
	// Line numbers are physical lines, even after a quoted cell spanning two.
	src := "a,y\n1,\"two\nlines\"\nbad,x\n"
	_, err := ParseCSV(strings.NewReader(src), "q.csv", cls)
	if err == nil || !strings.Contains(err.Error(), `q.csv:4: column "a": "bad"`) {
		t.Fatalf("got %v", err)
	}
}

func TestCSVLabels(t *testing.T) {
	// Integer labels are sorted numerically (10 after 9, not after 1).
	d, err := ParseCSV(strings.NewReader("x,y\n0,10\n1,9\n2,1\n3,9\n4, 007\n"), "ints", cls)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Classes, ","); got != "1,7,9,10" {
		t.Errorf("integer classes %s, want 1,7,9,10", got)
	}
	if want := []int32{3, 2, 0, 2, 1}; !slices.Equal(d.Labels, want) {
		t.Errorf("labels %v, want %v", d.Labels, want)
	}
	// String labels keep their order of first appearance.
	d, err = ParseCSV(strings.NewReader("x,y\n0,dog\n1,cat\n2,dog\n3,2\n"), "strs", cls)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Classes, ","); got != "dog,cat,2" {
		t.Errorf("string classes %s, want dog,cat,2", got)
	}
	if want := []int32{0, 1, 0, 2}; !slices.Equal(d.Labels, want) {
		t.Errorf("labels %v, want %v", d.Labels, want)
	}
	if d.Outputs() != 3 || d.Y != nil || d.Name != "strs" {
		t.Errorf("outputs %d Y %v name %q", d.Outputs(), d.Y, d.Name)
	}
}

func TestCSVRegressionFeaturesGzip(t *testing.T) {
	src := "a, b ,c,y\n1,2,3,0.5\n4,5,6,-1.5e1\n"
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(src))
	zw.Close()
	p := writeTemp(t, "r.csv.gz", buf.String())
	d, err := LoadCSV(p, CSVOptions{Target: "y", Task: framework.Regression, Features: []string{"c", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Rows != 2 || d.X.Cols != 2 || strings.Join(d.Features, ",") != "c,a" {
		t.Fatalf("X %d×%d features %v", d.X.Rows, d.X.Cols, d.Features)
	}
	if want := []float32{3, 1, 6, 4}; !equalF32(d.X.Data, want) {
		t.Errorf("X %v, want %v", d.X.Data, want)
	}
	if d.Y == nil || d.Y.Rows != 2 || d.Y.Cols != 1 || d.Y.Data[0] != 0.5 || d.Y.Data[1] != -15 {
		t.Errorf("Y %+v", d.Y)
	}
	if d.Labels != nil || d.Classes != nil || d.Outputs() != 1 {
		t.Errorf("regression has labels %v classes %v", d.Labels, d.Classes)
	}
	// Default features: all but the target, trimmed header names.
	d, err = LoadCSV(p, CSVOptions{Target: "y", Task: framework.Regression})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Features, ",") != "a,b,c" {
		t.Errorf("features %v", d.Features)
	}
	// Target may be any column, features around it.
	d, err = ParseCSV(strings.NewReader("y,a\ncat,1\n"), "t", cls)
	if err != nil || d.X.Data[0] != 1 || d.Classes[0] != "cat" {
		t.Errorf("target first: %v %+v", err, d)
	}
}

func TestLoadCSVMissingFile(t *testing.T) {
	_, err := LoadCSV(filepath.Join(t.TempDir(), "nope.csv"), cls)
	if err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatal(err)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add("a,b,y\n1,2,x\n3,4,z\n", false)
	f.Add("a,y\n1,2\n2,3\n", true)
	f.Add("y,a\n\"1\",2\n", false)
	f.Add("a,y\n1,\"x\n", false)
	f.Add("\ufeffa,y\n1e3,-1\n", true)
	f.Add("a,y\n"+strings.Repeat("1,2\n", 100), false)
	f.Add("a,y\n1,\""+strings.Repeat("x", 200)+"\"\n", false)
	// lowered limits, so that the fuzzer reaches them
	defer func(line int, size, input int64) { MaxLineBytes, MaxBytes, MaxInputBytes = line, size, input }(MaxLineBytes, MaxBytes, MaxInputBytes)
	MaxLineBytes, MaxBytes, MaxInputBytes = 64, 512, 4096
	f.Fuzz(func(t *testing.T, src string, regression bool) {
		opt := CSVOptions{Target: "y", Task: framework.Classification}
		if regression {
			opt.Task = framework.Regression
		}
		d, err := ParseCSV(strings.NewReader(src), "fuzz.csv", opt)
		if err != nil {
			if d != nil {
				t.Fatal("error with a data set")
			}
			if len(err.Error()) > 2000 {
				t.Fatalf("a message of %d bytes", len(err.Error()))
			}
			return
		}
		if int64(len(src)) > MaxInputBytes {
			t.Fatalf("%d bytes of input accepted", len(src))
		}
		for _, line := range strings.Split(src, "\n") {
			if len(line) > MaxLineBytes {
				t.Fatalf("a line of %d bytes accepted", len(line))
			}
		}
		if est := EstimateBytes(int64(d.X.Rows), int64(d.X.Cols)); est > MaxBytes {
			t.Fatalf("a data set of %d bytes accepted", est)
		}
		n := d.X.Rows
		if n < 1 || d.X.Cols < 1 || len(d.X.Data) != n*d.X.Cols || len(d.Features) != d.X.Cols {
			t.Fatalf("inconsistent X: %d×%d, %d values, %d features", n, d.X.Cols, len(d.X.Data), len(d.Features))
		}
		for _, v := range d.X.Data {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				t.Fatalf("non-finite feature %v", v)
			}
		}
		if regression {
			if d.Y == nil || d.Y.Rows != n || d.Y.Cols != 1 || len(d.Y.Data) != n || d.Labels != nil {
				t.Fatalf("inconsistent regression target")
			}
			return
		}
		if len(d.Labels) != n || len(d.Classes) == 0 || d.Y != nil {
			t.Fatalf("%d labels for %d rows, %d classes", len(d.Labels), n, len(d.Classes))
		}
		used := make([]bool, len(d.Classes))
		for _, l := range d.Labels {
			if l < 0 || int(l) >= len(d.Classes) {
				t.Fatalf("label %d out of %d classes", l, len(d.Classes))
			}
			used[l] = true
		}
		for c, u := range used {
			if !u {
				t.Fatalf("class %q has no sample", d.Classes[c])
			}
		}
	})
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
