package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// growBase is a 2 × 2 grid (4 points) of short iris trials.
const growBase = `name: grow
seed: 7
repeats: 1
dataset: {builtin: iris, validation_split: 0.2}
model: [{type: dense, units: 4}, {type: relu}, {type: dense, units: 3}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 16, epochs: 2}
grid:
  training.learning_rate: [0.1, 0.05]
  model.0.units: [4, 8]
`

// keptRows is every column of the stored rows of the trials ids but their
// place (idx, point: a grown sweep may insert trials before them), and of
// their epochs and batch-loss chunks, as rowsOf writes them.
func keptRows(t *testing.T, db string, ids []string) map[string][]string {
	t.Helper()
	in := "'" + strings.Join(ids, "','") + "'"
	return map[string][]string{
		"trials":            rowsOf(t, db, `SELECT `+keptColumns(t, db)+` FROM trials WHERE id IN (`+in+`) ORDER BY id`),
		"epochs":            rowsOf(t, db, `SELECT * FROM epochs WHERE trial IN (`+in+`) ORDER BY trial, epoch`),
		"batch_loss_chunks": rowsOf(t, db, `SELECT * FROM batch_loss_chunks WHERE trial IN (`+in+`) ORDER BY trial, iteration`),
	}
}

// keptColumns lists the trials table's columns but idx and point.
func keptColumns(t *testing.T, db string) string {
	cols := rowsOf(t, db, `SELECT name FROM pragma_table_info('trials') WHERE name NOT IN ('idx', 'point') ORDER BY cid`)
	for i := range cols {
		cols[i] = strings.Trim(cols[i], `"`)
	}
	return strings.Join(cols, ", ")
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A change that only adds trials after the stored ones grows the sweep:
// the stored trials' rows (trials, epochs, batch_loss_chunks) stay byte
// for byte, the new trials run, the sweep stores the new config, and the
// grown database holds what a fresh run of the new file stores.
func TestGrowSweep(t *testing.T) {
	for _, c := range []struct {
		name, from, to string
		before, after  int
	}{
		{"a grid value at the end of the first axis", growBase,
			strings.Replace(growBase, "[0.1, 0.05]", "[0.1, 0.05, 0.01]", 1), 4, 6},
		{"random trials without a grid", growRandom(3), growRandom(5), 3, 5},
		{"include items appended", growBase + "include:\n  - {training.learning_rate: 0.3, model.0.units: 4}\n",
			growBase + "include:\n  - {training.learning_rate: 0.3, model.0.units: 4}\n  - {training.learning_rate: 0.5, model.0.units: [4, 8]}\n", 5, 7},
		{"repeats of a one-point sweep", growOnePoint(2), growOnePoint(3), 2, 3},
		{"a grid value on the last axis (trials inserted between the stored ones)", growBase,
			strings.Replace(growBase, "[4, 8]", "[4, 8, 16]", 1), 4, 6},
		{"a grid value at the front", growBase, strings.Replace(growBase, "[0.1, 0.05]", "[0.2, 0.1, 0.05]", 1), 4, 6},
		{"repeats of several points", growBase, strings.Replace(growBase, "repeats: 1", "repeats: 2", 1), 4, 8},
		{"tpe trials", growTPE(4), growTPE(7), 4, 7},
		{"random trials beside a grid", growBase + "random:\n  trials: 1\n  training.batch_size: {int_uniform: [8, 32]}\n",
			growBase + "random:\n  trials: 2\n  training.batch_size: {int_uniform: [8, 32]}\n", 4, 8},
		{"an exclude removed", growBase + "exclude:\n  - {training.learning_rate: 0.1, model.0.units: 4}\n", growBase, 3, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "from.yaml", c.from)
			writeFile(t, dir, "to.yaml", c.to)
			mustRun(t, dir, "run", "from.yaml", "--db", "grown.db", "--quiet")
			db := filepath.Join(dir, "grown.db")
			ids := rowsOf(t, db, `SELECT id FROM trials ORDER BY idx`)
			for i := range ids {
				ids[i] = strings.Trim(ids[i], `"`)
			}
			if len(ids) != c.before {
				t.Fatalf("%d trials stored, want %d", len(ids), c.before)
			}
			before := keptRows(t, db, ids)
			r := mustRun(t, dir, "run", "to.yaml", "--db", "grown.db", "--quiet")
			want := "sweep grow: grew from " + itoa(c.before) + " to " + itoa(c.after) + " trials, " + itoa(c.before) + " kept\n"
			if !strings.HasPrefix(r.stdout, want) {
				t.Fatalf("output does not start with %q:\n%s", want, r.stdout)
			}
			sameResults(t, "kept trials", keptRows(t, db, ids), before)
			if got := query(t, db, `SELECT count(*) FROM trials WHERE state = 'completed'`); got != itoa(c.after) {
				t.Fatalf("%s completed trials after growing, want %d", got, c.after)
			}
			if got := query(t, db, `SELECT config FROM sweeps`); got != c.to {
				t.Fatalf("stored config is not the new file:\n%s", got)
			}
			mustRun(t, dir, "run", "to.yaml", "--db", "fresh.db", "--quiet")
			sameResults(t, "grown against fresh", sweepResults(t, db, "grow"), sweepResults(t, filepath.Join(dir, "fresh.db"), "grow"))
			if r := mustRun(t, dir, "list", "--db", "grown.db"); strings.Contains(r.stdout, "part of the sweep") {
				t.Fatalf("the grown sweep reads as a part:\n%s", r.stdout)
			}
		})
	}
}

