package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework/safetensors"
)

// waitFor waits until cond holds, polling, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A pruned sweep stopped by SIGTERM or kill -9 at several moments (inside
// the first rung, after a rung's decisions) and resumed stores exactly what
// an uninterrupted run stores: the same states, the same pruned trials, and
// every per-epoch metric and batch loss to the bit. For successive halving
// and for the median rule.
func TestPrunedSweepInterruptedAndResumed(t *testing.T) {
	asha, err := os.ReadFile("testdata/pruned.yaml")
	if err != nil {
		t.Fatal(err)
	}
	median := strings.Replace(string(asha), "pruner: {type: asha, min_epochs: 1, eta: 3}",
		"pruner: {type: median, warmup_epochs: 1, startup_trials: 4}", 1)
	for _, c := range []struct{ name, text string }{{"asha", string(asha)}, {"median", median}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pruned.yaml"), []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			mustRun(t, dir, "run", "pruned.yaml", "--db", "whole.db", "--quiet")
			want := sweepResults(t, filepath.Join(dir, "whole.db"), "pruned")
			if s := strings.Join(want["trials"], "\n"); !strings.Contains(s, `"pruned"`) || !strings.Contains(s, `"completed"`) {
				t.Fatalf("the uninterrupted sweep prunes or completes nothing:\n%s", s)
			}
			for _, moment := range []struct {
				name string
				sig  syscall.Signal
				// wait returns when the run is where it is to be stopped
				wait func(db string, out *bytes.Buffer) bool
			}{
				{"SIGTERM in the first rung", syscall.SIGTERM, inFirstRung},
				{"SIGTERM after the first decisions", syscall.SIGTERM, afterFirstDecisions},
				{"kill -9 in the first rung", syscall.SIGKILL, inFirstRung},
				{"kill -9 after the first decisions", syscall.SIGKILL, afterFirstDecisions},
			} {
				db := filepath.Join(dir, strings.ReplaceAll(moment.name, " ", "-")+".db")
				cmd := exec.Command(binary, "run", "pruned.yaml", "--db", db, "--workers", "2")
				cmd.Dir = dir
				out := &syncBuffer{}
				cmd.Stdout, cmd.Stderr = out, out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				waitFor(t, moment.name, func() bool { return moment.wait(db, out.snapshot()) })
				cmd.Process.Signal(moment.sig)
				err := cmd.Wait()
				if ee, ok := err.(*exec.ExitError); !ok {
					t.Logf("%s: the run ended before the signal (%v): nothing was cut short", moment.name, err)
				} else if moment.sig == syscall.SIGTERM && ee.ExitCode() != exitInterrupted {
					t.Fatalf("%s: exit %d\n%s", moment.name, ee.ExitCode(), out.snapshot())
				}
				integrity(t, db)
				left := query(t, db, "SELECT count(*) FROM trials WHERE state NOT IN ('completed', 'pruned', 'diverged', 'failed')")
				if r := runCLI(t, dir, "run", "pruned.yaml", "--db", db, "--quiet"); r.code != 0 {
					t.Fatalf("%s: resume: exit %d\n%s", moment.name, r.code, r.stderr)
				}
				if left == "0" {
					t.Logf("%s: no trial was cut short", moment.name)
				}
				sameResults(t, c.name+", "+moment.name+" and resumed", sweepResults(t, db, "pruned"), want)
			}
		})
	}
}

// inFirstRung is true a little after the run claimed its trials: while
// they train to the first rung.
func inFirstRung(db string, _ *bytes.Buffer) bool {
	if n, err := tryQuery(db, "SELECT count(*) FROM trials WHERE state = 'running'"); err != nil || n == "0" {
		return false
	}
	time.Sleep(30 * time.Millisecond)
	return true
}

// afterFirstDecisions is true once the run reported a pruned trial.
func afterFirstDecisions(_ string, out *bytes.Buffer) bool {
	return strings.Contains(out.String(), " pruned ")
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) snapshot() *bytes.Buffer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.NewBuffer(append([]byte(nil), b.buf.Bytes()...))
}

