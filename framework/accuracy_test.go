package framework_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/plugins/losses"
)

// classRule is how a loss is expected to read a single output as a class;
// several outputs are always read by argmax.
type classRule int

const (
	ruleArgmaxOnly classRule = iota // no single-output classification (cross_entropy)
	ruleLogit                       // class 1 iff ŷ > 0
	ruleLabel                       // class 1 iff ŷ > 0.5: ŷ predicts the 0/1 label
	ruleNoClasses                   // not a classification loss (function: a test function's value at a point)
)

// expectedRule is, for every built-in loss, the conventions of PyTorch and
// Keras: BCEWithLogitsLoss outputs logits, an elementwise loss on 0/1
// labels predicts the label (Keras' binary_accuracy, threshold 0.5), and
// several outputs are scores or one-hot predictions (argmax: Keras'
// categorical_accuracy). A new loss must be added here.
var expectedRule = map[string]classRule{
	"cross_entropy":        ruleArgmaxOnly,
	"binary_cross_entropy": ruleLogit,
	"mse":                  ruleLabel,
	"half_mse":             ruleLabel,
	"mae":                  ruleLabel,
	"huber":                ruleLabel,
	"function":             ruleNoClasses,
}

// identityTrainer is a model that outputs its input (one dense layer with
// identity weights), so a data set's rows are the predictions.
func identityTrainer(t *testing.T, loss framework.Loss, width int) *framework.Trainer {
	t.Helper()
	m, err := framework.NewModel(framework.Layers, []framework.LayerSpec{dense(width, "zeros")}, width, framework.NewTrainRand(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	w := m.Params()[0].Value
	for i := range width {
		w[i*width+i] = 1
	}
	opt, err := framework.Optimizers.New("sgd", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &framework.Trainer{Model: m, Loss: loss, Optimizer: opt,
		Config: framework.TrainConfig{LearningRate: 1e-30, Epochs: 1}} // full batch; a step too small to move a weight
}

// Accuracy reads predictions as classes the way each loss defines them,
// checked against accuracies computed by hand, for every registered loss,
// in evaluation (val_accuracy) and in training (train_accuracy, from the
// predictions before the update).
func TestAccuracyOfEveryLoss(t *testing.T) {
	reg := framework.NewRegistry[framework.Loss]("loss")
	losses.Register(reg)
	// one output, labels 0 1 1 0 0 1:
	//   logit > 0:  classes 0 1 1 1 0 1, right 5 of 6
	//   ŷ > 0.5:    classes 0 0 1 1 0 0, right 3 of 6 (0.5 itself is class 0)
	single := &framework.Dataset{Task: framework.Classification, Classes: []string{"a", "b"},
		X:      &mat.Matrix{Rows: 6, Cols: 1, Data: []float32{-0.3, 0.2, 0.7, 1.4, -1, 0.5}},
		Labels: []int32{0, 1, 1, 0, 0, 1}}
	wantSingle := map[classRule]float64{ruleLogit: 5.0 / 6, ruleLabel: 3.0 / 6}
	// three outputs, labels 1 0 1 0 2: argmax 1 0 2 0 (a tie goes to the first) 2, right 4 of 5
	multi := &framework.Dataset{Task: framework.Classification, Classes: []string{"a", "b", "c"},
		X: &mat.Matrix{Rows: 5, Cols: 3, Data: []float32{
			0.1, 0.7, 0.2,
			2, 1, 0,
			0, 0, 3,
			0.4, 0.4, 0.1,
			-5, -4, -3}},
		Labels: []int32{1, 0, 1, 0, 2}}
	const wantMulti = 4.0 / 5

	for _, name := range reg.Names() {
		rule, ok := expectedRule[name]
		if !ok {
			t.Errorf("loss %s: no expected class rule; add it to expectedRule (and to README's table)", name)
			continue
		}
		check := func(d *framework.Dataset, want float64) {
			t.Helper()
			l, err := reg.New(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := identityTrainer(t, l, d.X.Cols)
			if _, acc := tr.Evaluate(d); acc != want {
				t.Errorf("%s, %d outputs: val accuracy %v, want %v", name, d.X.Cols, acc, want)
			}
			res, err := tr.Train(context.Background(), d, d)
			if err != nil {
				t.Fatal(err)
			}
			if res.Final.TrainAccuracy != want || res.Final.ValAccuracy != want {
				t.Errorf("%s, %d outputs: train_accuracy %v, val_accuracy %v, want %v", name, d.X.Cols,
					res.Final.TrainAccuracy, res.Final.ValAccuracy, want)
			}
		}
		if rule == ruleNoClasses {
			l, _ := reg.New(name, map[string]any{"function": "quadratic"})
			if l.Check(framework.Classification, 2, 2) == nil || l.Check(framework.Classification, 3, 3) == nil {
				t.Errorf("%s accepts classification", name)
			}
			continue
		}
		l, _ := reg.New(name, nil)
		if err := l.Check(framework.Classification, 1, 2); (err == nil) != (rule != ruleArgmaxOnly) {
			t.Errorf("%s: single-output classification accepted = %v, but the expected rule is %d", name, err == nil, rule)
		} else if err == nil {
			check(single, wantSingle[rule])
		}
		if l.Check(framework.Classification, 3, 3) != nil {
			t.Errorf("%s refuses one output per class", name)
			continue
		}
		check(multi, wantMulti)
	}
}

// twoMoons is scikit-learn's make_moons: two interleaved half circles,
// classes alternating, plus Gaussian noise.
func twoMoons(n int, noise float64, seed uint64) *framework.Dataset {
	rng := rand.New(rand.NewPCG(seed, 9))
	d := &framework.Dataset{Task: framework.Classification, Classes: []string{"0", "1"},
		X: mat.New(n, 2), Labels: make([]int32, n)}
	for i := range n {
		a := math.Pi * rng.Float64()
		x, y := math.Cos(a), math.Sin(a)
		if i%2 == 1 {
			x, y = 1-x, 0.5-y
			d.Labels[i] = 1
		}
		r := d.X.Row(i)
		r[0], r[1] = float32(x+noise*rng.NormFloat64()), float32(y+noise*rng.NormFloat64())
	}
	return d
}

// The case end to end: dense 16 – relu – dense 1 trained with mse
// (and with a sigmoid output) on two moons. The reported accuracies are
// those of the model's predictions read as labels (ŷ > 0.5), counted here
// by hand from the trained model; they are far above the class-1 fraction
// that reading ŷ as a logit gave.
func TestTwoMoonsAccuracyWithMSE(t *testing.T) {
	train, val := twoMoons(400, 0.1, 1), twoMoons(200, 0.1, 2)
	for _, model := range [][]framework.LayerSpec{
		{dense(16, "he"), act("relu"), dense(1, "xavier")},
		{dense(16, "he"), act("relu"), dense(1, "xavier"), act("sigmoid")},
	} {
		for _, loss := range []string{"mse", "half_mse", "mae", "huber"} {
			tr := build(t, model, 2, loss, "adam", framework.TrainConfig{LearningRate: 0.01, BatchSize: 16, Epochs: 40, Shuffle: true, Seed: 3})
			res, err := tr.Train(context.Background(), train, val)
			if err != nil {
				t.Fatal(err)
			}
			pred := tr.Model.Forward(val.X, false)
			right := 0
			for i, lab := range val.Labels {
				if (pred.Data[i] > 0.5) == (lab == 1) {
					right++
				}
			}
			want := float64(right) / float64(val.Len())
			if res.Final.ValAccuracy != want {
				t.Errorf("%s, %d layers: val_accuracy %v, by hand %v", loss, len(model), res.Final.ValAccuracy, want)
			}
			if want < 0.8 {
				t.Errorf("%s, %d layers: the trained model classifies only %v of two moons", loss, len(model), want)
			}
		}
	}
}
