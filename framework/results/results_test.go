package results

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func trial(point, repeat int, st framework.Status, vals ...float64) framework.TrialData {
	t := framework.TrialData{Plan: framework.TrialPlan{ID: fmt.Sprintf("p%dr%d", point, repeat), Point: point, Repeat: repeat,
		Index: point*10 + repeat, Params: map[string]any{"x": point}}, Status: st, TimeToTarget: math.NaN()}
	t.Final = framework.EpochStats{TrainLoss: math.NaN(), ValLoss: math.NaN(), TrainAccuracy: math.NaN(), ValAccuracy: math.NaN()}
	for i, v := range vals {
		e := framework.EpochStats{Epoch: i + 1, TrainLoss: v, ValLoss: v, TrainAccuracy: math.NaN(), ValAccuracy: math.NaN(), Seconds: float64(i + 1)}
		t.EpochSeries = append(t.EpochSeries, e)
		t.Final = e
	}
	t.Epochs = len(vals)
	return t
}

func points(r []Point) []int {
	out := make([]int, len(r))
	for i, p := range r {
		out[i] = p.Point
	}
	return out
}

func TestRankOrdersClasses(t *testing.T) {
	m := MustLookup("val_loss")
	trials := []framework.TrialData{
		trial(0, 0, framework.Diverged), trial(0, 1, framework.Diverged), // broken
		trial(1, 0, framework.Completed, 0.9, 0.5), trial(1, 1, framework.Diverged), // unstable, mean 0.5
		trial(2, 0, framework.Completed, 0.8, 0.3), trial(2, 1, framework.Completed, 0.8, 0.4), // complete, 0.35
		trial(3, 0, framework.Pruned, 0.7), trial(3, 1, framework.Pruned, 0.6), // pruned at 1, 0.65
		trial(4, 0, framework.Pruned, 0.9, 0.2), trial(4, 1, framework.Completed, 0.9, 0.1, 0.05), // pruned at 2, (0.2+0.1)/2
		trial(5, 0, framework.Pending), trial(5, 1, framework.Interrupted), // no value
		trial(6, 0, framework.Completed, 0.8, 0.6), trial(6, 1, framework.Completed, 0.8, 0.7), // complete, 0.65
	}
	r := Rank(m, trials)
	if got, want := fmt.Sprint(points(r)), "[2 6 4 3 1 5 0]"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	p4 := r[2]
	if p4.PrunedAt != 2 || math.Abs(p4.Mean-0.15) > 1e-12 || p4.Class != PrunedClass {
		t.Errorf("pruned point 4: at %d mean %v class %d", p4.PrunedAt, p4.Mean, p4.Class)
	}
	if note := p4.Note(); note != "1 of 2 pruned, at epoch 2" {
		t.Errorf("note %q", note)
	}
	if note := r[3].Note(); note != "pruned at epoch 1" {
		t.Errorf("note %q", note)
	}
	if r[6].Class != Broken || r[5].Class != NoValue || r[4].Class != Unstable {
		t.Errorf("classes %d %d %d", r[4].Class, r[5].Class, r[6].Class)
	}
	for _, p := range r {
		for _, s := range []string{p.Note(), MeanStdText(&p)} {
			if strings.Contains(s, "NaN") {
				t.Errorf("point %d prints %q", p.Point, s)
			}
		}
	}
}

func TestHigherIsBetterAndTimeToTarget(t *testing.T) {
	acc := MustLookup("val_accuracy")
	a, b := trial(0, 0, framework.Completed, 1), trial(1, 0, framework.Completed, 1)
	a.Final.ValAccuracy, b.Final.ValAccuracy = 0.8, 0.9
	if r := Rank(acc, []framework.TrialData{a, b}); r[0].Point != 1 {
		t.Errorf("accuracy: best point %d", r[0].Point)
	}
	ttt := MustLookup("time_to_target")
	a.TimeToTarget = 0.5
	if r := Rank(ttt, []framework.TrialData{a, b}); r[0].Point != 0 || r[1].Class != NoValue {
		t.Errorf("time_to_target: %+v", r)
	}
	if err := ttt.Applies(Setting{Validation: true, Classification: true}); err == nil || !strings.Contains(err.Error(), "target_loss") {
		t.Errorf("time_to_target without a target: %v", err)
	}
	if err := acc.Applies(Setting{Validation: true}); err == nil || !strings.Contains(err.Error(), "regression") {
		t.Errorf("accuracy on regression: %v", err)
	}
	if err := MustLookup("val_loss").Applies(Setting{}); err == nil {
		t.Error("val_loss without validation applies")
	}
	if _, err := Lookup("val_los"); err == nil || !strings.Contains(err.Error(), `"val_loss"`) {
		t.Errorf("did-you-mean: %v", err)
	}
}

