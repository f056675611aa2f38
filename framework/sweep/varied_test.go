package sweep_test

import (
	"regexp"
	"strings"
	"testing"
)

// A bad value set by the grid, random or include names the setting, its
// value and its line, whichever section it lands in: training and dataset
// values (checked while resolving the trial) as well as model and
// optimizer ones, and a list or mapping value as written.
func TestVariedValueLine(t *testing.T) {
	const base = `name: v1
dataset: {synthetic: xor, n: 100}
model: [{type: dense, units: 4}, {type: relu}, {type: dense, units: 2}]
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.1, batch_size: 4, epochs: 2}
`
	// <n> stands for a number drawn by random
	cases := []struct{ vary, want string }{
		{"grid: {training.learning_rate: [0.1, -1]}",
			"x.yaml:6: training.learning_rate: must be a number > 0, got -1 (with training.learning_rate = -1, from line 7)"},
		{"grid: {training.batch_size: [0]}",
			`x.yaml:6: training.batch_size: must be an integer ≥ 1 or "full", got 0 (with training.batch_size = 0, from line 7)`},
		{`grid: {training.epochs: ["2"]}`,
			`x.yaml:6: training.epochs: must be an integer from 1 to 1000000, got a string "2" (write a number without quotes) (with training.epochs = "2", from line 7)`},
		{"grid: {training.stop.patience: [5000000]}",
			"x.yaml:6: training.stop.patience: must be an integer from 0 to 1000000, got 5000000 (with training.stop.patience = 5000000, from line 7)"},
		{"grid:\n  training.learning_rate: [0.1]\ninclude:\n  - {training.epochs: [3000000]}",
			"x.yaml:6: training.epochs: must be an integer from 1 to 1000000, got 3000000 (with training.epochs = 3000000, from line 10)"},
		{"random:\n  trials: 2\n  training.epochs: {int_uniform: [2000000, 3000000]}",
			"x.yaml:6: training.epochs: must be an integer from 1 to 1000000, got <n> (with training.epochs = <n> drawn by random, from line 9)"},
		{"grid: {dataset.n: [100, 2000000000]}",
			`x.yaml:2: dataset.n: synthetic "xor" with n = 2000000000 would need about 22.4 GiB in memory (2000000000 samples × 3 values, 4 bytes each); the limit is 4.0 GiB (with dataset.n = 2000000000, from line 7)`},
		{"grid: {dataset.noise: [1.0e308]}",
			"x.yaml:2: dataset.noise: must be a number from 0 to 1000, got 1e+308 (with dataset.noise = 1e+308, from line 7)"},
		{"grid: {model.0.units: [[4], 5]}",
			`x.yaml:3: model.0.units: model layer 0: layer "dense": option "units": must be an integer ≥ 1, got a list (with model.0.units = [4], from line 7)`},
		{"grid: {model.0.units: [{a: 1}]}",
			`x.yaml:3: model.0.units: model layer 0: layer "dense": option "units": must be an integer ≥ 1, got a mapping (with model.0.units = {a: 1}, from line 7)`},
	}
	for _, c := range cases {
		dir := t.TempDir()
		err := prepareErr(t, dir, base+c.vary+"\n")
		if err == nil {
			t.Errorf("%s: no error, want %s", c.vary, c.want)
			continue
		}
		got := strings.TrimPrefix(err.Error(), dir+"/")
		want := "^" + strings.ReplaceAll(regexp.QuoteMeta(c.want), "<n>", "[0-9]+") + "$"
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("%s:\n got %s\nwant %s", c.vary, got, c.want)
		}
	}
}
