package sqlite

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// Two Stores on one file stand for two processes: each holds its own owner
// lock, so each sees the other as a live owner.

// --force while another live process runs the sweep is refused, and
// nothing is written; once that process holds no trial, --force replaces
// the sweep, and the old process can claim nothing more: its claims check
// the config hash, so trials never mix two configurations.
func TestForceWhileAnotherProcessRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	a, b := openStore(t, path), openStore(t, path)
	old := sweepInfo("epochs", "hash-25")
	plans := makePlans(old.Name, 6)
	if err := a.PrepareSweep(old, plans, false); err != nil {
		t.Fatal(err)
	}
	p, ok, err := a.Claim(old.Name)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	before := dump(t, path)
	changed := sweepInfo("epochs", "hash-24")
	err = b.PrepareSweep(changed, plans, true)
	if !errors.Is(err, ErrSweepBusy) {
		t.Fatalf("--force while another process runs the sweep: %v", err)
	}
	for _, w := range []string{`"epochs"`, "another process", a.Owner(), "--force"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if dump(t, path) != before {
		t.Fatal("a refused --force wrote")
	}
	// The same data, another data file: refused the same way.
	data := old
	data.DataID = "ab 3 d.csv"
	if err := b.PrepareSweep(data, plans, true); !errors.Is(err, ErrSweepBusy) {
		t.Fatalf("--force of other data while another process runs the sweep: %v", err)
	}

	// A finishes its trial; with no trial held, B's --force goes through
	// (A is between two claims)...
	finish(a, &p, framework.Completed, 0.5)
	if err := b.PrepareSweep(changed, plans, true); err != nil {
		t.Fatal(err)
	}
	// ...and A, which still runs the old configuration, claims nothing.
	if _, _, err := a.Claim(old.Name); !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), "replaced by another process") {
		t.Fatalf("claim after another process's --force: %v", err)
	}
	if _, err := a.ClaimAll(old.Name); !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("claim all after another process's --force: %v", err)
	}
	states, err := b.TrialStates(old.Name)
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range states {
		if st != framework.Pending {
			t.Errorf("%s is %s after the old process tried to claim", id, st)
		}
	}
	// B runs the new configuration.
	if p, ok, err := b.Claim(old.Name); err != nil || !ok || p.ID != plans[0].ID {
		t.Fatalf("claim of the new configuration: %v %v %v", p.ID, ok, err)
	}
}

// A pruned run claims every trial at once, and not while another live
// process holds trials of the sweep.
func TestClaimAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	a, b := openStore(t, path), openStore(t, path)
	info := sweepInfo("asha", "h")
	plans := makePlans(info.Name, 5)
	for _, s := range []*Store{a, b} {
		if err := s.PrepareSweep(info, plans, false); err != nil {
			t.Fatal(err)
		}
	}
	finish(a, &plans[1], framework.Pruned, 0.5)
	got, err := a.ClaimAll(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, p := range got {
		ids = append(ids, p.Index)
	}
	if !slices.Equal(ids, []int{0, 2, 3, 4}) {
		t.Fatalf("claimed %v", ids)
	}
	if _, err := b.ClaimAll(info.Name); !errors.Is(err, ErrSweepBusy) || !strings.Contains(err.Error(), "one process at a time") {
		t.Fatalf("claim all while another process holds trials: %v", err)
	}
	if p, ok, err := b.Claim(info.Name); err != nil || ok {
		t.Fatalf("claim while another process holds every trial: %v %v %v", p.ID, ok, err)
	}
	fin, err := b.Finished(info.Name)
	if err != nil || len(fin) != 1 || fin[0].Plan.ID != plans[1].ID || fin[0].Status != framework.Pruned ||
		len(fin[0].EpochSeries) != 1 || len(fin[0].BatchLoss) != 0 {
		t.Fatalf("finished: %+v, %v", fin, err)
	}
}

