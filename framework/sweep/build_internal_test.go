package sweep

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	_ "github.com/gradsweep/gradsweep/plugins"
)

// The runner builds a trial with the builder that validated it: what
// validation refuses, the runner's setup refuses with the same message,
// and the error carries the key at fault (and a layer's index) as fields.
func TestOneTrialBuilder(t *testing.T) {
	text := `name: build-test
dataset: {builtin: iris}
model:
  - {type: dense, units: 8}
  - {type: relu}
  - {type: dense, units: 3}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.1, batch_size: 16, epochs: 1}
`
	e, err := experiment.Parse([]byte(text), filepath.Join(t.TempDir(), "b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg := framework.Default()
	p, err := Prepare(e, reg)
	if err != nil {
		t.Fatal(err)
	}
	good := p.Specs[0]
	for _, c := range []struct {
		name  string
		edit  func(*experiment.TrialSpec)
		key   string
		layer int // the *framework.LayerError's index, -1 for none
		msg   string
	}{
		{"unknown layer", func(s *experiment.TrialSpec) { s.Model[1] = framework.LayerSpec{Type: "reLU"} },
			"model.1", 1, `model layer 1: unknown layer "reLU"`},
		{"huge layer", func(s *experiment.TrialSpec) {
			s.Model[2] = framework.LayerSpec{Type: "dense", Options: map[string]any{"units": 2000000000}}
		}, "model.2", 2, "model layer 2 (dense): the model would need about"},
		{"no layers", func(s *experiment.TrialSpec) { s.Model = nil }, "model", -1, "model has no layers"},
		{"too few outputs", func(s *experiment.TrialSpec) {
			s.Model[2] = framework.LayerSpec{Type: "dense", Options: map[string]any{"units": 2}}
		}, "model", -1, "the last layer does not fit the loss cross_entropy"},
		{"batch larger than the data", func(s *experiment.TrialSpec) { s.Training.BatchSize = 1000 },
			"training.batch_size", -1, "1000 is larger than the 150 training samples"},
		{"unknown optimizer", func(s *experiment.TrialSpec) { s.Optimizer.Type = "sgdd" }, "optimizer", -1, `"sgdd"`},
	} {
		spec := *good
		spec.Model = slices.Clone(good.Model)
		c.edit(&spec)
		p.Specs[0] = &spec
		_, err := p.build(&spec, reg, 0)
		var se *settingError
		if !errors.As(err, &se) || se.key != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: build error %v (%#v), want key %s and %q", c.name, err, se, c.key, c.msg)
			continue
		}
		index := -1
		if le := (*framework.LayerError)(nil); errors.As(err, &le) {
			index = le.Index
		}
		if index != c.layer {
			t.Errorf("%s: the error's layer is %d, want %d (-1: none)", c.name, index, c.layer)
		}
		r := &run{prep: p, opt: Options{Registries: reg}}
		if serr := r.setup(&active{plan: p.Plans[0]}); serr == nil || serr.Error() != err.Error() {
			t.Errorf("%s: the runner's setup says %v; validation said %v", c.name, serr, err)
		}
	}
	p.Specs[0] = good
}