// --force while another process runs the sweep is refused (exit 2, naming
// the sweep), and the running process goes on with its configuration; once
// it is gone, --force replaces the sweep and every trial stored after is of
// the new configuration.
func TestForceWhileAnotherProcessRuns(t *testing.T) {
	dir := workdir(t, "slow.yaml")
	db := filepath.Join(dir, "sweeps.db")
	text, err := os.ReadFile(filepath.Join(dir, "slow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(text), "epochs: 20}", "epochs: 19}", 1)
	if err := os.WriteFile(filepath.Join(dir, "slow19.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	a, out := startRun(t, dir, "slow.yaml", "--workers", "1", "--quiet")
	waitFinished(t, db, 1)
	hash := query(t, db, "SELECT config_hash FROM sweeps")
	r := runCLI(t, dir, "run", "slow19.yaml", "--force", "--quiet")
	if r.code != 2 || !strings.Contains(r.stderr, `sweep "slow" is being run by another process`) ||
		!strings.Contains(r.stderr, "--force cannot replace it now") {
		t.Fatalf("--force while another process runs the sweep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := query(t, db, "SELECT config_hash FROM sweeps"); got != hash {
		t.Fatalf("the refused --force changed the config hash: %s → %s", hash, got)
	}
	a.Process.Signal(syscall.SIGTERM)
	a.Wait()
	if got := query(t, db, "SELECT count(*) FROM trials WHERE state = 'completed' AND epochs != 20"); got != "0" {
		t.Fatalf("%s trials of the first process have other than 20 epochs\n%s", got, out)
	}

	b, _ := startRun(t, dir, "slow19.yaml", "--force", "--workers", "1", "--quiet")
	waitFor(t, "a trial of the new configuration", func() bool {
		n, err := tryQuery(db, "SELECT count(*) FROM trials t JOIN sweeps s ON s.name = t.sweep WHERE t.state = 'completed' AND s.config_hash != '"+hash+"'")
		return err == nil && n != "0"
	})
	b.Process.Signal(syscall.SIGTERM)
	b.Wait()
	if got := query(t, db, "SELECT count(*) FROM trials WHERE state = 'completed' AND epochs != 19"); got != "0" {
		t.Fatalf("%s trials under the new configuration have other than 19 epochs: %s", got,
			query(t, db, "SELECT group_concat(idx || ':' || epochs || ':' || stop_reason || ':' || owner, ' ') FROM trials WHERE state = 'completed'"))
	}
}

// A data file (csv, init_from) rewritten between two runs of a sweep is
// refused on resume (exit 2, naming the file and both hashes) until
// --force; the same files moved elsewhere with the experiment are the same
// data.
func TestChangedDataFileRefusedOnResume(t *testing.T) {
	dir := t.TempDir()
	writeCSV := func(shift float64) {
		var b strings.Builder
		b.WriteString("x1,x2,y\n")
		for i := range 40 {
			x1, x2 := float64(i%7)/7+shift, float64(i%5)/5
			y := 0
			if x1+x2 > 1 {
				y = 1
			}
			b.WriteString(strconv.FormatFloat(x1, 'g', -1, 64) + "," + strconv.FormatFloat(x2, 'g', -1, 64) + "," + strconv.Itoa(y) + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, "data.csv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeInit := func(w float32) {
		err := safetensors.WriteFile(filepath.Join(dir, "init.safetensors"), map[string]safetensors.Tensor{
			"0.weight": {Shape: []int{2, 2}, Data: []float32{w, -w, 0.5, 0.25}},
			"0.bias":   {Shape: []int{2}, Data: []float32{0, 0.1}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	writeCSV(0)
	writeInit(0.5)
	exp := `name: csvdata
dataset: {csv: data.csv, target: y, task: classification}
model:
  - {type: dense, units: 2}
loss: cross_entropy
init_from: init.safetensors
training: {learning_rate: 0.1, batch_size: 8, epochs: 2}
grid:
  training.learning_rate: [0.1, 0.2]
`
	if err := os.WriteFile(filepath.Join(dir, "exp.yaml"), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "sweeps.db")
	mustRun(t, dir, "run", "exp.yaml", "--quiet")
	dataID := query(t, db, "SELECT data_id FROM sweeps")
	if strings.Count(dataID, "\n") != 1 || !strings.Contains(dataID, "init.safetensors") || !strings.Contains(dataID, "data.csv") {
		t.Fatalf("data_id %q", dataID)
	}

	// The experiment and its files, moved: the same data.
	moved := t.TempDir()
	for _, f := range []string{"exp.yaml", "data.csv", "init.safetensors"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(moved, f))
	}
	if r := runCLI(t, moved, "run", "exp.yaml", "--db", db, "--quiet"); r.code != 0 || !strings.Contains(r.stdout, "nothing left to run") {
		t.Fatalf("resume of the moved experiment: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		file   string
		change func()
	}{{"data.csv", func() { writeCSV(0.01) }}, {"init.safetensors", func() { writeInit(0.75) }}} {
		c.change()
		before := dumpAll(t, db)
		r := runCLI(t, dir, "run", "exp.yaml", "--quiet")
		if r.code != 2 || !strings.Contains(r.stderr, "data file "+c.file+" changed since the sweep was stored (sha256 ") ||
			!strings.Contains(r.stderr, "use --force or rename the sweep") || !strings.Contains(r.stderr, `"csvdata"`) {
			t.Fatalf("%s changed: exit %d\n%s%s", c.file, r.code, r.stdout, r.stderr)
		}
		sameResults(t, "a refused resume", dumpAll(t, db), before)
		mustRun(t, dir, "run", "exp.yaml", "--force", "--quiet")
		if got := query(t, db, "SELECT count(*) FROM trials WHERE state = 'completed'"); got != "2" {
			t.Fatalf("after --force: %s trials completed", got)
		}
	}
}

// A pruned sweep runs in one process at a time: a second process exits 2
// while the first holds its trials, and the first ends as if alone.
func TestPrunedSweepRefusesASecondProcess(t *testing.T) {
	dir := workdir(t, "pruned.yaml")
	mustRun(t, dir, "run", "pruned.yaml", "--db", "alone.db", "--quiet")
	db := filepath.Join(dir, "sweeps.db")
	a, out := startRun(t, dir, "pruned.yaml", "--workers", "1", "--quiet")
	waitFor(t, "the first process's claim", func() bool {
		n, err := tryQuery(db, "SELECT count(*) FROM trials WHERE state = 'running'")
		return err == nil && n != "0"
	})
	r := runCLI(t, dir, "run", "pruned.yaml", "--quiet")
	if r.code != 2 || !strings.Contains(r.stderr, `sweep "pruned" is being run by another process`) ||
		!strings.Contains(r.stderr, "one process at a time") {
		t.Fatalf("second process: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("first process: %v\n%s", err, out)
	}
	sameResults(t, "the first process", sweepResults(t, db, "pruned"), sweepResults(t, filepath.Join(dir, "alone.db"), "pruned"))
}
