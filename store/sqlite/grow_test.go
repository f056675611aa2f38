package sqlite

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// PrepareSweep grows a sweep only from the hash GrowsFrom names (a sweep
// replaced meanwhile is refused as changed), only when every stored trial
// is planned again unchanged (the message names the first difference),
// and then keeps the stored trials, adds the new ones and stores the new
// config. A kept trial may move: a new trial planned before it pushes it
// to a later index (its seed does not depend on it).
func TestPrepareSweepGrows(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sweeps.db"))
	old := sweepInfo("g", "hash-old")
	plans := makePlans(old.Name, 4)
	if err := s.PrepareSweep(old, plans[:3], false); err != nil {
		t.Fatal(err)
	}
	finish(s, &plans[0], framework.Completed, 0.5)
	grown := sweepInfo("g", "hash-new")
	grown.Config = "name: g\ngrid: {x: [1, 2]}\n"

	for _, c := range []struct {
		name      string
		growsFrom string
		edit      func(p []framework.TrialPlan)
		want      string
	}{
		{"another stored hash", "hash-other", nil, "is stored with config hash hash-old"},
		{"a changed setting", "hash-old", func(p []framework.TrialPlan) { p[1].Params["optimizer.type"] = "sgd" },
			`trial g-t001 (index 1, point 0, repeat 1) would change optimizer.type from "adam" to "sgd"`},
		{"a new setting", "hash-old", func(p []framework.TrialPlan) { p[2].Params["loss.delta"] = 1.0 },
			"trial g-t002 (index 2, point 1, repeat 0) would get the setting loss.delta = 1.0"},
		{"another seed", "hash-old", func(p []framework.TrialPlan) { p[2].Seed++ },
			"trial g-t002 (index 2, point 1, repeat 0) would get seed "},
		{"a dropped trial", "hash-old", func(p []framework.TrialPlan) { p[2].ID = "g-other" },
			"trial g-t002 (index 2, point 1, repeat 0) is not planned any more"},
	} {
		next := makePlans(old.Name, 4)
		if c.edit != nil {
			c.edit(next)
		}
		info := grown
		info.GrowsFrom = c.growsFrom
		err := s.PrepareSweep(info, next, false)
		if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want ErrConfigChanged with %q", c.name, err, c.want)
		}
	}
	var count int
	if err := s.w.QueryRow(`SELECT count(*) FROM trials`).Scan(&count); err != nil || count != 3 {
		t.Fatalf("%d trials after refusals (%v), want 3", count, err)
	}

	info := grown
	info.GrowsFrom = "hash-old"
	next := makePlans(old.Name, 4)
	next[1].Index, next[1].Point, next[3].Index, next[3].Point = 3, 1, 1, 0 // new trial 3 comes before stored trial 1
	if err := s.PrepareSweep(info, next, false); err != nil {
		t.Fatal(err)
	}
	for _, pl := range next {
		var idx, point int
		if err := s.w.QueryRow(`SELECT idx, point FROM trials WHERE id = ?`, pl.ID).Scan(&idx, &point); err != nil || idx != pl.Index || point != pl.Point {
			t.Fatalf("trial %s: index %d, point %d (%v), want %d, %d", pl.ID, idx, point, err, pl.Index, pl.Point)
		}
	}
	var hash, config string
	var trials int
	if err := s.w.QueryRow(`SELECT config_hash, config, (SELECT count(*) FROM trials) FROM sweeps`).Scan(&hash, &config, &trials); err != nil {
		t.Fatal(err)
	}
	if hash != "hash-new" || config != grown.Config || trials != 4 {
		t.Fatalf("grown sweep: hash %s, config %q, %d trials", hash, config, trials)
	}
	states, err := s.TrialStates(old.Name)
	if err != nil || states[plans[0].ID] != framework.Completed || states[plans[3].ID] != framework.Pending {
		t.Fatalf("states after growing: %v %v", states, err)
	}
	if h, c, n, err := s.Stored(old.Name); err != nil || h != "hash-new" || c != grown.Config || n != 4 {
		t.Fatalf("Stored: %q %q %d %v", h, c, n, err)
	}
	if h, _, _, err := s.Stored("none"); err != nil || h != "" {
		t.Fatalf("Stored of an unknown sweep: %q %v", h, err)
	}
}

// A sweep resumed under the same config hash is refused when this run
// plans a stored trial otherwise (a database from a gradsweep whose seeds
// followed the trial index); stored trials it does not plan (another
// shard's) are left alone.
func TestPrepareSweepRefusesAnotherPlan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("r", "hash")
	plans := makePlans(info.Name, 4)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	finish(s, &plans[0], framework.Completed, 0.5)
	before := dump(t, path, "trials", "epoch_metrics", "batch_loss")
	for _, c := range []struct {
		name string
		edit func(p []framework.TrialPlan)
		want string
	}{
		{"another seed", func(p []framework.TrialPlan) { p[2].Seed++ }, "stored trial r-t002 (index 2, point 1, repeat 0) would get seed "},
		{"another index", func(p []framework.TrialPlan) { p[1].Index, p[3].Index = 3, 1 }, "stored trial r-t001 would be index 3, point 0"},
	} {
		next := makePlans(info.Name, 4)
		c.edit(next)
		err := s.PrepareSweep(info, next, false)
		if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "planned the same file otherwise") {
			t.Fatalf("%s: %v, want ErrConfigChanged with %q", c.name, err, c.want)
		}
	}
	if err := s.PrepareSweep(info, makePlans(info.Name, 4)[:2], false); err != nil {
		t.Fatalf("a run that plans a part of the stored trials: %v", err)
	}
	if after := dump(t, path, "trials", "epoch_metrics", "batch_loss"); after != before {
		t.Fatalf("refused resumes changed the database")
	}
}
