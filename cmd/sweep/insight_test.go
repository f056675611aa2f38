package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// best --importance and --pareto on a real sweep: text and JSON agree,
// the shares sum to 1, the front is not dominated, and bad flags exit 2.
func TestBestImportanceAndPareto(t *testing.T) {
	dir := workdir(t, "small.yaml")
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, dir, "best", "small", "--importance")
	if r.code != 0 || !strings.Contains(r.stdout, "importance of val_loss") || !strings.Contains(r.stdout, "method: ") ||
		!strings.Contains(r.stdout, "training.learning_rate") {
		t.Errorf("--importance: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, dir, "best", "small", "--importance", "--json")
	var imp importanceJSON
	if err := json.Unmarshal([]byte(r.stdout), &imp); err != nil || r.code != 0 {
		t.Fatalf("--importance --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	sum := 0.0
	for _, x := range imp.Importances {
		sum += x.Share
	}
	if math.Abs(sum-1) > 1e-9 || imp.Method == "" || imp.Treatment == "" || len(imp.Settings) == 0 {
		t.Errorf("importance JSON: sum %v, %+v", sum, imp)
	}

	r = runCLI(t, dir, "best", "small", "--pareto", "val_loss,iterations", "--json")
	var pa paretoJSON
	if err := json.Unmarshal([]byte(r.stdout), &pa); err != nil || r.code != 0 {
		t.Fatalf("--pareto --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	front := 0
	for _, p := range pa.Points {
		if p.Front != (len(p.DominatedBy) == 0) {
			t.Errorf("point %d: front %v, dominated by %v", p.Point, p.Front, p.DominatedBy)
		}
		if p.Front {
			front++
		}
	}
	if front != pa.Front || front == 0 || pa.Metrics != [2]string{"val_loss", "iterations"} {
		t.Errorf("pareto JSON: %+v", pa)
	}
	r = runCLI(t, dir, "best", "small", "--pareto", "val_loss,seconds")
	if r.code != 0 || !strings.Contains(r.stdout, "the Pareto front of val_loss (lower is better) against seconds") ||
		!strings.Contains(r.stdout, "DOMINATED BY") {
		t.Errorf("--pareto: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--pareto", "val_loss"}, "two measures separated by a comma"},
		{[]string{"--pareto", "val_loss,secs"}, `unknown measure "secs"`},
		{[]string{"--pareto", "val_loss,val_loss"}, "two different measures"},
		{[]string{"--pareto", "val_loss,time_to_target"}, "time_to_target needs training.stop.target_loss"},
		{[]string{"--pareto", "val_loss,seconds", "--metric", "val_loss"}, "--metric does not apply with --pareto"},
		{[]string{"--pareto", "val_loss,seconds", "--importance"}, "choose one"},
	} {
		r := runCLI(t, dir, append([]string{"best", "small"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("best %v: exit %d, want 2 and …%s…\n%s%s", c.args, r.code, c.want, r.stdout, r.stderr)
		}
	}
}
