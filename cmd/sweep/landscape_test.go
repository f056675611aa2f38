package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFunctionSweepReport: a sweep on the function data source runs, is
// refused with exit 2 when it sets a batch size, and its report draws the
// paths (replayed from the stored settings) on the test function: every
// setting, the best of each optimizer, and each trial's own.
func TestFunctionSweepReport(t *testing.T) {
	dir := t.TempDir()
	exp := `name: paths
dataset: {function: himmelblau, start: [0, 0]}
training: {learning_rate: 0.01, epochs: 40}
grid:
  optimizer.type: [sgd, adam]
  training.learning_rate: [0.003, 0.01]
`
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(exp, "epochs: 40", "epochs: 40, batch_size: 1", 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "validate", "bad.yaml"); r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:3: training.batch_size: does not apply to the function data source") {
		t.Fatalf("batch size: exit %d, %s", r.code, r.stderr)
	}
	if r := runCLI(t, dir, "run", "--quiet", "f.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d, %s", r.code, r.stderr)
	}
	if r := runCLI(t, dir, "report", "paths", "--out", "rep"); r.code != 0 {
		t.Fatalf("report: exit %d, %s", r.code, r.stderr)
	}
	for _, f := range []string{"img/landscape-1.png", "img/landscape-1-best.png"} {
		if _, err := os.Stat(filepath.Join(dir, "rep", f)); err != nil {
			t.Error(err)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "rep", "trials", "*-path.png"))
	if len(paths) != 4 {
		t.Errorf("%d trial path pictures, want 4", len(paths))
	}
	index, _ := os.ReadFile(filepath.Join(dir, "rep", "index.html"))
	if !strings.Contains(string(index), "Optimizer paths") {
		t.Error("the index has no optimizer paths section")
	}
}

// TestReplayMismatchRefused: a report whose replayed trial does not end
// at the stored loss (a database changed behind the run's back) draws no
// path that would not be the run's: it fails with exit 1.
func TestReplayMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	exp := "name: p\ndataset: {function: rosenbrock, start: [-1.5, 2]}\noptimizer: adam\ntraining: {learning_rate: 0.01, epochs: 20}\n"
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "run", "--quiet", "f.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d, %s", r.code, r.stderr)
	}
	conn, err := sql.Open("sqlite3", filepath.Join(dir, "sweeps.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec("UPDATE trials SET final_train_loss = final_train_loss * 2"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if r := runCLI(t, dir, "report", "p", "--out", "rep"); r.code != 1 || !strings.Contains(r.stderr, "its pictures would not be the run's") {
		t.Fatalf("report: exit %d, %s", r.code, r.stderr)
	}
}

// TestBoundaryTrialsBounded: a report replays at most MaxBoundaryTrials
// classification trials for their decision boundaries, the best of each
// optimizer first, and draws them on their pages and side by side.
func TestBoundaryTrialsBounded(t *testing.T) {
	dir := t.TempDir()
	exp := `name: b
dataset: {synthetic: xor, n: 40, noise: 0.1}
model: [{type: dense, units: 4}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 8, epochs: 3}
grid:
  optimizer.type: [sgd, adam]
  training.learning_rate: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15]
`
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "run", "--quiet", "--report", "rep", "b.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d, %s", r.code, r.stderr)
	}
	pics, _ := filepath.Glob(filepath.Join(dir, "rep", "trials", "*-boundary.png"))
	if len(pics) != MaxBoundaryTrials {
		t.Errorf("%d boundary pictures for 30 trials, want %d", len(pics), MaxBoundaryTrials)
	}
	if _, err := os.Stat(filepath.Join(dir, "rep", "img", "boundary-best.png")); err != nil {
		t.Error(err)
	}
}
