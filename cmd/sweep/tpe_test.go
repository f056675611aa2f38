package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ranHere is how many trials a run's summary says it trained.
func ranHere(out string) int {
	m := regexp.MustCompile(`sweep tpe: completed (\d+)`).FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A tpe sweep stores the same results, bit for bit, with 1 and 2 workers,
// with two processes sharing the database, and interrupted by Ctrl-C and
// resumed; validate, best, list and report work on it, and --shard is
// refused.
func TestTPESweepCLI(t *testing.T) {
	dir := workdir(t, "tpe.yaml")
	r := mustRun(t, dir, "validate", "tpe.yaml")
	if !strings.Contains(r.stdout, "20 trials (tpe: 10 settings × 2 repeats, 4 of them random, then batches of 3)") {
		t.Errorf("validate: %s", r.stdout)
	}
	mustRun(t, dir, "run", "tpe.yaml", "--db", "alone.db", "--workers", "1", "--quiet")
	want := sweepResults(t, filepath.Join(dir, "alone.db"), "tpe")
	if n := len(want["trials"]); n != 20 {
		t.Fatalf("%d trials stored, want 20", n)
	}

	mustRun(t, dir, "run", "tpe.yaml", "--db", "two.db", "--workers", "2", "--quiet")
	sameResults(t, "2 workers", sweepResults(t, filepath.Join(dir, "two.db"), "tpe"), want)

	// two processes at once: each proposes every batch (the same one) from
	// the stored results, or finds it registered by the other
	shared := filepath.Join(dir, "shared.db")
	a, outA := startRun(t, dir, "tpe.yaml", "--db", "shared.db", "--workers", "1", "--quiet")
	b := runCLI(t, dir, "run", "tpe.yaml", "--db", "shared.db", "--workers", "1", "--quiet")
	if err := a.Wait(); err != nil || b.code != 0 {
		t.Fatalf("two processes: %v, exit %d\n%s\n%s%s", err, b.code, outA, b.stdout, b.stderr)
	}
	nA, nB := ranHere(outA.String()), ranHere(b.stdout)
	t.Logf("two processes: %d and %d trials", nA, nB)
	if nA+nB != 20 || nA == 0 || nB == 0 {
		t.Errorf("the processes trained %d and %d trials, want 20 between them, some in each", nA, nB)
	}
	sameResults(t, "two processes", sweepResults(t, shared, "tpe"), want)
	integrity(t, shared)

	// Ctrl-C after the startup trials, then the same command again
	resumed := filepath.Join(dir, "resumed.db")
	c, outC := startRun(t, dir, "tpe.yaml", "--db", "resumed.db", "--workers", "2", "--quiet")
	waitFinished(t, resumed, 9)
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err == nil {
		t.Logf("finished before the interrupt:\n%s", outC)
	}
	left := query(t, resumed, "SELECT count(*) FROM trials WHERE state NOT IN ('completed', 'diverged')")
	if total := query(t, resumed, "SELECT count(*) FROM trials"); left == "0" && total == "20" {
		t.Fatalf("the sweep had finished before the interrupt: nothing to resume")
	}
	mustRun(t, dir, "run", "tpe.yaml", "--db", "resumed.db", "--workers", "2", "--quiet")
	sameResults(t, "interrupted and resumed", sweepResults(t, resumed, "tpe"), want)

	r = mustRun(t, dir, "best", "tpe", "--db", "alone.db")
	if !strings.Contains(r.stdout, "best val_loss (mean over 2 repeats)") || !strings.Contains(r.stdout, "training.learning_rate=") {
		t.Errorf("best:\n%s", r.stdout)
	}
	if r = mustRun(t, dir, "list", "--db", "alone.db"); !strings.Contains(r.stdout, "completed 20") {
		t.Errorf("list:\n%s", r.stdout)
	}
	mustRun(t, dir, "report", "tpe", "--db", "alone.db", "--out", "rep")
	if _, err := os.Stat(filepath.Join(dir, "rep", "index.html")); err != nil {
		t.Error(err)
	}

	r = runCLI(t, dir, "run", "tpe.yaml", "--db", "shard.db", "--shard", "0/2")
	if r.code != 2 || !strings.Contains(r.stderr, "a tpe sweep cannot be sharded") {
		t.Errorf("--shard: exit %d: %s", r.code, r.stderr)
	}
}
