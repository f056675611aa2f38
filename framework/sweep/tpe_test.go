package sweep_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// tpeSrc is a tpe sweep: 6 random settings, then batches of 3, 2 repeats,
// over a range where some settings diverge (learning rates up to 30).
const tpeSrc = `name: tpe-test
seed: 5
dataset: {builtin: iris, validation_split: 0.2, standardize: true}
model:
  - {type: dense, units: 8, init: he}
  - {type: relu}
  - {type: dense, units: 3}
loss: cross_entropy
optimizer: {type: momentum, momentum: 0.9}
training: {learning_rate: 0.1, batch_size: 16, epochs: 4}
repeats: 2
tpe:
  trials: 14
  batch: 3
  startup: 6
  training.learning_rate: {log_uniform: [0.001, 30]}
  optimizer.momentum: {uniform: [0, 0.99]}
  model.0.units: {int_uniform: [2, 12]}
`

// runStored runs text against a fresh database with the workers given and
// returns what the store kept.
func runStored(t *testing.T, text string, workers int) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	p := prepare(t, text)
	if _, err := sweep.Run(context.Background(), p, sweep.Options{Workers: workers, Store: st}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return stored(t, db, p.Exp.Name)
}

// A tpe sweep is bit-identical with 1 and 2 workers, and proposes the same
// settings (the same trial ids) with the store and without one.
func TestTPESweepSameWithAnyWorkers(t *testing.T) {
	one := runStored(t, tpeSrc, 1)
	two := runStored(t, tpeSrc, 2)
	if n := strings.Count(one, "\ntrial ") + 1; n != 28 {
		t.Fatalf("%d trials stored, want 14 settings × 2 repeats:\n%s", n, one)
	}
	if one != two {
		t.Errorf("2 workers differ from 1%s", firstDiff(one, two))
	}
	c, sum, err := runWith(t, tpeSrc, 3)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Planned != 28 || len(c.outcomes) != 28 {
		t.Fatalf("without a store: planned %d, %d outcomes", sum.Planned, len(c.outcomes))
	}
	for id := range c.outcomes {
		if !strings.Contains(one, " "+id+" ") {
			t.Errorf("without a store, trial %s was proposed: the stored sweep has no such trial", id)
		}
	}
}

// The batches after the startup are proposed by TPE, not sampled: they
// differ from random search's samples with the same seed, and they lean
// towards the startup's better learning rates.
func TestTPESweepProposesFromResults(t *testing.T) {
	p := prepare(t, tpeSrc)
	if len(p.Plans) != 12 {
		t.Fatalf("%d trials known before the run, want the 6 startup settings × 2", len(p.Plans))
	}
	c := newCollector()
	if _, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2, Sinks: []framework.Sink{c}}); err != nil {
		t.Fatal(err)
	}
	if len(p.Plans) != 28 || p.Plans[27].Point != 13 || p.Plans[27].Index != 27 {
		t.Fatalf("after the run: %d trials, last %+v", len(p.Plans), p.Plans[len(p.Plans)-1])
	}
	random := prepare(t, strings.Replace(strings.Replace(tpeSrc, "tpe:", "random:", 1), "  batch: 3\n  startup: 6\n", "", 1))
	for i := 12; i < 28; i += 2 {
		if p.Plans[i].Params["training.learning_rate"] == random.Plans[i].Params["training.learning_rate"] {
			t.Errorf("trial %d's learning rate is random search's sample", i)
		}
	}
}

// A tpe sweep interrupted at any moment (in the startup, inside a batch,
// several times) and resumed ends exactly as the uninterrupted one: the
// resumed run re-derives the earlier batches from the stored results. With
// a pruner too.
func TestTPESweepResumesExactly(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"pool", tpeSrc},
		{"asha", tpeSrc + "pruner: {type: asha, min_epochs: 1, eta: 3}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := prepare(t, c.text).Exp.Name
			whole := filepath.Join(t.TempDir(), "whole.db")
			runInterrupted(t, c.text, whole, "", nil)
			want := stored(t, whole, name)
			if c.name == "asha" && !strings.Contains(want, " pruned pruned ") {
				t.Fatalf("the pruner prunes nothing:\n%s", want)
			}
			for _, s := range []struct {
				kind  string
				stops []int64
			}{
				{"finish", []int64{3}}, {"finish", []int64{13}}, {"finish", []int64{20}},
				{"finish", []int64{7, 7, 7}}, {"epoch", []int64{30}}, {"epoch", []int64{70}},
			} {
				db := filepath.Join(t.TempDir(), "resumed.db")
				runInterrupted(t, c.text, db, s.kind, s.stops)
				if got := stored(t, db, name); got != want {
					t.Errorf("interrupted at %s %v and resumed: differs from the uninterrupted sweep%s", s.kind, s.stops, firstDiff(want, got))
				}
			}
		})
	}
}

// --shard cannot split a tpe sweep.
func TestTPERefusesShards(t *testing.T) {
	_, err := sweep.Run(context.Background(), prepare(t, tpeSrc), sweep.Options{Workers: 1, Shard: 0, Shards: 2})
	if err == nil || !strings.Contains(err.Error(), "tpe: a tpe sweep cannot be sharded") {
		t.Fatalf("got %v", err)
	}
}
