package results

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func frontOf(p *Pareto) string {
	var s []string
	for _, q := range p.Points {
		s = append(s, fmt.Sprintf("%d%v%v", q.A.Point, map[bool]string{true: "*", false: ""}[q.Front], q.DominatedBy))
	}
	return strings.Join(s, " ")
}

func TestParetoHandBuiltWithTies(t *testing.T) {
	// point: (val_loss, seconds)
	vals := [][2]float64{
		{0.1, 10}, // 0: front
		{0.2, 5},  // 1: front
		{0.2, 5},  // 2: the same as 1: both on the front
		{0.3, 10}, // 3: beaten by 0, 1 and 2
		{0.1, 10}, // 4: the same as 0
		{0.1, 12}, // 5: as good on loss as 0 and 4, slower: dominated
		{0.4, 1},  // 6: front (fastest)
		{0.2, 7},  // 7: as good on loss as 1 and 2, slower: dominated by them only
	}
	var trials []framework.TrialData
	for i, v := range vals {
		trials = append(trials, pointTrial(i, 0, map[string]any{"a": i}, v[0], v[1], 100))
	}
	p := ComputePareto(MustLookup("val_loss"), mustMeasure(t, "seconds"), trials)
	if got, want := frontOf(p), "0*[] 4*[] 1*[] 2*[] 6*[] 5[0 4] 7[1 2] 3[0 4 1 2]"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if p.Front() != 5 || p.Excluded != "" {
		t.Errorf("front %d, excluded %q", p.Front(), p.Excluded)
	}
}

func mustMeasure(t *testing.T, name string) Metric {
	t.Helper()
	m, err := LookupMeasure(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParetoDirectionsRepeatsAndExclusions(t *testing.T) {
	// Accuracy: higher is better; iterations: lower is better. Means over
	// two repeats decide.
	trials := []framework.TrialData{
		pointTrial(0, 0, map[string]any{"a": 0}, 0.9, 1, 100), pointTrial(0, 1, map[string]any{"a": 0}, 0.7, 1, 100), // 0.8 @100
		pointTrial(1, 0, map[string]any{"a": 1}, 0.85, 1, 50), pointTrial(1, 1, map[string]any{"a": 1}, 0.85, 1, 50), // 0.85 @50: beats 0
		pointTrial(2, 0, map[string]any{"a": 2}, 0.95, 1, 400), pointTrial(2, 1, map[string]any{"a": 2}, 0.93, 1, 400), // 0.94 @400: front
		pointTrial(3, 0, map[string]any{"a": 3}, 0.99, 1, 10), pointTrial(3, 1, map[string]any{"a": 3}, 0.99, 1, 10), // diverged repeat: left out
	}
	trials[7].Status = framework.Diverged
	p := ComputePareto(MustLookup("val_accuracy"), mustMeasure(t, "iterations"), trials)
	if got, want := frontOf(p), "2*[] 1*[] 0[1]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if p.Excluded != "1 of 4 grid points (1 with a diverged or failed repeat)" {
		t.Errorf("excluded %q", p.Excluded)
	}
	if p.Points[2].A.Mean != 0.8 || p.Points[2].A.Std <= 0 {
		t.Errorf("point 0: mean %v std %v", p.Points[2].A.Mean, p.Points[2].A.Std)
	}
}

func TestLookupMeasure(t *testing.T) {
	for _, n := range []string{"val_loss", "time_to_target", "seconds", "iterations", "samples"} {
		if m, err := LookupMeasure(n); err != nil || m.Name != n {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := LookupMeasure("secs"); err == nil || !strings.Contains(err.Error(), "seconds") {
		t.Errorf("secs: %v", err)
	}
	if _, err := Lookup("seconds"); err == nil {
		t.Errorf("seconds must not be a ranking metric")
	}
}
