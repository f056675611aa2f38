package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	_ "github.com/gradsweep/gradsweep/plugins"
	"github.com/gradsweep/gradsweep/plugins/functions"
	"github.com/gradsweep/gradsweep/report"
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
	res, err := p.Replay(context.Background(), p.Plans[0], framework.Default(), func(_ int, tr *framework.Trainer, _ *framework.Dataset) {
		v := tr.Model.Params()[0].Value
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

// TestMomentumRateIsSpectralRadius: heavy-ball momentum (PyTorch's
// b ← μb + g, θ ← θ − αb) on a quadratic of curvature λ is the linear map
// (θ, b) ← [[1−αλ, −αμ], [λ, μ]]·(θ, b); its convergence rate is the
// largest spectral radius over λ ∈ {1, κ}. The rate measured from the loss
// series (report.ConvergenceRate, what the report's phase diagram draws)
// must equal it to 1e-3, for real and complex eigenvalues.
func TestMomentumRateIsSpectralRadius(t *testing.T) {
	const kappa, steps = 10.0, 400
	for _, c := range []struct{ alpha, mu float64 }{{0.02, 0.3}, {0.05, 0.5}, {0.1, 0.7}, {0.02, 0.9}} {
		pts := path(t, fmt.Sprintf(`name: m
dataset: {function: quadratic, start: [1, 1], condition: %v}
optimizer: {type: momentum, momentum: %v}
training: {learning_rate: %v, epochs: %d}
`, kappa, c.mu, c.alpha, steps))
		q := &functions.Quadratic{Condition: kappa}
		var f []float64
		for _, p := range pts {
			v, _, _ := q.Eval(p[0], p[1])
			f = append(f, v)
		}
		want := 0.0
		for _, lambda := range []float64{1, kappa} {
			tr, det := 1-c.alpha*lambda+c.mu, c.mu // trace and determinant of the update matrix
			d := cmplx.Sqrt(complex(tr*tr-4*det, 0))
			want = max(want, cmplx.Abs((complex(tr, 0)+d)/2), cmplx.Abs((complex(tr, 0)-d)/2))
		}
		got := report.ConvergenceRate(f)
		if math.Abs(got-want) > 1e-3 {
			t.Errorf("α = %v, μ = %v: measured rate %.6f, spectral radius %.6f", c.alpha, c.mu, got, want)
		} else {
			t.Logf("α = %v, μ = %v: measured rate %.6f, spectral radius %.6f", c.alpha, c.mu, got, want)
		}
	}
}

// TestAdamOnRosenbrockFollowsPyTorch: 200 Adam steps on Rosenbrock from
// (−1.5, 2) follow torch.optim.Adam's path (testdata/adam_rosenbrock.py,
// run by Debian's /usr/bin/python3) to 1e-5 at every step.
func TestAdamOnRosenbrockFollowsPyTorch(t *testing.T) {
	const python, lr, steps = "/usr/bin/python3", 0.01, 200
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s with torch not available: %v", python, err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "adam_rosenbrock.py"), "-1.5", "2", fmt.Sprint(lr), fmt.Sprint(steps))
	cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=SkylakeX")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want [][2]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	got := path(t, fmt.Sprintf(`name: a
dataset: {function: rosenbrock, start: [-1.5, 2]}
optimizer: adam
training: {learning_rate: %v, epochs: %d}
`, lr, steps))[1:]
	if len(got) != steps || len(want) != steps {
		t.Fatalf("%d points, PyTorch %d, want %d", len(got), len(want), steps)
	}
	worst := 0.0
	for k := range got {
		for j := range 2 {
			d := math.Abs(got[k][j] - want[k][j])
			worst = max(worst, d)
			if d > 1e-5 {
				t.Fatalf("step %d: point %v, PyTorch %v", k+1, got[k], want[k])
			}
		}
	}
	t.Logf("largest difference over %d steps: %.3g (end %v)", steps, worst, got[steps-1])
}

// TestGradientNoiseIsSeeded: noise: σ perturbs the path, the same seed
// gives the same path to the bit, and another seed another path.
func TestGradientNoiseIsSeeded(t *testing.T) {
	src := func(seed int, noise float64) string {
		return fmt.Sprintf(`name: n
seed: %d
dataset: {function: himmelblau, start: [0, 0], noise: %v}
training: {learning_rate: 0.01, epochs: 30}
`, seed, noise)
	}
	clean, a, b, other := path(t, src(1, 0)), path(t, src(1, 2)), path(t, src(1, 2)), path(t, src(2, 2))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different paths:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(clean) || fmt.Sprint(a) == fmt.Sprint(other) {
		t.Errorf("the noise changes nothing, or does not depend on the seed")
	}
}
