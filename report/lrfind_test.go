package report

import (
	"bytes"
	"os"
	"testing"

	"github.com/gradsweep/gradsweep/framework/lrfind"
)

// The range test's picture is drawn for one seed, for several (with the
// band), and for a run too short to suggest anything; its loss axis stops
// below the blow-up.
func TestWriteLRFind(t *testing.T) {
	c := lrfind.Config{Min: 1e-4, Max: 10, Iterations: 30}
	var runs []lrfind.Run
	for s := 0; s < 2; s++ {
		r := lrfind.Run{Planned: c.Iterations}
		lr := c.Min
		for i := 0; i < c.Iterations; i++ {
			loss := 2 - float64(i)/20 + 0.1*float64(s)
			if i > 25 {
				loss = float64(i-24) * 100
			}
			r.LearningRates, r.Losses = append(r.LearningRates, lr), append(r.Losses, loss)
			r.Smoothed = append(r.Smoothed, loss)
			lr *= c.Gamma()
		}
		runs = append(runs, r)
	}
	one := lrfind.Aggregate(c, runs[:1])
	for name, res := range map[string]*lrfind.Result{
		"one":   one,
		"two":   lrfind.Aggregate(c, runs),
		"short": lrfind.Aggregate(c, []lrfind.Run{{LearningRates: []float64{1e-4}, Losses: []float64{2}, Smoothed: []float64{2}}}),
	} {
		dir := t.TempDir()
		path, err := WriteLRFind(dir, res, "test "+name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f := lrfindFigure(one, "t", 900, 520)
	if f.plot.Y.Max > 4*0.75 || f.plot.Y.Min > 0.75 { // the smoothed minimum is 0.75
		t.Errorf("loss axis [%v, %v], want it to end below the blow-up", f.plot.Y.Min, f.plot.Y.Max)
	}
}