func growRandom(n int) string {
	return strings.Replace(growBase, "grid:\n  training.learning_rate: [0.1, 0.05]\n  model.0.units: [4, 8]\n",
		"random:\n  trials: "+itoa(n)+"\n  training.learning_rate: {log_uniform: [0.01, 0.5]}\n", 1)
}

// growTPE is growBase searched by tpe: n settings, 2 random ones first,
// then batches of 2.
func growTPE(n int) string {
	return strings.Replace(growBase, "grid:\n  training.learning_rate: [0.1, 0.05]\n  model.0.units: [4, 8]\n",
		"tpe:\n  trials: "+itoa(n)+"\n  batch: 2\n  startup: 2\n  training.learning_rate: {log_uniform: [0.01, 0.5]}\n  model.0.units: {int_uniform: [2, 8]}\n", 1)
}

func growOnePoint(repeats int) string {
	return strings.Replace(strings.Replace(growBase, "repeats: 1", "repeats: "+itoa(repeats), 1),
		"grid:\n  training.learning_rate: [0.1, 0.05]\n  model.0.units: [4, 8]\n", "grid:\n  training.learning_rate: [0.1]\n", 1)
}

// A change that would alter a stored trial is refused with exit 2, a
// message naming what changed and --force, and writes nothing.
func TestGrowSweepRefused(t *testing.T) {
	for _, c := range []struct{ name, from, to, msg string }{
		{"a changed base setting", growBase,
			strings.Replace(strings.Replace(growBase, "epochs: 2", "epochs: 3", 1), "[0.1, 0.05]", "[0.1, 0.05, 0.01]", 1),
			"(it changes training.epochs: 2 → 3: "},
		{"tpe repeats", growTPE(4), strings.Replace(growTPE(4), "repeats: 1", "repeats: 2", 1),
			"(it changes repeats: 1 → 2: a tpe sweep grows only by a larger tpe.trials"},
		{"fewer tpe trials", growTPE(7), growTPE(4), "(it changes tpe.trials: 7 → 4: a sweep grows, it does not shrink"},
		{"another tpe space", growTPE(4), strings.Replace(growTPE(7), "0.01, 0.5", "0.02, 0.5", 1),
			"(it changes tpe.training.learning_rate.log_uniform.0: 0.01 → 0.02"},
		{"a changed random distribution", growRandom(3),
			strings.Replace(growRandom(5), "0.01, 0.5", "0.02, 0.5", 1), "(index 0, point 0, repeat 0) is not planned any more"},
		{"a removed grid value", strings.Replace(growBase, "[0.1, 0.05]", "[0.1, 0.05, 0.01]", 1), growBase,
			"(index 4, point 4, repeat 0) is not planned any more"},
		{"a pruner", growBase + "pruner: {type: asha, min_epochs: 1, eta: 3}\n",
			strings.Replace(growBase, "[0.1, 0.05]", "[0.1, 0.05, 0.01]", 1) + "pruner: {type: asha, min_epochs: 1, eta: 3}\n",
			"the sweep has a pruner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "from.yaml", c.from)
			writeFile(t, dir, "to.yaml", c.to)
			mustRun(t, dir, "run", "from.yaml", "--db", "s.db", "--quiet")
			db := filepath.Join(dir, "s.db")
			before := dumpAll(t, db)
			r := runEnv(t, dir, nil, "run", "to.yaml", "--db", "s.db", "--quiet")
			if r.code != 2 || !strings.Contains(r.stderr, c.msg) || !strings.Contains(r.stderr, "use --force") {
				t.Fatalf("exit %d, want 2 with %q and --force:\n%s%s", r.code, c.msg, r.stdout, r.stderr)
			}
			after := dumpAll(t, db)
			delete(before, "sweeps") // updated_at: the run prepared it
			delete(after, "sweeps")
			sameResults(t, "refused growth", after, before)
			if got := query(t, db, `SELECT config FROM sweeps`); got != c.from {
				t.Fatalf("the refused config was stored:\n%s", got)
			}
		})
	}
}

// Shards of a grown sweep, each grown in its own database, merge into what
// one unsharded run of the new file stores.
func TestGrowShardsMerge(t *testing.T) {
	dir := t.TempDir()
	to := strings.Replace(growBase, "[0.1, 0.05]", "[0.1, 0.05, 0.01]", 1)
	writeFile(t, dir, "from.yaml", growBase)
	writeFile(t, dir, "to.yaml", to)
	for _, s := range []string{"0/2", "1/2"} {
		mustRun(t, dir, "run", "from.yaml", "--db", "shard-"+s[:1]+".db", "--shard", s, "--quiet")
		r := mustRun(t, dir, "run", "to.yaml", "--db", "shard-"+s[:1]+".db", "--shard", s, "--quiet")
		if !strings.Contains(r.stdout, "grew from 4 to 6 trials, 2 kept") {
			t.Fatalf("shard %s:\n%s", s, r.stdout)
		}
	}
	mustRun(t, dir, "merge", "merged.db", "shard-0.db", "shard-1.db")
	mustRun(t, dir, "run", "to.yaml", "--db", "fresh.db", "--quiet")
	sameResults(t, "merged grown shards", sweepResults(t, filepath.Join(dir, "merged.db"), "grow"),
		sweepResults(t, filepath.Join(dir, "fresh.db"), "grow"))
}
