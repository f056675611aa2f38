package experiment_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/experiment"
	_ "github.com/gradsweep/gradsweep/plugins/functions"
	"github.com/gradsweep/gradsweep/plugins/pruners"
)

const base = `name: t
seed: 3
dataset: {builtin: iris, validation_split: 0.2}
model:
  - {type: dense, units: 8}
  - {type: relu}
  - {type: dense, units: 3}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.1, batch_size: 16, epochs: 2}
`

func TestGridExpansion(t *testing.T) {
	e, err := experiment.Parse([]byte(base+`grid:
  training.learning_rate: [0.001, 0.01, 0.1, 1.0]
  training.batch_size: [1, 16, full]
  optimizer.type: [sgd, momentum]
include:
  - {optimizer.type: nesterov, optimizer.momentum: [0.5, 0.9]}
exclude:
  - {optimizer.type: momentum, training.batch_size: full}
repeats: 3
`), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := e.Plans()
	if err != nil {
		t.Fatal(err)
	}
	// 4·3·2 = 24, minus 4 excluded (momentum × full), plus 2 included = 22 points
	if want := 22 * 3; len(plans) != want {
		t.Fatalf("%d trials, want %d", len(plans), want)
	}
	ids := map[string]bool{}
	seeds := map[uint64]bool{}
	for i, p := range plans {
		if p.Index != i || p.Point != i/3 || p.Repeat != i%3 {
			t.Fatalf("trial %d: index %d point %d repeat %d", i, p.Index, p.Point, p.Repeat)
		}
		if ids[p.ID] || seeds[p.Seed] {
			t.Fatalf("duplicate id or seed at %d", i)
		}
		ids[p.ID], seeds[p.Seed] = true, true
	}
	// first axis outermost, last fastest; file order, not alphabetical
	if plans[0].Params["optimizer.type"] != "sgd" || plans[3].Params["optimizer.type"] != "momentum" ||
		plans[6].Params["training.batch_size"] != 16 || plans[0].Params["training.learning_rate"] != 0.001 {
		t.Errorf("order: %v / %v / %v", plans[0].Params, plans[3].Params, plans[6].Params)
	}
	last := plans[len(plans)-1].Params
	if last["optimizer.type"] != "nesterov" || last["optimizer.momentum"] != 0.9 {
		t.Errorf("include not last: %v", last)
	}
	for _, p := range plans {
		if p.Params["optimizer.type"] == "momentum" && p.Params["training.batch_size"] == "full" {
			t.Errorf("excluded point present: %v", p.Params)
		}
	}
	// ids and seeds are stable: parsing again gives the same
	e2, _ := experiment.Parse([]byte(base+`grid:
  training.learning_rate: [0.001, 0.01, 0.1, 1.0]
  training.batch_size: [1, 16, full]
  optimizer.type: [sgd, momentum]
include:
  - {optimizer.type: nesterov, optimizer.momentum: [0.5, 0.9]}
exclude:
  - {optimizer.type: momentum, training.batch_size: full}
repeats: 3
`), "x.yaml")
	plans2, _ := e2.Plans()
	for i := range plans {
		if plans[i].ID != plans2[i].ID || plans[i].Seed != plans2[i].Seed {
			t.Fatal("ids or seeds not stable")
		}
	}
	if e.Hash != e2.Hash {
		t.Error("hash not stable")
	}
}

func TestRandomSearchReproducible(t *testing.T) {
	src := base + `random:
  trials: 10
  training.learning_rate: {log_uniform: [0.0001, 1]}
  optimizer.type: {choice: [sgd, adam]}
  training.batch_size: {int_uniform: [1, 32]}
`
	e, err := experiment.Parse([]byte(src), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := e.Plans()
	e2, _ := experiment.Parse([]byte(src), "r.yaml")
	b, _ := e2.Plans()
	if len(a) != 10 {
		t.Fatalf("%d trials", len(a))
	}
	for i := range a {
		lr := a[i].Params["training.learning_rate"].(float64)
		if lr < 1e-4 || lr > 1 || a[i].Params["training.learning_rate"] != b[i].Params["training.learning_rate"] {
			t.Errorf("sample %d: %v vs %v", i, a[i].Params, b[i].Params)
		}
		if bs := a[i].Params["training.batch_size"].(int); bs < 1 || bs > 32 {
			t.Errorf("batch size %d", bs)
		}
	}
}

// Every error names the file, the line and the key.
func TestBadInput(t *testing.T) {
	cases := []struct{ src, want string }{
		{"name: [", "x.yaml:1: malformed YAML"},
		// an open flow collection is named at its own line, not the line
		// yaml.v3 gives (that of the enclosing block, often 1)
		{strings.Replace(base, "epochs: 2}", "epochs: 2", 1), "x.yaml:10: malformed YAML: the '{' opened on this line is not closed"},
		{base + "grid:\n  training.learning_rate: [0.1, 0.2\n", "x.yaml:12: malformed YAML: the '[' opened on this line is not closed"},
		{base + "grid: {training.learning_rate: [0.1, 0.2}\n", "x.yaml:11: malformed YAML: the '[' opened on this line is not closed"},
		{"# a [ in a comment\nname: 'a { b'\ntraining: {epochs: [2, 3]\n", "x.yaml:3: malformed YAML: the '{' opened on this line is not closed"},
		{base + "grid: {}\n", "x.yaml:11: grid: must be a non-empty mapping"},
		{base + "gird: {}\n", `x.yaml:11: gird: unknown key "gird"`},
		{base + "grid:\n  training.learning_rat: [1]\n", `x.yaml:12: grid.training.learning_rat: path "training.learning_rat" names nothing`},
		{base + "grid:\n  model.7.units: [1]\n", "layers 0 to 2"},
		{strings.Replace(base, "name: t", "name: ../x", 1), "x.yaml:1: name: \"../x\" is not a safe sweep name"},
		{strings.Replace(base, "name: t", "name: /etc/x", 1), "not a safe sweep name"},
		{strings.Replace(base, "epochs: 2", "epochs: 0", 1), "training.epochs: must be an integer from 1"},
		{strings.Replace(base, "batch_size: 16", "batch_size: 0", 1), "training.batch_size: must be an integer ≥ 1 or \"full\", got 0"},
		{strings.Replace(base, "learning_rate: 0.1", "learning_rate: -1", 1), "x.yaml:10: training.learning_rate: must be a number > 0"},
		{strings.Replace(base, "learning_rate: 0.1", "learning_rate: .nan", 1), "not a finite number"},
		{strings.Replace(base, "epochs: 2}", "epochs: 2, shuffel: true}", 1), `did you mean "shuffle"`},
		{strings.Replace(base, "validation_split: 0.2", "validation_split: 1.5", 1), "dataset.validation_split"},
		{strings.Replace(base, "builtin: iris", "builtin: irs", 1), `did you mean "iris"`},
		{base + "repeats: 0\n", "x.yaml:11: repeats:"},
		{base + "pruner: {type: hyperband}\n", `unknown pruner "hyperband"`},
		{base + "metric: accuracy\n", `unknown metric "accuracy"`},
		{"- a\n- b\n", "must be a mapping"},
		{"", "empty experiment file"},
	}
	for _, c := range cases {
		e, err := experiment.Parse([]byte(c.src), "x.yaml")
		if err == nil {
			// some errors only show when a trial is resolved
			ps, _ := e.Plans()
			for _, p := range ps {
				if _, err = e.ResolvePlan(p); err != nil {
					break
				}
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", lastLine(c.src), err, c.want)
			continue
		}
		var ee *experiment.Error
		if !errors.As(err, &ee) {
			t.Errorf("%v is not an *experiment.Error", err)
		}
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// The shipped experiments parse and expand.
func TestShippedExperiments(t *testing.T) {
	files, _ := filepath.Glob("../../experiments/*.yaml")
	if len(files) < 5 {
		t.Fatalf("found %d experiment files", len(files))
	}
	for _, f := range files {
		e, err := experiment.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		plans, err := e.Plans()
		if err != nil || len(plans) == 0 {
			t.Errorf("%s: %d plans, %v", f, len(plans), err)
		}
		for _, p := range plans {
			if _, err := e.ResolvePlan(p); err != nil {
				t.Errorf("%s: %v", f, err)
				break
			}
		}
	}
}

// No input may panic the parser; what it accepts expands and resolves
// without panicking either.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../experiments/*.yaml")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Add([]byte("name: x\ngrid: {a.b: [1]}"))
	f.Add([]byte("{name: [}"))
	f.Add([]byte(base + "random: {trials: 3, model.0.units: {int_uniform: [0, 1.0e19]}}\n"))
	f.Add([]byte(base + "pruner: {type: asha, min_epochs: 2, eta: 4611686018427387904}\n"))
	f.Add([]byte(base + "grid:\n  model.0.units: [4, 5]\n  model.00.units: [6]\nexclude:\n  - {model.0.units: 4}\n"))
	f.Add([]byte(strings.Replace(base, "{builtin: iris, validation_split: 0.2}", "{synthetic: xor, n: 2000000000, noise: 1.0e308}", 1)))
	f.Add([]byte(strings.Replace(base, "epochs: 2}", "epochs: 2, stop: {patience: 1.0e19}}", 1) + "---\nname: y\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := experiment.Parse(src, "fuzz.yaml")
		if err != nil {
			return
		}
		// what is accepted is within the limits
		switch p := e.Pruner.(type) {
		case *pruners.ASHA:
			if p.Eta < 2 || p.Eta > 1000 || p.MinEpochs < 1 || p.MinEpochs > experiment.MaxEpochs {
				t.Fatalf("pruner out of bounds: %+v", *p)
			}
		case *pruners.Median:
			if p.StartupTrials < 1 || p.Interval < 1 || p.WarmupEpochs > experiment.MaxEpochs {
				t.Fatalf("pruner out of bounds: %+v", *p)
			}
		}
		for _, d := range e.Random {
			if d.Kind != "choice" && !(d.Low < d.High && !math.IsInf(d.High-d.Low, 0)) {
				t.Fatalf("distribution out of bounds: %+v", d)
			}
		}
		plans, err := e.Plans()
		if err != nil || len(plans) > 10000 {
			return
		}
		if len(plans) == 0 {
			t.Fatal("no trials and no error")
		}
		for _, p := range plans {
			for _, v := range p.Varied {
				if p.Setting(v) == nil {
					t.Fatalf("varied key %q is not a setting", v)
				}
			}
			s, err := e.ResolvePlan(p)
			if err != nil {
				continue
			}
			if syn, ok := s.Dataset.From.(*data.SyntheticSource); ok && (syn.Noise > data.MaxNoise || data.CheckSynthetic(syn.Name, syn.N) != nil) {
				t.Fatalf("data set out of bounds: %+v", *syn)
			}
			if s.Training.Patience < 0 || s.Training.Patience > experiment.MaxEpochs || s.Training.Epochs > experiment.MaxEpochs {
				t.Fatalf("training out of bounds: %+v", s.Training)
			}
		}
	})
}

func TestTooManyTrials(t *testing.T) {
	vals := make([]string, 60)
	for i := range vals {
		vals[i] = strconv.Itoa(i + 1)
	}
	list := "[" + strings.Join(vals, ",") + "]"
	src := base + "grid:\n"
	for _, path := range []string{"model.0.units", "training.epochs", "training.learning_rate", "training.batch_size"} {
		src += "  " + path + ": " + list + "\n"
	}
	_, err := experiment.Parse([]byte(src), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "expands to 12960000 trials; the limit is") {
		t.Errorf("huge grid: %v", err)
	}
}

func TestDefaultMetric(t *testing.T) {
	e, _ := experiment.Parse([]byte(base), "x.yaml")
	if e.Metric != "val_loss" {
		t.Errorf("with a validation split: %s", e.Metric)
	}
	noVal := strings.Replace(base, "{builtin: iris, validation_split: 0.2}", "{builtin: iris}", 1)
	if e, _ := experiment.Parse([]byte(noVal), "x.yaml"); e.Metric != "train_loss" {
		t.Errorf("without a validation split: %s", e.Metric)
	}
	if _, err := experiment.Parse([]byte(noVal+"metric: val_accuracy\n"), "x.yaml"); err == nil || !strings.Contains(err.Error(), "x.yaml:11: metric: val_accuracy needs a validation split") {
		t.Errorf("val metric without split: %v", err)
	}
}
