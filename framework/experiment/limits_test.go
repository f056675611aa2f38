package experiment_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework/experiment"
)

// parseAll parses src and resolves every trial, returning the first error.
func parseAll(src string) (*experiment.Experiment, error) {
	e, err := experiment.Parse([]byte(src), "x.yaml")
	if err != nil {
		return nil, err
	}
	ps, err := e.Plans()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if _, err := e.ResolvePlan(p); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Hostile or mistaken values are refused with their file, line and key
// (base ends at line 10; what is appended starts at line 11).
func TestLimitsAndTypes(t *testing.T) {
	set := func(from, to string) string { return strings.Replace(base, from, to, 1) }
	cases := []struct{ src, want string }{
		// two spellings of one path
		{base + "grid:\n  model.0.units: [4, 5]\n  model.00.units: [6]\n", `x.yaml:13: grid.model.00.units: "model.0.units" and "model.00.units" name the same setting (line 12)`},
		{base + "include:\n  - {model.0.units: 4, model.+0.units: 5}\n", `x.yaml:12: include.0.model.0.units: "model.+0.units" and "model.0.units" name the same setting (line 12)`},
		// an exclude that removes every point
		{base + "grid:\n  model.0.units: [4, 5]\nexclude:\n  - {model.0.units: [4, 5]}\n", "x.yaml:13: exclude: exclude removes every grid point"},
		// pruner bounds
		{base + "pruner: {type: asha, min_epochs: 2, eta: 4611686018427387904}\n", "x.yaml:11: pruner.eta: must be an integer from 2 to 1000, got 4611686018427387904"},
		{base + "pruner: {type: asha, min_epochs: 10000000}\n", "x.yaml:11: pruner.min_epochs: must be an integer from 1 to 1000000"},
		{base + "pruner: {type: median, startup_trials: 0}\n", "x.yaml:11: pruner.startup_trials: must be an integer from 1 to 1000000, got 0"},
		{base + "pruner: {type: median, interval: \"2\"}\n", `pruner.interval: must be an integer from 1 to 1000000, got a string "2"`},
		// random ranges
		{base + "random: {trials: 3, model.0.units: {int_uniform: [0, 1.0e19]}}\n", "x.yaml:11: random.model.0.units.int_uniform: needs whole numbers from -9007199254740992 to 9007199254740992, got [0, 1e+19]"},
		{base + "random: {trials: 3, model.0.units: {int_uniform: [0.5, 3]}}\n", "random.model.0.units.int_uniform: needs whole numbers"},
		{base + "random: {trials: 3, training.learning_rate: {uniform: [-1.0e308, 1.0e308]}}\n", "too wide to sample"},
		{base + "random: {trials: 3, training.learning_rate: {uniform: [1, \"2\"]}}\n", `needs numbers low < high, got [1, a string "2"]`},
		// data sets that cannot fit, noise that leaves no signal
		{set("{builtin: iris, validation_split: 0.2}", "{synthetic: xor, n: 2000000000}"), `x.yaml:3: dataset.n: synthetic "xor" with n = 2000000000 would need about 22.4 GiB in memory`},
		{set("{builtin: iris, validation_split: 0.2}", "{synthetic: xor, noise: 1.0e308}"), "x.yaml:3: dataset.noise: must be a number from 0 to 1000, got 1e+308"},
		// types named in messages
		{set("epochs: 2", `epochs: "2"`), `x.yaml:10: training.epochs: must be an integer from 1 to 1000000, got a string "2"`},
		{set("epochs: 2", `epochs: [2]`), `training.epochs: must be an integer from 1 to 1000000, got a list`},
		{set("learning_rate: 0.1", `learning_rate: {a: 1}`), `training.learning_rate: must be a number > 0, got a mapping`},
		{set("batch_size: 16", `batch_size: "16"`), `training.batch_size: must be an integer ≥ 1 or "full", got a string "16"`},
		{base + "seed: \"3\"\n", `key given twice`},
		{set("seed: 3", `seed: "3"`), `x.yaml:2: seed: must be an integer ≥ 0, got a string "3"`},
		{set("epochs: 2}", "epochs: 2, stop: {patience: 1.0e19}}"), "x.yaml:10: training.stop.patience: must be an integer from 0 to 1000000, got 1e+19"},
		{set("epochs: 2}", "epochs: 2, stop: {patience: \"3\"}}"), `training.stop.patience: must be an integer from 0 to 1000000, got a string "3"`},
		// documents
		{"# just a comment\n# and another\n", "x.yaml: empty experiment file (it holds only comments)"},
		{base + "---\nname: other\n", "x.yaml:11: a second YAML document"},
	}
	for _, c := range cases {
		_, err := parseAll(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", lastLine(c.src), err, c.want)
		}
	}
}

// model.00.units is model.0.units: the trial's settings and its varied
// keys use the canonical spelling, so best/show print the value.
func TestPathSpellingsCanonical(t *testing.T) {
	e, err := parseAll(base + "grid:\n  model.00.units: [4, 6]\nexclude:\n  - {model.+0.units: 6}\n")
	if err != nil {
		t.Fatal(err)
	}
	plans, _ := e.Plans()
	if len(plans) != 1 {
		t.Fatalf("%d trials, want 1 (units 6 excluded)", len(plans))
	}
	p := plans[0]
	if len(p.Varied) != 1 || p.Varied[0] != "model.0.units" || p.Params["model.0.units"] != 4 {
		t.Errorf("varied %v, params %v", p.Varied, p.Params["model.0.units"])
	}
	if l := e.Line("grid.model.0.units"); l != 12 {
		t.Errorf("line of the canonical path: %d", l)
	}
}

// exclude compares by value and type: the string "16" is not the
// integer 16.
func TestExcludeComparesTypes(t *testing.T) {
	e, err := parseAll(base + "grid:\n  training.batch_size: [16, full]\nexclude:\n  - {training.batch_size: \"16\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if plans, _ := e.Plans(); len(plans) != 2 {
		t.Errorf("%d trials, want 2: \"16\" must not drop 16", len(plans))
	}
	e, err = parseAll(base + "grid:\n  training.batch_size: [16, full]\nexclude:\n  - {training.batch_size: 16}\n")
	if err != nil {
		t.Fatal(err)
	}
	if plans, _ := e.Plans(); len(plans) != 1 || plans[0].Params["training.batch_size"] != "full" {
		t.Errorf("exclude 16: %v", plans)
	}
}

// VariedLine finds where a trial's value came from: grid, random, or
// the include item that set it.
func TestVariedLine(t *testing.T) {
	e, err := parseAll(base + "grid:\n  training.batch_size: [16, 32]\ninclude:\n  - {training.batch_size: 8}\n  - {training.batch_size: [4, 16]}\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    any
		line int
	}{{16, 12}, {32, 12}, {8, 14}, {4, 15}, {"16", 0}} {
		if got, random := e.VariedLine("training.batch_size", c.v); got != c.line || random {
			t.Errorf("%v: line %d (random %v), want %d", c.v, got, random, c.line)
		}
	}
	e, err = parseAll(base + "random:\n  trials: 2\n  training.epochs: {int_uniform: [2, 5]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, random := e.VariedLine("training.epochs", 3); got != 13 || !random {
		t.Errorf("random: line %d (random %v), want 13 drawn by random", got, random)
	}
}

// An experiment file must be a regular file of bounded size: /dev/zero
// or a FIFO would read forever or block.
func TestLoadRefusesNonRegularAndHugeFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, p := range []string{"/dev/zero", fifo} {
		if _, err := experiment.Load(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(big, []byte(base+"description: "+strings.Repeat("x", experiment.MaxFileBytes)+"\n"), 0o644)
	if _, err := experiment.Load(big); err == nil || !strings.Contains(err.Error(), "big.yaml: larger than 4.0 MiB") {
		t.Errorf("huge file: %v", err)
	}
}

// Varied writes each setting as it would be written in the file: a
// string that would read back as a number or boolean is quoted, a list
// or mapping is rebuilt from the flattened params.
func TestVariedNote(t *testing.T) {
	e, err := parseAll(base + "grid:\n  optimizer.type: [\"on\", adam, \"2\"]\n  model.0.units: [[4, 5]]\n")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := e.Plans()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`x (with optimizer.type = "on", from line 12)`, `x (with optimizer.type = adam, from line 12)`, `x (with optimizer.type = "2", from line 12)`,
	}
	for i, p := range plans {
		note, line := e.Varied("optimizer", p.Params, p.Varied)
		if "x"+note != want[i] || line != 12 {
			t.Errorf("plan %d: %q line %d, want %q line 12", i, note, line, want[i])
		}
		if note, line := e.Varied("model.0", p.Params, p.Varied); note != " (with model.0.units = [4, 5], from line 13)" || line != 13 {
			t.Errorf("plan %d: model.0: %q line %d", i, note, line)
		}
	}
}