// A resume refuses data files whose content changed; moved files of the
// same content are the same data.
func TestDataChangedOnResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("csv", "h")
	info.DataID = "aaaa 120 /w/data.csv\ncccc 7 /w/init.safetensors"
	plans := makePlans(info.Name, 3)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	moved := info
	moved.DataID = "aaaa 120 /elsewhere/data.csv\ncccc 7 /elsewhere/init.safetensors"
	if err := s.PrepareSweep(moved, plans, false); err != nil {
		t.Fatalf("moved data files: %v", err)
	}
	before := dump(t, path)
	for _, c := range []struct{ id, want string }{
		{"aaaa 120 /w/data.csv\ndddd 7 /w/init.safetensors", "data file /w/init.safetensors changed since the sweep was stored (sha256 cccc → dddd, 7 → 7 bytes): use --force or rename the sweep"},
		{"bbbb 121 /w/data.csv\ncccc 7 /w/init.safetensors", "data file /w/data.csv changed since the sweep was stored (sha256 aaaa → bbbb, 120 → 121 bytes)"},
		{"aaaa 120 /w/data.csv", "its data files changed since the sweep was stored (2 files then, 1 now)"},
	} {
		changed := info
		changed.DataID = c.id
		err := s.PrepareSweep(changed, plans, false)
		if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"csv"`) {
			t.Errorf("data %q: %v, want %q", c.id, err, c.want)
		}
		if dump(t, path) != before {
			t.Fatal("a refused PrepareSweep wrote")
		}
	}
	changed := info
	changed.DataID = "bbbb 121 /w/data.csv"
	if err := s.PrepareSweep(changed, plans, true); err != nil {
		t.Fatalf("--force: %v", err)
	}
	var id string
	rawDB(t, path).QueryRow(`SELECT data_id FROM sweeps WHERE name = 'csv'`).Scan(&id)
	if id != changed.DataID {
		t.Fatalf("data_id %q after --force", id)
	}
}

// Schema version 4 adds sweeps.data_id. A sweep stored before has none
// (NULL): its next run takes any data and records it.
func TestMigrateFromV3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0].sql + migrations[1].sql + `PRAGMA user_version = 2;
		INSERT INTO sweeps (name, config_hash, config, seed, metric, created_at, updated_at)
		VALUES ('old', 'h', '', '0', 'val_loss', '2026-01-02T03:04:05.000000000Z', '2026-01-02T03:04:05.000000000Z');`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(migrations[2].sql); err != nil {
		t.Fatal(err)
	}
	if err := migrations[2].data(tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openStore(t, path)
	r := rawDB(t, path)
	var v int
	var id *string
	r.QueryRow(`PRAGMA user_version`).Scan(&v)
	if err := r.QueryRow(`SELECT data_id FROM sweeps WHERE name = 'old'`).Scan(&id); err != nil || v != SchemaVersion() || id != nil {
		t.Fatalf("user_version %d, data_id %v, %v", v, id, err)
	}
	info := framework.SweepInfo{Name: "old", ConfigHash: "h", Metric: "val_loss", DataID: "aaaa 3 d.csv"}
	if err := s.PrepareSweep(info, makePlans("old", 2), false); err != nil {
		t.Fatalf("resume of a sweep stored before version 4: %v", err)
	}
	if err := r.QueryRow(`SELECT data_id FROM sweeps WHERE name = 'old'`).Scan(&id); err != nil || id == nil || *id != info.DataID {
		t.Fatalf("data_id after the resume: %v, %v", id, err)
	}
	integrityOK(t, path)
}

// Shards of one sweep read the same data (wherever their files are);
// a shard that read other data is refused and nothing is written.
func TestMergeRefusesOtherData(t *testing.T) {
	dir := t.TempDir()
	plans := makePlans("shards", 4)
	shard := func(name, dataID string, done int) string {
		path := filepath.Join(dir, name)
		s := openStore(t, path)
		info := sweepInfo("shards", "h")
		info.DataID = dataID
		if err := s.PrepareSweep(info, plans, false); err != nil {
			t.Fatal(err)
		}
		finish(s, &plans[done], framework.Completed, 0.5)
		s.Close()
		return path
	}
	one := shard("one.db", "aaaa 10 /node1/d.csv", 0)
	two := shard("two.db", "aaaa 10 /node2/d.csv", 1)
	bad := shard("bad.db", "bbbb 10 /node3/d.csv", 2)
	dstPath := filepath.Join(dir, "all.db")
	dst := openStore(t, dstPath)
	for _, src := range []string{one, two} {
		if _, err := dst.Merge(src); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, dstPath)
	_, err := dst.Merge(bad)
	if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), "data file /node3/d.csv changed") ||
		!strings.Contains(err.Error(), `"shards" read other data`) {
		t.Fatalf("merge of a shard of other data: %v", err)
	}
	if dump(t, dstPath) != before {
		t.Fatal("a refused merge wrote")
	}
}
