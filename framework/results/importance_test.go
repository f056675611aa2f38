package results

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// pointTrial is a completed trial of a grid point with the given varied
// settings, whose val_loss and val_accuracy are v and whose last epoch
// ended at secs seconds after iters updates.
func pointTrial(point, repeat int, params map[string]any, v, secs float64, iters int) framework.TrialData {
	var varied []string
	for _, k := range []string{"training.learning_rate", "training.batch_size", "optimizer.type", "optimizer.momentum", "model.0.units", "a", "b"} {
		if _, ok := params[k]; ok {
			varied = append(varied, k)
		}
	}
	e := framework.EpochStats{Epoch: 1, Iteration: iters, TrainLoss: v, ValLoss: v, TrainAccuracy: v, ValAccuracy: v, Seconds: secs}
	return framework.TrialData{Plan: framework.TrialPlan{ID: fmt.Sprintf("p%dr%d", point, repeat), Point: point, Repeat: repeat,
		Params: params, Varied: varied}, Status: framework.Completed, Epochs: 1, Iterations: iters, Final: e,
		EpochSeries: []framework.EpochStats{e}, TimeToTarget: math.NaN()}
}

func sumShares(imp *Importance) float64 {
	s := 0.0
	for _, t := range imp.Terms {
		s += t.Share
	}
	return s
}

// lrOnly is a loss that depends on the learning rate only: a valley
// around 0.1 on the log scale.
func lrOnly(lr float64) float64 { return 0.05 * math.Exp(math.Pow(math.Log10(lr)+1, 2)) }

func TestImportanceLearningRateOnlyGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var trials []framework.TrialData
	pt := 0
	for _, lr := range []float64{0.001, 0.01, 0.1, 1} {
		for _, bs := range []any{1, 16, "full"} {
			for _, opt := range []string{"sgd", "adam"} {
				for r := range 3 {
					noise := 1 + 0.01*(rng.Float64()-0.5) // 1% repeat noise, independent of the settings
					trials = append(trials, pointTrial(pt, r, map[string]any{"training.learning_rate": lr, "training.batch_size": bs,
						"optimizer.type": opt}, lrOnly(lr)*noise, 1, 10))
				}
				pt++
			}
		}
	}
	imp, err := ComputeImportance(MustLookup("val_loss"), trials)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Method != MethodExact || !imp.Log || imp.Used != 24 || imp.Trials != 72 || imp.Excluded != "" {
		t.Fatalf("method %s log %v used %d trials %d excluded %q", imp.Method, imp.Log, imp.Used, imp.Trials, imp.Excluded)
	}
	if s, _ := imp.Share("training.learning_rate"); s < 0.99 {
		t.Errorf("learning rate share %v < 0.99: %+v", s, imp.Terms)
	}
	if imp.Terms[0].Name() != "training.learning_rate" {
		t.Errorf("top term %q", imp.Terms[0].Name())
	}
	// 3 mains, 3 pairs, the rest.
	if len(imp.Terms) != 7 || math.Abs(sumShares(imp)-1) > 1e-9 {
		t.Errorf("%d terms summing to %v", len(imp.Terms), sumShares(imp))
	}
}

func TestImportancePureInteraction(t *testing.T) {
	var trials []framework.TrialData
	s := []float64{-1, 0, 1}
	pt := 0
	for i := range 3 {
		for j := range 3 {
			v := 0.5 + 0.2*s[i]*s[j] // no main effect: every row and column averages to 0.5
			trials = append(trials, pointTrial(pt, 0, map[string]any{"a": s[i], "b": fmt.Sprint("level", j)}, v, 1, 1))
			pt++
		}
	}
	imp, err := ComputeImportance(MustLookup("val_accuracy"), trials)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Method != MethodExact || imp.Log {
		t.Fatalf("method %s log %v", imp.Method, imp.Log)
	}
	pair, _ := imp.Share("a", "b")
	a, _ := imp.Share("a")
	b, _ := imp.Share("b")
	if math.Abs(pair-1) > 1e-12 || a > 1e-12 || b > 1e-12 || len(imp.Terms) != 3 {
		t.Errorf("pair %v, a %v, b %v: %+v", pair, a, b, imp.Terms)
	}
}

// A loss that is a product of two settings' effects has no interaction on
// the log scale (where results compares losses), though it has one on the
// raw values.
func TestImportanceUsesTheLogScaleOfLosses(t *testing.T) {
	var trials []framework.TrialData
	pt := 0
	for i := range 3 {
		for j := range 4 {
			v := math.Pow(10, float64(i)) * math.Pow(2, float64(j))
			trials = append(trials, pointTrial(pt, 0, map[string]any{"a": i, "b": j}, v, 1, 1))
			pt++
		}
	}
	imp, err := ComputeImportance(MustLookup("val_loss"), trials)
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := imp.Share("a", "b")
	if !imp.Log || pair > 1e-12 {
		t.Errorf("log %v, pair share %v", imp.Log, pair)
	}
	// log10 spans 0..2 for a (variance 2/3), log2 spans 0..3 for b: shares
	// in the ratio of (ln 10)²·2/3 to (ln 2)²·5/4.
	a, _ := imp.Share("a")
	va, vb := math.Pow(math.Log(10), 2)*2/3, math.Pow(math.Log(2), 2)*5/4
	if math.Abs(a-va/(va+vb)) > 1e-12 {
		t.Errorf("share of a %v, want %v", a, va/(va+vb))
	}
}

