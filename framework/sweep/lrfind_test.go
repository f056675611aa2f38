package sweep_test

import (
	"context"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/lrfind"
	"github.com/gradsweep/gradsweep/framework/sweep"
)

func rangeTest(t *testing.T, text string, c lrfind.Config, repeats int) (*lrfind.Result, sweep.RangeSetting) {
	t.Helper()
	e, err := experiment.Parse([]byte(text), "lrfind.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, set, err := sweep.RangeTest(context.Background(), e, framework.Default(), c, repeats)
	if err != nil {
		t.Fatal(err)
	}
	return res, set
}

var defaultRange = lrfind.Config{Min: lrfind.DefaultMin, Max: lrfind.DefaultMax, Iterations: lrfind.DefaultIterations}

// The range test is one seeded training: the same file and seed give the
// same curve, bit for bit; another repeat's seed gives another curve.
func TestRangeTestIsDeterministic(t *testing.T) {
	src, err := os.ReadFile("../../experiments/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, setA := rangeTest(t, string(src), defaultRange, 2)
	b, _ := rangeTest(t, string(src), defaultRange, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two range tests of the same file and seed differ")
	}
	if reflect.DeepEqual(a.Runs[0].Losses, a.Runs[1].Losses) {
		t.Error("the two seeds gave the same losses")
	}
	if want := experiment.DeriveSeed(7, 1); setA.Seeds[1] != want || a.Runs[1].Seed != want {
		t.Errorf("repeat 1 has seed %d, want the sweep's DeriveSeed(7, 1) = %d", setA.Seeds[1], want)
	}
	// iris: 120 training samples in batches of 16 make 8 updates an
	// epoch, so 100 updates take 13 epochs
	if setA.BatchSize != 16 || setA.PerEpoch != 8 || setA.Epochs != 13 {
		t.Errorf("setting %+v", setA)
	}
}

// The trainer takes the rates of the exponential schedule: update i is at
// min·γ^(i−1), the first at min and the last planned one at max.
func TestRangeTestRates(t *testing.T) {
	src, _ := os.ReadFile("../../experiments/quickstart.yaml")
	c := lrfind.Config{Min: 1e-6, Max: 1e-3, Iterations: 40} // too small to blow up
	res, _ := rangeTest(t, string(src), c, 1)
	r := res.Runs[0]
	if len(r.LearningRates) != 40 || r.StopReason != lrfind.StopIterations {
		t.Fatalf("%d updates, stopped: %s", len(r.LearningRates), r.StopReason)
	}
	for i, lr := range r.LearningRates {
		want := c.Min * math.Pow(c.Gamma(), float64(i))
		if math.Abs(lr-want) > 1e-12*want {
			t.Fatalf("update %d at rate %v, want %v", i+1, lr, want)
		}
	}
	if last := r.LearningRates[39]; math.Abs(last-c.Max) > 1e-12 {
		t.Errorf("last rate %v, want %v", last, c.Max)
	}
}

// lambdaMax is the largest eigenvalue of the Hessian of the mse loss of a
// linear model (dense, 1 unit) on train. The loss plugin is PyTorch's
// MSELoss, the mean over the B samples and K = 1 outputs:
// L(w, b) = (1/n)·Σ (xᵢ·w + b − yᵢ)², whose Hessian is H = (2/n)·AᵀA with
// A = [X 1]. Found by power iteration in float64.
func lambdaMax(train *framework.Dataset) float64 {
	p := train.X.Cols + 1
	h := make([]float64, p*p)
	n := train.Len()
	for i := 0; i < n; i++ {
		a := make([]float64, p)
		for j := 0; j < p-1; j++ {
			a[j] = float64(train.X.Data[i*(p-1)+j])
		}
		a[p-1] = 1
		for r := 0; r < p; r++ {
			for c := 0; c < p; c++ {
				h[r*p+c] += 2 * a[r] * a[c] / float64(n)
			}
		}
	}
	v := make([]float64, p)
	for i := range v {
		v[i] = 1
	}
	lambda := 0.0
	for it := 0; it < 10000; it++ {
		w := make([]float64, p)
		for r := 0; r < p; r++ {
			for c := 0; c < p; c++ {
				w[r] += h[r*p+c] * v[c]
			}
		}
		norm := 0.0
		for _, x := range w {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for i := range w {
			w[i] /= norm
		}
		v, lambda = w, norm
	}
	return lambda
}

// blowUp is the rate at which a range test sees the loss blow up: the rate
// of the update that starts the final rise, that is of update k−1 when
// updates k, k+1, …, up to the last one kept, each have a higher batch
// loss than the update before (a batch loss is computed before its
// update, so the rise at k is the doing of update k−1's rate). NaN when
// the loss does not end rising.
func blowUp(r *lrfind.Run) float64 {
	k := len(r.Losses) - 1
	if k < 1 || !(r.Losses[k] > r.Losses[k-1]) {
		return math.NaN()
	}
	for k > 1 && r.Losses[k-1] > r.Losses[k-2] {
		k--
	}
	return r.LearningRates[k-1]
}

// On a quadratic loss, gradient descent is stable exactly below the rate
// 2/λ_max (an error along the Hessian's top eigenvector is multiplied by
// 1 − α·λ_max at every update): full-batch linear regression with the
// mean squared error must blow up there, and the range test must see it.
//
// It sees it a little late, by a margin that shrinks with the rate's step:
// the stable rates before the edge shrink the error along the top
// eigenvector to the float32 rounding of the weights, and past the edge it
// must grow back by some e^G before the loss shows it, while the rate keeps
// growing. Update k past the edge multiplies it by about 1 + 2k·ln γ, so it
// shows about √(G/ln γ) updates past the edge, at the rate
// (1 + √(G·ln γ))·2/λ_max. So the test sweeps [1e-3, 10] in 100,000
// updates (steps of 0.0092%), where that is 2 to 4% (G ≈ 10).
//
// The data's noise is large (3) on purpose. With little noise (0.5 or
// less) float32 gradient descent converges to weights it can no longer
// move (every update rounds to nothing), where the unstable direction has
// nothing to grow from until the rate is high enough for an update to
// move a weight by one ulp: the blow-up then shows 4 to 30% late (measured
// over seeds and sizes), however fine the steps. Large residuals keep the
// float32 gradient's rounding above half an ulp, so the weights never
// freeze: a property of float32 arithmetic (PyTorch's too), not of the
// range test.
func TestRangeTestBlowsUpAtTwoOverLambdaMax(t *testing.T) {
	for _, seed := range []string{"1", "2"} {
		text := `name: linear-range
seed: ` + seed + `
dataset: {synthetic: linear, n: 256, noise: 3}
model: [{type: dense, units: 1}]
loss: mse
optimizer: sgd
training: {learning_rate: 0.01, batch_size: full, epochs: 1}
`
		e, err := experiment.Parse([]byte(text), "linear.yaml")
		if err != nil {
			t.Fatal(err)
		}
		spec, err := e.ResolvePlan(framework.TrialPlan{})
		if err != nil {
			t.Fatal(err)
		}
		train, _, err := experiment.LoadData(spec.Dataset, e.Seed)
		if err != nil {
			t.Fatal(err)
		}
		edge := 2 / lambdaMax(train)
		c := lrfind.Config{Min: 1e-3, Max: 10, Iterations: lrfind.MaxIterations}
		res, _ := rangeTest(t, text, c, 1)
		r := &res.Runs[0]
		got := blowUp(r)
		t.Logf("seed %s: 2/λ_max = %.6g; the loss blows up at rate %.6g (%+.2f%%), after %d of %d updates (%s)",
			seed, edge, got, 100*(got/edge-1), len(r.Losses), c.Iterations, r.StopReason)
		if r.StopReason == lrfind.StopIterations || !(edge > c.Min && edge < c.Max) {
			t.Fatalf("the range test did not stop (%s), or 2/λ_max = %g is outside [%g, %g]", r.StopReason, edge, c.Min, c.Max)
		}
		if !(math.Abs(got/edge-1) <= 0.1) {
			t.Errorf("seed %s: the loss blows up at rate %.6g, 2/λ_max = %.6g: more than 10%% apart", seed, got, edge)
		}
	}
}

// The range test's suggestions on the quickstart's base setting lie within
// a decade of the learning rate the quickstart sweep ranks best (both
// computed here: the sweep is run).
func TestRangeTestAgreesWithQuickstartBest(t *testing.T) {
	src, err := os.ReadFile("../../experiments/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, sum, err := runWith(t, string(src), 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Best == nil {
		t.Fatal("no best")
	}
	best, ok := sum.Best.Params["training.learning_rate"].(float64)
	if !ok {
		t.Fatalf("best %v has no learning rate", sum.Best.Params)
	}
	res, _ := rangeTest(t, string(src), defaultRange, 1)
	s := res.Suggestion
	t.Logf("best learning rate %g; range test: steepest %.3g, minimum/10 %.3g", best, s.Steepest, s.MinOver10)
	for name, v := range map[string]float64{"steepest": s.Steepest, "min_over_10": s.MinOver10} {
		if !(math.Abs(math.Log10(v/best)) <= 1) {
			t.Errorf("%s suggests %.3g, more than a decade from the best %g", name, v, best)
		}
	}
}

// A file the range test cannot run is refused at its line and key, as a
// sweep would refuse it.
func TestRangeTestBadFile(t *testing.T) {
	src, _ := os.ReadFile("../../experiments/quickstart.yaml")
	text := strings.Replace(string(src), "{type: dense, units: 3}", "{type: dense, units: 3, init: nonsense}", 1)
	e, err := experiment.Parse([]byte(text), "bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = sweep.RangeTest(context.Background(), e, framework.Default(), defaultRange, 1)
	var ee *experiment.Error
	if !errors.As(err, &ee) || ee.Key != "model.2.init" || ee.Line == 0 {
		t.Fatalf("got %v, want an error at model.2.init with its line", err)
	}
}

// The range test sets the rate and the epochs itself: a file that sets
// them only in its grid runs.
func TestRangeTestNeedsNoBaseRate(t *testing.T) {
	const text = `name: grid-only
seed: 1
dataset: {synthetic: linear, n: 64, noise: 0.5}
model: [{type: dense, units: 1}]
loss: mse
optimizer: sgd
training: {batch_size: 16}
grid:
  training.learning_rate: [0.1, 0.01]
  training.epochs: [2, 4]
`
	res, set := rangeTest(t, text, lrfind.Config{Min: 1e-4, Max: 1, Iterations: 10}, 1)
	if len(res.LearningRates) != 10 || set.PerEpoch != 4 || set.Epochs != 3 {
		t.Errorf("%d updates, setting %+v", len(res.LearningRates), set)
	}
}
