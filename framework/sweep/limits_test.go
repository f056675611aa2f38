package sweep_test

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/safetensors"
	"github.com/gradsweep/gradsweep/framework/sweep"
)

// prepareErr parses text as dir/x.yaml and prepares it, returning the
// error of either step.
func prepareErr(t *testing.T, dir, text string) error {
	t.Helper()
	e, err := experiment.Parse([]byte(text), filepath.Join(dir, "x.yaml"))
	if err == nil {
		_, err = sweep.Prepare(e, framework.Default())
	}
	return err
}

// A model that cannot fit is refused before it is built, naming the layer
// and the estimate.
func TestPrepareRefusesHugeModel(t *testing.T) {
	text := strings.Replace(src, "{type: dense, units: 8, init: he}", "{type: dense, units: 2000000000}", 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := prepareErr(t, t.TempDir(), text)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "x.yaml:5: model.0: model layer 0 (dense): the model would need about 45.1 TiB") ||
		!strings.Contains(err.Error(), "the limit is 4.0 GiB") {
		t.Errorf("huge model: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
		t.Errorf("refusing the model allocated %d bytes", got)
	}
	// full batch counts the whole training set as the batch
	defer func(m int64) { framework.MaxModelBytes = m }(framework.MaxModelBytes)
	framework.MaxModelBytes = 300 << 10
	if err := prepareErr(t, t.TempDir(), src); err != nil {
		t.Errorf("the test sweep fits %d bytes: %v", framework.MaxModelBytes, err)
	}
	framework.MaxModelBytes = 200 << 10
	if err := prepareErr(t, t.TempDir(), src); err == nil || !strings.Contains(err.Error(), "model.") {
		t.Errorf("the test sweep does not fit %d bytes: %v", framework.MaxModelBytes, err)
	}
}

// Errors point at the exact line of what caused them.
func TestPrepareErrorLines(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown option on its own line", strings.Replace(strings.Replace(src, "optimizer: {type: sgd}\n", "optimizer:\n  type: adam\n  beta1: 0.9\n  betaa2: 0.99\n", 1), "  optimizer.type: [sgd, adam]\n", "", 1),
			`x.yaml:12: optimizer.betaa2: optimizer "adam": unknown option "betaa2"`},
		{"option of the wrong type", strings.Replace(src, "{type: relu}", "{type: dropout,\n     p: \"0.5\"}", 1),
			`x.yaml:7: model.1.p: model layer 1: layer "dropout": option "p": must be a number in [0, 1), got a string "0.5" (write a number without quotes)`},
		{"a list for a number", strings.Replace(src, "units: 8,", "units: [8],", 1),
			`x.yaml:5: model.0.units: model layer 0: layer "dense": option "units": must be an integer ≥ 1, got a list`},
		{"value from include", src + "include:\n  - {training.batch_size: 500}\n",
			"training.batch_size = 500, from line 17)"},
		{"defaulted optimizer", strings.Replace(strings.Replace(src, "optimizer: {type: sgd}\n", "", 1), "  optimizer.type: [sgd, adam]\n", "  optimizer.momentum: [0.5]\n", 1),
			`x.yaml:13: optimizer.momentum: optimizer "sgd": unknown option "momentum" (known: weight_decay) (with optimizer.momentum = 0.5, from line 13)`},
	}
	for _, c := range cases {
		if err := prepareErr(t, t.TempDir(), c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", c.name, err, c.want)
		}
	}
}

// init_from: read errors carry its line; a FIFO is refused instead of
// blocking; non-finite weights are refused naming the tensor.
func TestPrepareInitFrom(t *testing.T) {
	dir := t.TempDir()
	text := src + "init_from: w.safetensors\n"
	if err := prepareErr(t, dir, text); err == nil || !strings.Contains(err.Error(), "x.yaml:16: init_from:") || !strings.Contains(err.Error(), "w.safetensors") {
		t.Errorf("missing file: %v", err)
	}
	w := filepath.Join(dir, "w.safetensors")
	if err := syscall.Mkfifo(w, 0o644); err == nil {
		if err := prepareErr(t, dir, text); err == nil || !strings.Contains(err.Error(), "x.yaml:16: init_from:") || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("fifo: %v", err)
		}
		os.Remove(w)
	}
	os.WriteFile(w, []byte("garbage"), 0o644)
	if err := prepareErr(t, dir, text); err == nil || !strings.Contains(err.Error(), "x.yaml:16: init_from: safetensors:") {
		t.Errorf("garbage: %v", err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		ts := map[string]safetensors.Tensor{
			"0.weight": {Shape: []int{8, 4}, Data: make([]float32, 32)}, "0.bias": {Shape: []int{8}, Data: make([]float32, 8)},
			"2.weight": {Shape: []int{3, 8}, Data: make([]float32, 24)}, "2.bias": {Shape: []int{3}, Data: make([]float32, 3)},
		}
		ts["2.weight"].Data[5] = bad
		if err := safetensors.WriteFile(w, ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := prepareErr(t, dir, text); err == nil || !strings.Contains(err.Error(), `x.yaml:16: init_from:`) || !strings.Contains(err.Error(), `tensor "2.weight" holds`) {
			t.Errorf("%v weight: %v", bad, err)
		}
	}
}

// Data that is refused by the loader names the dataset's line.
func TestPrepareDataLimits(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "d.csv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	text := strings.Replace(src, "{builtin: iris, validation_split: 0.2, standardize: true}", "{csv: d.csv, target: y}", 1)
	if err := prepareErr(t, dir, text); err == nil || !strings.Contains(err.Error(), "x.yaml:3: dataset: data: ") || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err)
	}
}
