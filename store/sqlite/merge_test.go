package sqlite

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	info := sweepInfo("shards", "h")
	plans := makePlans(info.Name, 6)
	shard := func(name string, done []int, running int) string {
		path := filepath.Join(dir, name)
		s := openStore(t, path)
		if err := s.PrepareSweep(info, plans, false); err != nil {
			t.Fatal(err)
		}
		for _, i := range done {
			finish(s, &plans[i], framework.Completed, float64(i))
		}
		if running >= 0 {
			if _, err := s.w.Exec(`UPDATE trials SET state = 'running', owner = 'ffff' WHERE idx = ?`, running); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	one := shard("one.db", []int{0, 1, 2}, 5)
	two := shard("two.db", []int{3, 4}, -1)

	dstPath := filepath.Join(dir, "all.db")
	dst := openStore(t, dstPath)
	for _, step := range []struct {
		src  string
		want int
	}{{one, 6}, {one, 0}, {two, 2}, {two, 0}, {one, 0}} {
		n, err := dst.Merge(step.src)
		if err != nil || n != step.want {
			t.Fatalf("merge %s: added %d, %v; want %d", filepath.Base(step.src), n, err, step.want)
		}
	}
	states, err := dst.TrialStates(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range plans {
		want := framework.Completed
		if i == 5 {
			want = framework.Interrupted // running in shard one: stored as interrupted
		}
		if states[p.ID] != want {
			t.Errorf("trial %d is %s, want %s", i, states[p.ID], want)
		}
	}
	// Merged trials carry their series (layer statistics too), as in their shard.
	got, err := dst.LoadSweep(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{one, two} {
		s := openStore(t, src)
		d, err := s.LoadSweep(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i, td := range d.Trials {
			if td.Status == framework.Completed && !sameText(got.Trials[i], td) {
				t.Errorf("trial %d:\n got %+v\nwant %+v", i, got.Trials[i], td)
			}
		}
	}
	if p, ok, err := dst.Claim(info.Name); err != nil || !ok || p.ID != plans[5].ID {
		t.Fatalf("claim in merged store: %s %v %v", p.ID, ok, err)
	}

	// A shard of a sweep of the same name with another config: refused.
	before := dump(t, dstPath)
	bad := filepath.Join(dir, "bad.db")
	b := openStore(t, bad)
	other := info
	other.ConfigHash = "h2"
	if err := b.PrepareSweep(other, makePlans(info.Name, 8), false); err != nil {
		t.Fatal(err)
	}
	if err := b.PrepareSweep(sweepInfo("unrelated", "x"), makePlans("unrelated", 2), false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := dst.Merge(bad); !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("merge of a changed config: %v", err)
	}
	if dump(t, dstPath) != before {
		t.Fatal("a refused merge wrote")
	}
	if _, err := dst.Merge(dstPath); err == nil {
		t.Fatal("merged a store into itself")
	}
	if _, err := dst.Merge(filepath.Join(dir, "missing.db")); err == nil {
		t.Fatal("merged a missing file")
	}
	integrityOK(t, dstPath)
}

// A merged trial's layer statistics are its shard's: finish stores one
// row per trial, which TestMerge compares; here the count is checked
// against the shards' rows.
func TestMergeCopiesLayerStats(t *testing.T) {
	dir := t.TempDir()
	info := sweepInfo("flow", "h")
	plans := makePlans(info.Name, 2)
	src := filepath.Join(dir, "one.db")
	s := openStore(t, src)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	for i := range plans {
		finish(s, &plans[i], framework.Completed, float64(i))
	}
	s.Close()
	dst := openStore(t, filepath.Join(dir, "all.db"))
	if _, err := dst.Merge(src); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dst.w.QueryRow(`SELECT count(*) FROM layer_stats`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d layer_stats rows merged (%v), want 2", n, err)
	}
}

// A trial finished in both files with other results is refused, naming
// the trial and the column, and nothing is written; the same results, or
// a pruned trial, merge as before.
func TestMergeRefusesTwoAnswers(t *testing.T) {
	dir := t.TempDir()
	info := sweepInfo("two", "h")
	plans := makePlans(info.Name, 3)
	file := func(name string, loss float64) string {
		path := filepath.Join(dir, name)
		s := openStore(t, path)
		if err := s.PrepareSweep(info, plans, false); err != nil {
			t.Fatal(err)
		}
		finish(s, &plans[0], framework.Completed, 0.5)
		finish(s, &plans[1], framework.Completed, loss)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a, same, other := file("a.db", 0.25), file("same.db", 0.25), file("other.db", 0.375)
	dst := openStore(t, a)
	if n, err := dst.Merge(same); err != nil || n != 0 {
		t.Fatalf("merge of the same results: added %d, %v", n, err)
	}
	before := dump(t, a)
	_, err := dst.Merge(other)
	if !errors.Is(err, ErrMergeRefused) || !strings.Contains(err.Error(), "trial "+plans[1].ID+" finished in both files with other results (final_train_loss: ") {
		t.Fatalf("merge of other results: %v", err)
	}
	if dump(t, a) != before {
		t.Fatal("a refused merge wrote")
	}
}
