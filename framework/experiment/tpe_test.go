package experiment_test

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework/experiment"
)

const tpeSpace = `  training.learning_rate: {log_uniform: [0.001, 1]}
  model.0.units: {int_uniform: [2, 16]}
  optimizer.type: {choice: [sgd, momentum]}
`

// A tpe section: defaults, the planned count, the startup settings (random
// search's first samples) and the batches proposed after them.
func TestTPESection(t *testing.T) {
	e, err := experiment.Parse([]byte(base+"repeats: 2\ntpe:\n  trials: 13\n"+tpeSpace), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e.TPE.Batch != 8 || e.TPE.Startup != 10 || e.TPE.Trials != 13 || len(e.TPE.Space) != 3 {
		t.Fatalf("tpe = %+v", e.TPE)
	}
	if e.Planned() != 26 || experiment.PlannedTrials(string(e.Source)) != 26 {
		t.Errorf("planned %d, want 13 trials × 2 repeats", e.Planned())
	}
	plans, err := e.Plans()
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 20 || plans[19].Point != 9 || plans[19].Repeat != 1 || plans[19].Index != 19 {
		t.Fatalf("%d startup trials, the last %+v; want 10 points × 2 repeats", len(plans), plans[len(plans)-1])
	}
	r, err := experiment.Parse([]byte(base+"repeats: 2\nrandom:\n  trials: 10\n"+tpeSpace), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rp := r.Points()
	done := e.Points()
	for i := range done {
		if fmt.Sprint(done[i]) != fmt.Sprint(rp[i]) {
			t.Errorf("startup setting %d is %v, random search's sample is %v", i, done[i], rp[i])
		}
	}
	ranked := []int{3, 1, 0, 2, 4, 5, 6, 7, 8, 9}
	next := e.NextBatch(done, ranked)
	if len(next) != 3 { // 13 − 10, less than a batch
		t.Fatalf("proposed %d settings after 10 of 13", len(next))
	}
	again := e.NextBatch(done, ranked)
	if fmt.Sprint(next) != fmt.Sprint(again) {
		t.Errorf("the same finished settings propose %v, then %v", next, again)
	}
	for _, p := range next {
		lr, units, opt := p["training.learning_rate"].(float64), p["model.0.units"].(int), p["optimizer.type"].(string)
		if lr < 0.001 || lr > 1 || units < 2 || units > 16 || (opt != "sgd" && opt != "momentum") {
			t.Errorf("proposal %v is outside the space", p)
		}
	}
	all, err := e.AppendPlans(plans, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 26 || all[20].Point != 10 || all[20].Index != 20 || all[25].Point != 12 {
		t.Errorf("appended trials: %d, point %d index %d", len(all), all[20].Point, all[20].Index)
	}
	if got := e.NextBatch(append(done, next...), nil); got != nil {
		t.Errorf("proposed %v after every setting", got)
	}
	// a batch of settings before startup is the rest of the startup
	if got := e.NextBatch(done[:4], []int{0, 1, 2, 3}); len(got) != 6 || fmt.Sprint(got[0]) != fmt.Sprint(done[4]) {
		t.Errorf("after 4 settings: %v, want startup samples 4 to 9", got)
	}
}

// A setting proposed twice keeps ids unique (and stable: its point index
// is in the hash).
func TestTPEDuplicateSettingsGetTheirOwnIDs(t *testing.T) {
	e, err := experiment.Parse([]byte(base+"tpe: {trials: 4, startup: 3, optimizer.type: {choice: [sgd]}}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := e.Plans()
	if err != nil {
		t.Fatal(err)
	}
	plans, err = e.AppendPlans(plans, e.NextBatch(e.Points(), []int{0, 1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range plans {
		if seen[p.ID] {
			t.Fatalf("id %s twice in %d trials", p.ID, len(plans))
		}
		seen[p.ID] = true
	}
	if len(plans) != 4 {
		t.Errorf("%d trials, want 4", len(plans))
	}
}

// tpe beside grid, random, include or exclude, and bad tpe keys, are
// refused at their line.
func TestTPEErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{base + "grid: {training.epochs: [1, 2]}\ntpe: {trials: 3, training.learning_rate: {uniform: [0.1, 1]}}\n",
			"x.yaml:12: tpe: cannot be combined with grid (line 11)"},
		{base + "tpe: {trials: 3, training.learning_rate: {uniform: [0.1, 1]}}\nrandom: {trials: 2, training.epochs: {int_uniform: [1, 3]}}\n",
			"x.yaml:11: tpe: cannot be combined with random (line 12)"},
		{base + "include: [{training.epochs: 3}]\ntpe: {trials: 3, training.learning_rate: {uniform: [0.1, 1]}}\n", "cannot be combined with include"},
		{base + "exclude: [{training.epochs: 3}]\ntpe: {trials: 3, training.learning_rate: {uniform: [0.1, 1]}}\n", "cannot be combined with exclude"},
		{base + "tpe: {trials: 0, training.learning_rate: {uniform: [0.1, 1]}}\n", "x.yaml:11: tpe.trials:"},
		{base + "tpe: {training.learning_rate: {uniform: [0.1, 1]}}\n", "tpe.trials: missing"},
		{base + "tpe: {trials: 3, batch: 0, training.learning_rate: {uniform: [0.1, 1]}}\n", "tpe.batch:"},
		{base + "tpe: {trials: 3}\n", "tpe: names no path to search"},
		{base + "tpe: [1]\n", "tpe: must be a mapping"},
		{base + "tpe: {trials: 3, training.learning_rate: {normal: [0.1, 1]}}\n", "tpe.training.learning_rate.normal: unknown distribution"},
		{base + "metric: time_to_target\ntpe: {trials: 3, training.learning_rate: {uniform: [0.1, 1]}}\n", "x.yaml:11: metric: a tpe sweep cannot rank by time_to_target"},
		{base + "tpe: {trials: 3, startup: 0, training.learning_rate: {uniform: [0.1, 1]}}\n", "tpe.startup:"},
		{base + "tpe: {trials: 3, training.speed: {uniform: [0.1, 1]}}\n", `tpe.training.speed: path "training.speed" names nothing`},
	} {
		_, err := experiment.Parse([]byte(c.src), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src[len(base):], err, c.want)
		}
	}
}

// A batch spreads out: each proposal counts the batch's earlier ones as
// the worst settings (constant liar), so the 8 proposals do not all
// crowd around the one best setting so far.
func TestTPEBatchSpreadsOut(t *testing.T) {
	e, err := experiment.Parse([]byte(base+"tpe:\n  trials: 18\n"+tpeSpace), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	done := e.Points()
	ranked := make([]int, len(done))
	for i := range ranked {
		ranked[i] = i
	}
	dist := func(p experiment.Point) float64 {
		return math.Abs(math.Log10(p["training.learning_rate"].(float64)) + 2)
	}
	sort.Slice(ranked, func(a, b int) bool { return dist(done[ranked[a]]) < dist(done[ranked[b]]) })
	lo, hi := math.Inf(1), math.Inf(-1)
	units := map[int]bool{}
	for _, p := range e.NextBatch(done, ranked) {
		l := math.Log10(p["training.learning_rate"].(float64))
		lo, hi = min(lo, l), max(hi, l)
		units[p["model.0.units"].(int)] = true
	}
	if hi-lo < 1 || len(units) < 5 {
		t.Errorf("a batch of 8 spans %.2f decades of learning rate and %d unit counts", hi-lo, len(units))
	}
}
