package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// divergeYAML has one setting that diverges (a finite loss exploding past
// diverge_factor, at iteration 114) and one that completes, with every
// 50th batch loss recorded.
const divergeYAML = `name: div
seed: 1
dataset: {synthetic: linear, n: 200, noise: 0.1, validation_split: 0.2, standardize: true}
model:
  - {type: dense, units: 1}
loss: mse
training: {learning_rate: 0.1, batch_size: 1, epochs: 3, shuffle: false}
grid:
  training.learning_rate: [0.15, 0.255]
record: {batch_loss_every: 50}
`

// A diverged trial keeps its last 32 batch losses, up to and including
// the diverging one, whatever record.batch_loss_every; last_finite_loss is
// the loss of the update before the diverging one, and is NULL for a
// trial that did not diverge.
func TestDivergedTrialKeepsItsLastLosses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "div.yaml"), []byte(divergeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "run", "div.yaml", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(dir, "sweeps.db")
	div := strings.Split(query(t, db, `SELECT id || '|' || diverged_iteration || '|' || last_finite_loss FROM trials WHERE state = 'diverged'`), "|")
	if len(div) != 3 {
		t.Fatalf("diverged trials: %v, want one", div)
	}
	id, d := div[0], atoi(t, div[1])
	if d < 100 {
		t.Fatalf("diverged at iteration %d: the case wants more than 2 × batch_loss_every before", d)
	}
	var want []string
	for i := 1; i <= d; i++ {
		if (i-1)%50 == 0 || i > d-32 {
			want = append(want, strconv.Itoa(i))
		}
	}
	got := query(t, db, `SELECT group_concat(iteration, ',') FROM (SELECT iteration FROM batch_loss WHERE trial = '`+id+`' ORDER BY iteration)`)
	if got != strings.Join(want, ",") {
		t.Errorf("stored iterations %s, want %s", got, strings.Join(want, ","))
	}
	same := query(t, db, `SELECT (b.value = t.last_finite_loss) || '|' || (a.value > b.value) FROM trials t
		JOIN batch_loss b ON b.trial = t.id AND b.iteration = t.diverged_iteration - 1
		JOIN batch_loss a ON a.trial = t.id AND a.iteration = t.diverged_iteration WHERE t.id = '`+id+`'`)
	if same != "1|1" {
		t.Errorf("last_finite_loss equals iteration %d's loss | the diverging iteration's loss is larger: %q, want 1|1", d-1, same)
	}
	done := query(t, db, `SELECT count(*) || '|' || sum(t.last_finite_loss IS NULL AND t.last_finite_loss_nonfinite IS NULL) || '|' ||
		sum((SELECT count(*) FROM batch_loss b WHERE b.trial = t.id AND (b.iteration - 1) % 50 != 0))
		FROM trials t WHERE state = 'completed'`)
	if done != "1|1|0" {
		t.Errorf("completed trials | with last_finite_loss NULL | unthinned batch losses = %s, want 1|1|0", done)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