// Closed forms of Student's t distribution: ν = 1 is Cauchy, ν = 2 has
// P(|T| ≥ t) = 1 − t/√(2 + t²); a table value: t = 2.776445 at ν = 4 is
// the 5% two-sided point.
func TestStudentTailsAgainstClosedForms(t *testing.T) {
	for _, tt := range []float64{0, 0.1, 0.5, 1, 2, 5, 30} {
		p1 := regIncBeta(0.5, 0.5, 1/(1+tt*tt))
		if want := 1 - 2/math.Pi*math.Atan(tt); math.Abs(p1-want) > 1e-12 {
			t.Errorf("ν=1, t=%g: %v want %v", tt, p1, want)
		}
		p2 := regIncBeta(1, 0.5, 2/(2+tt*tt))
		if want := 1 - tt/math.Sqrt(2+tt*tt); math.Abs(p2-want) > 1e-12 {
			t.Errorf("ν=2, t=%g: %v want %v", tt, p2, want)
		}
	}
	if p := regIncBeta(2, 0.5, 4/(4+2.776445*2.776445)); math.Abs(p-0.05) > 1e-6 {
		t.Errorf("ν=4: %v", p)
	}
}

func TestWelch(t *testing.T) {
	// Equal variances and sizes: Welch's t and ν reduce to Student's with
	// ν = 2n − 2. a = {1,2,3}, b = {4,5,6}: t = −3/√(2/3), ν = 4.
	p := WelchP([]float64{1, 2, 3}, []float64{4, 5, 6})
	tt := 3 / math.Sqrt(2.0/3)
	if want := regIncBeta(2, 0.5, 4/(4+tt*tt)); math.Abs(p-want) > 1e-12 || p > 0.05 || p < 0.01 {
		t.Errorf("p = %v, want %v (about 0.022)", p, want)
	}
	if !math.IsNaN(WelchP([]float64{1}, []float64{1, 2})) {
		t.Error("one value: want NaN")
	}
	if WelchP([]float64{1, 1}, []float64{1, 1}) != 1 || WelchP([]float64{1, 1}, []float64{2, 2}) != 0 {
		t.Error("no spread")
	}
}

func TestTies(t *testing.T) {
	m := MustLookup("val_loss")
	// point 0 and 1 overlap (tied), point 2 is far worse (distinguishable).
	trials := []framework.TrialData{
		trial(0, 0, framework.Completed, 0.10), trial(0, 1, framework.Completed, 0.14), trial(0, 2, framework.Completed, 0.12),
		trial(1, 0, framework.Completed, 0.11), trial(1, 1, framework.Completed, 0.16), trial(1, 2, framework.Completed, 0.13),
		trial(2, 0, framework.Completed, 0.50), trial(2, 1, framework.Completed, 0.52), trial(2, 2, framework.Completed, 0.51),
	}
	r := Rank(m, trials)
	if r[0].Point != 0 || !r[1].Tied || r[2].Tied || !r[1].Compared {
		t.Fatalf("ties: %+v", r)
	}
	s := Summarize(m, trials, 0)
	h := s.Headline(func(p framework.TrialPlan) string { return fmt.Sprint(p.Params) })
	if !strings.Contains(h, "tied with 1 other setting") || !strings.Contains(h, "mean over 3 repeats") {
		t.Errorf("headline %q", h)
	}
	if got := r[1].Verdict(1); !strings.HasPrefix(got, "tied with best (p=") {
		t.Errorf("verdict %q", got)
	}
	if got := r[2].Verdict(2); !strings.HasPrefix(got, "worse (p=") {
		t.Errorf("verdict %q", got)
	}
}

func TestCoverage(t *testing.T) {
	m := MustLookup("val_loss")
	trials := []framework.TrialData{trial(0, 0, framework.Completed, 0.1), trial(1, 0, framework.Pending)}
	s := Summarize(m, trials, 5)
	if c := s.Coverage(); !strings.HasPrefix(c, "2 of 5 trials stored, 1 finished") {
		t.Errorf("coverage %q", c)
	}
	s = Summarize(m, trials, 2)
	if c := s.Coverage(); c != "1 of 2 trials finished" {
		t.Errorf("coverage %q", c)
	}
	if s.Best() == nil || s.Best().Point != 0 {
		t.Error("best")
	}
}

