package experiment

import (
	"strings"
	"testing"
)

const growDoc = `name: g
description: first
dataset: {builtin: iris, validation_split: 0.2}
model: [{type: dense, units: 4}, {type: relu}, {type: dense, units: 3}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 16, epochs: 2}
grid: {training.learning_rate: [0.1, 0.05]}
`

// ChangedFrom ignores what only says which trials there are (and the
// description), and names the first other setting that changed, inside
// the model's list of layers too.
func TestChangedFrom(t *testing.T) {
	old, err := Parse([]byte(growDoc), "old.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"grid", "[0.1, 0.05]}", "[0.1, 0.05, 0.01]}\nrepeats: 3\ninclude: [{training.epochs: 4}]", ""},
		{"description", "first", "second", ""},
		{"base", "epochs: 2", "epochs: 3", "it changes training.epochs: 2 → 3: "},
		{"layer", "units: 4}", "units: 5}", "it changes model.0.units: 4 → 5: "},
		{"added key", "epochs: 2}", "epochs: 2, momentum: 0.9}", "it changes training.momentum: added: "},
		{"seed", "name: g\n", "name: g\nseed: 9\n", "it changes seed: added: "},
		{"pruner", "name: g\n", "name: g\npruner: median\n", "the sweep has a pruner"},
	} {
		e, err := Parse([]byte(strings.Replace(growDoc, c.from, c.to, 1)), "new.yaml")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := e.ChangedFrom(old)
		if (c.want == "") != (got == "") || !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: ChangedFrom = %q, want %q…", c.name, got, c.want)
		}
	}
}