func randomStore(seed uint64, n int, f func(lr, mom float64) float64) []framework.TrialData {
	rng := rand.New(rand.NewPCG(seed, 1))
	var trials []framework.TrialData
	for pt := range n {
		lr := math.Pow(10, -4+4*rng.Float64())
		mom := rng.Float64()
		units := 8 + rng.IntN(120)
		trials = append(trials, pointTrial(pt, 0, map[string]any{"training.learning_rate": lr, "optimizer.momentum": mom,
			"model.0.units": units}, f(lr, mom), 1, 1))
	}
	return trials
}

func TestImportanceRandomSearchFitsAForest(t *testing.T) {
	trials := randomStore(7, 80, func(lr, _ float64) float64 { return lrOnly(lr) })
	imp, err := ComputeImportance(MustLookup("val_loss"), trials)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Method != MethodForest || !strings.Contains(imp.MethodText, "random forest") || !strings.Contains(imp.MethodText, "quantiles") {
		t.Fatalf("method %s: %s", imp.Method, imp.MethodText)
	}
	if s, _ := imp.Share("training.learning_rate"); s < 0.99 {
		t.Errorf("learning rate share %v < 0.99: %+v", s, imp.Terms)
	}
	if math.Abs(sumShares(imp)-1) > 1e-9 {
		t.Errorf("shares sum to %v", sumShares(imp))
	}
	again, _ := ComputeImportance(MustLookup("val_loss"), trials)
	if fmt.Sprint(again.Terms) != fmt.Sprint(imp.Terms) {
		t.Errorf("not deterministic:\n%v\n%v", imp.Terms, again.Terms)
	}
	// Two settings that matter: both get a real share, the third almost none.
	both := randomStore(8, 120, func(lr, mom float64) float64 { return lrOnly(lr) * math.Exp(10*mom) })
	imp, err = ComputeImportance(MustLookup("val_loss"), both)
	if err != nil {
		t.Fatal(err)
	}
	lr, _ := imp.Share("training.learning_rate")
	mom, _ := imp.Share("optimizer.momentum")
	units, _ := imp.Share("model.0.units")
	if lr < 0.2 || mom < 0.2 || units > 0.05 {
		t.Errorf("lr %v, momentum %v, units %v", lr, mom, units)
	}
}

func TestImportanceLeavesOutDivergedPoints(t *testing.T) {
	var trials []framework.TrialData
	pt := 0
	for _, lr := range []float64{0.01, 0.1, 1, 10} {
		for _, bs := range []int{1, 16} {
			tr := pointTrial(pt, 0, map[string]any{"training.learning_rate": lr, "training.batch_size": bs}, lrOnly(lr), 1, 1)
			if lr == 10 && bs == 1 {
				tr.Status = framework.Diverged
			}
			trials = append(trials, tr)
			pt++
		}
	}
	imp, err := ComputeImportance(MustLookup("val_loss"), trials)
	if err != nil {
		t.Fatal(err)
	}
	// A hole in the grid: no longer a full grid, so the forest fills it.
	if imp.Method != MethodForest || imp.Used != 7 || imp.Excluded != "1 of 8 grid points (1 with a diverged or failed repeat)" {
		t.Errorf("method %s used %d excluded %q", imp.Method, imp.Used, imp.Excluded)
	}
	// Every point of lr = 10 diverged: the rest is a full grid again.
	trials[7].Status = framework.Diverged
	imp, err = ComputeImportance(MustLookup("val_loss"), trials)
	if err != nil || imp.Method != MethodExact || imp.Used != 6 {
		t.Errorf("err %v, method %s, used %d", err, imp.Method, imp.Used)
	}
	for i := range trials {
		if i > 0 {
			trials[i].Status = framework.Diverged
		}
	}
	if _, err := ComputeImportance(MustLookup("val_loss"), trials); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one point left: %v", err)
	}
}

func TestImportanceRefusesWhatCannotBeDecomposed(t *testing.T) {
	flat := []framework.TrialData{pointTrial(0, 0, map[string]any{"a": 1}, 0.5, 1, 1), pointTrial(1, 0, map[string]any{"a": 2}, 0.5, 1, 1)}
	if _, err := ComputeImportance(MustLookup("val_loss"), flat); err == nil || !strings.Contains(err.Error(), "the same at every") {
		t.Errorf("flat: %v", err)
	}
	none := []framework.TrialData{pointTrial(0, 0, map[string]any{}, 0.5, 1, 1), pointTrial(0, 1, map[string]any{}, 0.6, 1, 1)}
	if _, err := ComputeImportance(MustLookup("val_loss"), none); err == nil || !strings.Contains(err.Error(), "nothing varies") {
		t.Errorf("nothing varied: %v", err)
	}
}
