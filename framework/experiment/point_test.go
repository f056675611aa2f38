package experiment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework/experiment"
)

// TestFunctionSourceRefuses: an experiment on the function data source
// sets neither model nor loss, nor what does not apply to one point
// (batch size, validation split, standardize), in the base or in a grid;
// each is refused at its line and key.
func TestFunctionSourceRefuses(t *testing.T) {
	const head = "name: f\ndataset: {function: rosenbrock, start: [-1.5, 2]%s}\n"
	const training = "training: {learning_rate: 0.01, epochs: 5%s}\n"
	for _, c := range []struct{ doc, key string }{
		{"model: [{type: dense, units: 2}]\n", "model"},
		{"loss: mse\n", "loss"},
		{"", "training.batch_size"},
		{"", "dataset.validation_split"},
		{"", "dataset.standardize"},
		{"grid: {training.batch_size: [1, 2]}\n", "grid.training.batch_size"},
		{"grid: {model.0.start: [[1, 1]]}\n", "grid.model.0.start"},
		{"grid: {dataset.validation_split: [0.1]}\n", "grid.dataset.validation_split"},
	} {
		ds, tr := "", ""
		switch c.key {
		case "training.batch_size":
			tr = ", batch_size: 1"
		case "dataset.validation_split":
			ds = ", validation_split: 0.2"
		case "dataset.standardize":
			ds = ", standardize: true"
		}
		src := strings.Replace(head, "%s", ds, 1) + strings.Replace(training, "%s", tr, 1) + c.doc
		_, err := experiment.Parse([]byte(src), "f.yaml")
		var ee *experiment.Error
		if !errors.As(err, &ee) || ee.Key != c.key || ee.Line == 0 || !strings.Contains(ee.Msg, "function data source") {
			t.Errorf("%s: got %v, want an error at %s naming the function data source\n%s", c.key, err, c.key, src)
		}
	}
	// the dataset's own keys are checked like any source's
	for _, c := range []struct{ ds, key string }{
		{"{function: rosenbrok, start: [0, 0]}", "dataset.function"},
		{"{function: rosenbrock, start: [0]}", "dataset.start"},
		{"{function: rosenbrock, start: [0, 0], condition: 3}", "dataset.condition"},
		{"{function: quadratic, start: [0, 0], condition: -1}", "dataset.condition"},
	} {
		src := "name: f\ndataset: " + c.ds + "\ntraining: {learning_rate: 0.01, epochs: 5}\n"
		e, err := experiment.Parse([]byte(src), "f.yaml")
		if err == nil {
			plans, _ := e.Plans()
			_, err = e.ResolvePlan(plans[0])
		}
		var ee *experiment.Error
		if !errors.As(err, &ee) || ee.Key != c.key || ee.Line != 2 {
			t.Errorf("%s: got %v, want an error at line 2, %s", c.ds, err, c.key)
		}
	}
}

// TestFunctionSourceSettings: the point model and the function loss come
// from the dataset, per trial (a grid over the function or the start
// changes them), and the stored settings say so.
func TestFunctionSourceSettings(t *testing.T) {
	src := `name: f
dataset: {function: quadratic, start: [1, 2], condition: 4, noise: 0.5}
optimizer: adam
training: {learning_rate: 0.01, epochs: 5}
grid:
  dataset.start: [[1, 2], [-1, 0.5]]
`
	e, err := experiment.Parse([]byte(src), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := e.Plans()
	if err != nil || len(plans) != 2 {
		t.Fatalf("%d plans, %v", len(plans), err)
	}
	s, err := e.ResolvePlan(plans[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Model) != 1 || s.Model[0].Type != "point" || s.Loss.Type != "function" || s.Training.BatchSize != 1 {
		t.Fatalf("model %v, loss %v, batch %d", s.Model, s.Loss, s.Training.BatchSize)
	}
	if got := s.Model[0].Options["start"].([]any); got[0] != -1.0 || got[1] != 0.5 || s.Model[0].Options["noise"] != 0.5 {
		t.Errorf("point options %v", s.Model[0].Options)
	}
	if s.Loss.Options["function"] != "quadratic" || s.Loss.Options["condition"] != 4.0 {
		t.Errorf("loss options %v", s.Loss.Options)
	}
	if p := plans[0].Params; p["model.0.type"] != "point" || p["loss.type"] != "function" || p["training.batch_size"] != 1 {
		t.Errorf("stored settings %v", p)
	}
}
