package functions_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	_ "github.com/gradsweep/gradsweep/plugins"
	"github.com/gradsweep/gradsweep/plugins/functions"
)

// path runs the one-trial experiment src through the sweep's builder
// (sweep.Prepared.Replay) and returns the point before training and after
// every epoch.
func path(t *testing.T, src string) [][2]float64 {
	t.Helper()
	e, err := experiment.Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	var pts [][2]float64
	res, err := p.Replay(context.Background(), p.Plans[0], framework.Default(), func(_ int, m *framework.Model) {
		v := m.Params()[0].Value
		pts = append(pts, [2]float64{float64(v[0]), float64(v[1])})
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != framework.Completed {
		t.Fatalf("trial %s (%s)", res.Status, res.StopReason)
	}
	return pts
}

// TestGDOnQuadraticMatchesClosedForm: gradient descent with rate α on
// ½(x² + κy²) gives f(x_k) = ½((1−α)^{2k}·x₀² + κ(1−ακ)^{2k}·y₀²).
func TestGDOnQuadraticMatchesClosedForm(t *testing.T) {
	const alpha, kappa, x0, y0, steps = 0.05, 10.0, 1.5, -0.8, 60
	pts := path(t, fmt.Sprintf(`name: q
dataset: {function: quadratic, start: [%v, %v], condition: %v}
optimizer: sgd
training: {learning_rate: %v, epochs: %d}
`, x0, y0, kappa, alpha, steps))
	if len(pts) != steps+1 {
		t.Fatalf("%d points, want %d", len(pts), steps+1)
	}
	q := &functions.Quadratic{Condition: kappa}
	for k, p := range pts {
		got, _, _ := q.Eval(p[0], p[1])
		fk := float64(k)
		want := 0.5 * (math.Pow(1-alpha, 2*fk)*x0*x0 + kappa*math.Pow(1-alpha*kappa, 2*fk)*y0*y0)
		if rel := math.Abs(got-want) / want; rel > 1e-6 {
			t.Errorf("step %d: f = %.10g, closed form %.10g (relative error %.2g)", k, got, want, rel)
		}
	}
}