// The board, fed trials one by one in any order, always leads with the
// point Rank puts first over the same trials.
func TestBoardAgreesWithRank(t *testing.T) {
	for _, name := range Names() {
		m := MustLookup(name)
		rng := rand.New(rand.NewPCG(1, uint64(len(name))))
		for round := 0; round < 50; round++ {
			var all []framework.TrialData
			for pt := 0; pt < 6; pt++ {
				for rep := 0; rep < 3; rep++ {
					st := []framework.Status{framework.Completed, framework.Completed, framework.Diverged, framework.Pruned, framework.Failed}[rng.IntN(5)]
					var vals []float64
					n := 1 + rng.IntN(3)
					for i := 0; i < n && st != framework.Diverged && st != framework.Failed; i++ {
						vals = append(vals, float64(rng.IntN(5))/4)
					}
					td := trial(pt, rep, st, vals...)
					td.Final.ValAccuracy, td.Final.TrainAccuracy = td.Final.ValLoss, td.Final.TrainLoss
					for i := range td.EpochSeries {
						td.EpochSeries[i].ValAccuracy, td.EpochSeries[i].TrainAccuracy = td.EpochSeries[i].ValLoss, td.EpochSeries[i].TrainLoss
					}
					if st == framework.Completed && rng.IntN(2) == 0 {
						td.TimeToTarget = float64(rng.IntN(3))
					}
					all = append(all, td)
				}
			}
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			b := NewBoard(m, true)
			for i := range all {
				best, _ := b.Add(&all[i].Plan, &all[i])
				want := Rank(m, all[:i+1])[0]
				if best.Point != want.Point || !same(best.Mean, want.Mean) {
					t.Fatalf("%s round %d after %d trials: board %d (%v), Rank %d (%v)", name, round, i+1, best.Point, best.Mean, want.Point, want.Mean)
				}
			}
		}
	}
}

func TestIncomparableNote(t *testing.T) {
	mk := func(loss string) framework.TrialData {
		return framework.TrialData{Plan: framework.TrialPlan{Params: map[string]any{"loss.type": loss}}}
	}
	mixed := []framework.TrialData{mk("mse"), mk("half_mse")}
	if n := IncomparableNote(MustLookup("val_loss"), mixed); !strings.Contains(n, "2 different loss functions") {
		t.Errorf("mixed losses: %q", n)
	}
	if n := IncomparableNote(MustLookup("val_accuracy"), mixed); n != "" {
		t.Errorf("accuracy is comparable across losses: %q", n)
	}
	if n := IncomparableNote(MustLookup("val_loss"), []framework.TrialData{mk("mse"), mk("mse")}); n != "" {
		t.Errorf("one loss: %q", n)
	}
}

func TestMeanStd(t *testing.T) {
	m, s := MeanStd([]float64{0.5, 0.7})
	if math.Abs(m-0.6) > 1e-12 || math.Abs(s-math.Sqrt(0.02)) > 1e-12 {
		t.Errorf("mean %v std %v", m, s)
	}
	if _, s := MeanStd([]float64{0.3}); !math.IsNaN(s) {
		t.Error("std of one value")
	}
}

// A loss's spread grows with its size: the tie test compares logarithms,
// so a setting whose repeats all blew up far past the best is no tie,
// while accuracies are compared as they are.
func TestTieTestOnLosses(t *testing.T) {
	loss := MustLookup("val_loss")
	best, blown := []float64{0.10, 0.11, 0.12}, []float64{5431, 19, 786}
	if p := WelchP(best, blown); !(p > Alpha) {
		t.Fatalf("raw Welch p = %v: the example no longer shows the problem", p)
	}
	if p := loss.tieP(best, blown); !(p < Alpha) {
		t.Errorf("log Welch p = %v, want < %v", p, Alpha)
	}
	if p := loss.tieP([]float64{0, 0.1}, []float64{0.2, 0.3}); p != WelchP([]float64{0, 0.1}, []float64{0.2, 0.3}) {
		t.Errorf("a zero loss: p = %v, want the raw test", p)
	}
	acc := MustLookup("val_accuracy")
	a, b := []float64{0.9, 0.92, 0.91}, []float64{0.5, 0.7, 0.6}
	if acc.tieP(a, b) != WelchP(a, b) {
		t.Error("accuracy is not compared raw")
	}
}

// Numbers drawn by random search print with four significant digits.
func TestDescribeRoundsNumbers(t *testing.T) {
	p := framework.TrialPlan{Params: map[string]any{"training.learning_rate": 0.0004726922417170728, "training.batch_size": 16,
		"optimizer.type": "adam", "training.momentum": 0.9}, Varied: []string{"training.learning_rate", "training.batch_size", "optimizer.type", "training.momentum"}}
	if got, want := Describe(p), "training.learning_rate=0.0004727 training.batch_size=16 optimizer.type=adam training.momentum=0.9"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}
