package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keep_best says what it kept, or that there was nothing to keep; 'best'
// refuses a metric the sweep cannot have (exit 2) and never prints NaN.
func TestKeepBestAndMetricsThatDoNotApply(t *testing.T) {
	dir := workdir(t, "small.yaml")
	src, err := os.ReadFile(filepath.Join(dir, "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kept := strings.Replace(string(src), "repeats: 2\n", "repeats: 1\nkeep_best: true\n", 1)
	blown := strings.Replace(strings.Replace(kept, "name: small", "name: blown", 1),
		"training.learning_rate: [0.01, 0.1, 1.0]", "training.learning_rate: [1.0e+9]", 1)
	for name, text := range map[string]string{"kept.yaml": kept, "blown.yaml": blown} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, dir, "run", "kept.yaml", "--quiet")
	if r.code != 0 || !strings.Contains(r.stdout, "keep_best: the best trial of this run (by its own val_loss) saved to "+filepath.Join(".", "small.best.safetensors")) {
		t.Errorf("kept: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, dir, "run", "blown.yaml", "--quiet")
	if r.code != 0 || !strings.Contains(r.stdout, "keep_best: nothing kept: no trial of this run completed with a finite val_loss") ||
		!strings.Contains(r.stdout, "no setting has a val_loss: every repeat of every setting diverged or failed") {
		t.Errorf("nothing to keep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "blown.best.safetensors")); err == nil {
		t.Error("a weights file for a sweep where every trial diverged")
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"best", "small", "--metric", "time_to_target"}, 2, "time_to_target needs training.stop.target_loss"},
		{[]string{"best", "small", "--metric", "val_acc"}, 2, `unknown metric "val_acc"`},
		{[]string{"best", "small", "--metric", "val_accuracy"}, 0, "best val_accuracy (mean over 1 repeat)"},
		{[]string{"best", "blown"}, 0, "every repeat diverged"},
		{[]string{"list"}, 0, "blown"},
	} {
		r := runCLI(t, dir, c.args...)
		if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) || strings.Contains(r.stdout+r.stderr, "NaN") {
			t.Errorf("sweep %v: exit %d, want %d and …%s…\n%s%s", c.args, r.code, c.code, c.want, r.stdout, r.stderr)
		}
	}
}
