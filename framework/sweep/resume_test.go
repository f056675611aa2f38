package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// interrupter cancels the run at its k-th event of a kind ("epoch" or
// "finish"), as Ctrl-C or SIGTERM would.
type interrupter struct {
	kind   string
	k      int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (i *interrupter) tick(kind string) {
	if kind == i.kind && i.n.Add(1) == i.k {
		i.cancel()
	}
}
func (i *interrupter) SweepStarted(framework.SweepInfo, []framework.TrialPlan)          {}
func (i *interrupter) TrialStarted(*framework.TrialPlan)                                {}
func (i *interrupter) Iteration(*framework.TrialPlan, framework.IterationStats)         {}
func (i *interrupter) Epoch(*framework.TrialPlan, framework.EpochStats)                 { i.tick("epoch") }
func (i *interrupter) TrialFinished(*framework.TrialPlan, framework.TrialOutcome)       { i.tick("finish") }
func (i *interrupter) SweepFinished(info framework.SweepInfo, _ framework.SweepSummary) {}

// stored is every number of the sweep the store kept that does not depend
// on timing: each trial's state and counters, its epochs' metrics and its
// batch losses (floats in the shortest form that reads back to the same
// bits).
func stored(t *testing.T, db, name string) string {
	t.Helper()
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.LoadSweep(name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, td := range d.Trials {
		fmt.Fprintf(&b, "trial %d %s %s %s epochs=%d iterations=%d samples=%d diverged=%d final=%v/%v best=%v\n",
			td.Plan.Index, td.Plan.ID, td.Status, td.StopReason, td.Epochs, td.Iterations, td.Samples,
			td.DivergedIteration, td.Final.TrainLoss, td.Final.ValLoss, td.BestValLoss)
		for _, e := range td.EpochSeries {
			fmt.Fprintf(&b, "  epoch %d %d %d %v %v %v %v\n", e.Epoch, e.Iteration, e.Samples,
				e.TrainLoss, e.ValLoss, e.TrainAccuracy, e.ValAccuracy)
		}
		for _, l := range td.BatchLoss {
			fmt.Fprintf(&b, "  batch %d %d %d %v\n", l.Iteration, l.Epoch, l.BatchSize, l.Loss)
		}
	}
	return b.String()
}

// runInterrupted runs the sweep against db, interrupting the i-th run at
// its stops[i]-th event of the kind, then resumes until it completes. It
// reports whether some interruption left trials to run again.
func runInterrupted(t *testing.T, text, db, kind string, stops []int64) bool {
	t.Helper()
	cut := false
	for attempt := 0; ; attempt++ {
		if attempt > len(stops)+1 {
			t.Fatalf("the sweep did not complete after %d runs", attempt)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var sinks []framework.Sink
		if attempt < len(stops) {
			sinks = append(sinks, &interrupter{kind: kind, k: stops[attempt], cancel: cancel})
		}
		st, err := sqlite.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sweep.Run(ctx, prepare(t, text), sweep.Options{Workers: 2, Store: st, Sinks: sinks})
		cancel()
		if cerr := st.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err == nil {
			return cut
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if attempt >= len(stops) {
			t.Fatalf("run %d was not interrupted but ended with %v", attempt, err)
		}
		if strings.Contains(stored(t, db, prepare(t, text).Exp.Name), " interrupted ") {
			cut = true
		}
	}
}

// A pruned sweep interrupted at any moment (inside a rung, between rungs,
// after the last rung, several times) and resumed ends exactly as the
// uninterrupted one: the same states, the same pruned trials, and the same
// series to the bit, for successive halving and for the median rule.
func TestPrunedSweepResumesExactly(t *testing.T) {
	for _, c := range []struct {
		name, text string
	}{
		{"asha", strings.Replace(src, "epochs: 6}", "epochs: 9}", 1) + "pruner: {type: asha, min_epochs: 1, eta: 3}\n"},
		{"median", src + "pruner: {type: median, warmup_epochs: 2, startup_trials: 4}\n"},
		// trials that stop early, some at a rung's epoch, are not in that rung
		{"asha-early-stopping", strings.Replace(src, "epochs: 6}", "epochs: 9, stop: {patience: 1, min_delta: 0.02}}", 1) +
			"pruner: {type: asha, min_epochs: 1, eta: 2}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := prepare(t, c.text).Exp.Name
			whole := filepath.Join(t.TempDir(), "whole.db")
			runInterrupted(t, c.text, whole, "", nil)
			want := stored(t, whole, name)
			if !strings.Contains(want, " pruned pruned ") || !strings.Contains(want, " completed ") ||
				strings.Contains(c.text, "patience") && !strings.Contains(want, " early_stopping ") {
				t.Fatalf("the uninterrupted sweep prunes nothing or completes nothing:\n%s", want)
			}
			epochs := int64(strings.Count(want, "\n  epoch "))
			trials := int64(strings.Count(want, "\ntrial ") + 1)
			for _, s := range []struct {
				kind  string
				stops []int64
			}{
				{"epoch", []int64{1}}, {"epoch", []int64{5}}, {"epoch", []int64{epochs / 3}}, {"epoch", []int64{epochs / 2}},
				{"epoch", []int64{epochs - 5}}, {"epoch", []int64{epochs - 2}}, {"epoch", []int64{epochs / 4, epochs / 4, epochs / 4}},
				{"finish", []int64{1}}, {"finish", []int64{trials / 4}}, {"finish", []int64{trials / 2}},
				{"finish", []int64{trials / 6, trials / 6, trials / 6}},
			} {
				db := filepath.Join(t.TempDir(), "resumed.db")
				if !runInterrupted(t, c.text, db, s.kind, s.stops) {
					t.Errorf("interrupted at %s %v: no trial was cut short, the case tests nothing", s.kind, s.stops)
					continue
				}
				if got := stored(t, db, name); got != want {
					t.Errorf("interrupted at %s %v and resumed: differs from the uninterrupted sweep%s", s.kind, s.stops, firstDiff(want, got))
				}
			}
		})
	}
}

// firstDiff shows the first line where got differs from want.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf(" at line %d:\nwant %s\n got %s", i+1, a, b)
		}
	}
	return ""
}
