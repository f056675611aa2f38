package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

var (
	nan  = math.NaN()
	pinf = math.Inf(1)
	ninf = math.Inf(-1)
	t0   = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
)

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sweepInfo(name, hash string) framework.SweepInfo {
	return framework.SweepInfo{Name: name, ConfigHash: hash, Config: "name: " + name + "\ngrid: {}\n",
		Seed: 1<<63 + 12345, Metric: "val_loss", Started: t0}
}

func makePlans(sweep string, n int) []framework.TrialPlan {
	ps := make([]framework.TrialPlan, n)
	for i := range ps {
		ps[i] = framework.TrialPlan{
			ID: fmt.Sprintf("%s-t%03d", sweep, i), Sweep: sweep, Index: i, Point: i / 2, Repeat: i % 2,
			Seed: uint64(i)*0x9E3779B97F4A7C15 + 1,
			Params: map[string]any{
				"training.learning_rate": 0.1 * float64(i+1),
				"training.batch_size":    8 << (i % 3),
				"training.epochs":        3.0, // an integral float stays a float
				"optimizer.type":         "adam",
				"model.hidden":           []any{16, 8.5, "relu"},
				"training.shuffle":       i%2 == 0,
			},
			Varied: []string{"training.batch_size", "training.learning_rate"},
		}
	}
	return ps
}

// dump is every row of every table, for "nothing was written" checks.
func dump(t *testing.T, path string, tables ...string) string {
	t.Helper()
	db := rawDB(t, path)
	if len(tables) == 0 {
		tables = []string{"sweeps", "trials", "epoch_metrics", "batch_loss"}
	}
	var b strings.Builder
	for _, tab := range tables {
		probe, err := db.Query(`SELECT * FROM ` + tab + ` LIMIT 0`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := probe.Columns()
		probe.Close()
		order := make([]string, len(cols))
		for i := range order {
			order[i] = fmt.Sprint(i + 1)
		}
		rows, err := db.Query(`SELECT * FROM ` + tab + ` ORDER BY ` + strings.Join(order, ", "))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v\n", tab, vals)
		}
		rows.Close()
	}
	return b.String()
}

func integrityOK(t *testing.T, path string) {
	t.Helper()
	var res string
	if err := rawDB(t, path).QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

func TestSchemaAndMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	var v, fk, sync, busy int
	var mode string
	for q, dst := range map[string]any{"PRAGMA user_version": &v, "PRAGMA foreign_keys": &fk,
		"PRAGMA synchronous": &sync, "PRAGMA busy_timeout": &busy, "PRAGMA journal_mode": &mode} {
		if err := s.w.QueryRow(q).Scan(dst); err != nil {
			t.Fatal(q, err)
		}
	}
	if v != SchemaVersion() || v != 6 || fk != 1 || sync != 1 || busy != 10000 || mode != "wal" {
		t.Fatalf("user_version %d foreign_keys %d synchronous %d busy_timeout %d journal_mode %s", v, fk, sync, busy, mode)
	}
	schema := func() string {
		names, err := column(rawDB(t, path), `SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, "\n")
	}
	before := schema()
	for _, tab := range []string{"table sweeps", "table trials", "table epochs", "table batch_loss_chunks",
		"view epoch_metrics", "view batch_loss", "index trials_sweep_state", "index trials_claimable"} {
		if !strings.Contains(before, tab) {
			t.Errorf("schema lacks %s", tab)
		}
	}
	// The tables written for every epoch check with OR, not IN (...): an IN
	// list costs SQLite a temporary table per row checked.
	for _, tab := range []string{"epochs", "batch_loss_chunks"} {
		var sql string
		rawDB(t, path).QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, tab).Scan(&sql)
		if sql == "" || strings.Contains(strings.ToUpper(sql), " IN (") {
			t.Errorf("table %s: %q", tab, sql)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening is a no-op.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if after := schema(); after != before {
		t.Fatalf("reopen changed the schema:\n%s\n---\n%s", before, after)
	}

	// A newer schema is refused.
	if _, err := rawDB(t, path).Exec(`PRAGMA user_version = 7`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "schema version 7 is newer than this gradsweep knows (6)") {
		t.Fatalf("newer schema: %v", err)
	}

	// Not a database; another program's database.
	junk := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(junk, []byte(strings.Repeat("this is not a database\n", 200)), 0o644)
	if _, err := Open(junk); err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("text file: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	if _, err := rawDB(t, other).Exec(`CREATE TABLE things (x)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "not a gradsweep store") {
		t.Fatalf("foreign database: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory: %v", err)
	}
}

// sameFloats compares with NaN equal to NaN (and -0 ≠ +0).
func sameText(a, b any) bool { return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b) }

func TestSinkRoundTripNonFinite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	s.now = func() time.Time { return t0.Add(time.Minute) }
	info := sweepInfo("nonfinite", "h1")
	plans := makePlans(info.Name, 3)
	s.SweepStarted(info, plans) // without PrepareSweep: stores the sweep

	// Trial 0: classification with validation; NaN and ±Inf everywhere.
	a := &plans[0]
	s.TrialStarted(a)
	its := []framework.IterationStats{
		{Epoch: 1, Iteration: 1, BatchSize: 8, Loss: 0.5, Seconds: 0.001, LearningRate: 0.1},
		{Epoch: 1, Iteration: 2, BatchSize: 8, Loss: nan, Seconds: 0.002, LearningRate: 0.1},
		{Epoch: 2, Iteration: 3, BatchSize: 8, Loss: pinf, Seconds: 0.003, LearningRate: 0.05},
		{Epoch: 2, Iteration: 4, BatchSize: 4, Loss: ninf, Seconds: 0.004, LearningRate: 0.05},
		{Epoch: 3, Iteration: 5, BatchSize: 4, Loss: 1e-300, Seconds: 5e-324, LearningRate: 0.025},
	}
	for _, it := range its {
		s.Iteration(a, it)
	}
	eps := []framework.EpochStats{
		{Epoch: 1, Iteration: 2, Samples: 16, TrainLoss: 0.7, ValLoss: 0.8, TrainAccuracy: 0.5, ValAccuracy: 0.25, Seconds: 1, EpochSeconds: 1, LearningRate: 0.1},
		{Epoch: 2, Iteration: 4, Samples: 28, TrainLoss: nan, ValLoss: ninf, TrainAccuracy: nan, ValAccuracy: nan, Seconds: 2, EpochSeconds: 1, LearningRate: 0.05},
		{Epoch: 3, Iteration: 5, Samples: 32, TrainLoss: 0.1, ValLoss: pinf, TrainAccuracy: 1, ValAccuracy: 0, Seconds: 3.5, EpochSeconds: 1.5, LearningRate: 0.025},
	}
	for _, e := range eps {
		s.Epoch(a, e)
	}
	resA := framework.Result{Status: framework.Diverged, StopReason: "diverged", Epochs: 3, Iterations: 5, Samples: 32,
		Seconds: 3.75, Final: eps[2], BestValLoss: 0.8, BestEpoch: 1, DivergedIteration: 6, LastFiniteLoss: 1e-300}
	s.TrialFinished(a, framework.TrialOutcome{Status: framework.Diverged, Result: resA, Ended: t0.Add(time.Hour)})

	// Trial 1: regression without validation: val_* and accuracies do not apply.
	b := &plans[1]
	s.TrialStarted(b)
	epsB := []framework.EpochStats{
		{Epoch: 1, Iteration: 10, Samples: 80, TrainLoss: 2, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan, Seconds: 0.5, EpochSeconds: 0.5, LearningRate: 0.3},
		{Epoch: 2, Iteration: 20, Samples: 160, TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan, Seconds: 1, EpochSeconds: 0.5, LearningRate: 0.3},
	}
	for _, e := range epsB {
		s.Epoch(b, e)
	}
	resB := framework.Result{Status: framework.Completed, StopReason: "target_loss", Epochs: 2, Iterations: 20, Samples: 160,
		Seconds: 1.25, Final: epsB[1], BestValLoss: nan, LastFiniteLoss: 0.02, TargetReached: true, TargetIteration: 20, TargetSeconds: 1.0}
	s.TrialFinished(b, framework.TrialOutcome{Status: framework.Completed, Result: resB, Ended: t0.Add(2 * time.Hour)})
	// Trial 2: failed before training.
	c := &plans[2]
	s.TrialStarted(c)
	s.TrialFinished(c, framework.TrialOutcome{Status: framework.Failed, Error: "model: bad layer \"x\"",
		Result: framework.Result{BestValLoss: nan, LastFiniteLoss: nan,
			Final: framework.EpochStats{TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan}},
		Ended: t0.Add(3 * time.Hour)})
	s.SweepFinished(info, framework.SweepSummary{})
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What is stored, in SQL terms.
	db := rawDB(t, path)
	rows, err := column(db, `SELECT trial || ' ' || epoch || ' ' || name || ' ' || coalesce(value, 'NULL') || ' ' || coalesce(nonfinite, 'NULL')
		FROM epoch_metrics ORDER BY trial, epoch, name`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"nonfinite-t000 1 learning_rate 0.1 NULL",
		"nonfinite-t000 1 train_accuracy 0.5 NULL", "nonfinite-t000 1 train_loss 0.7 NULL",
		"nonfinite-t000 1 val_accuracy 0.25 NULL", "nonfinite-t000 1 val_loss 0.8 NULL",
		"nonfinite-t000 2 learning_rate 0.05 NULL",
		"nonfinite-t000 2 train_accuracy NULL NaN", "nonfinite-t000 2 train_loss NULL NaN",
		"nonfinite-t000 2 val_accuracy NULL NaN", "nonfinite-t000 2 val_loss NULL -Inf",
		"nonfinite-t000 3 learning_rate 0.025 NULL",
		"nonfinite-t000 3 train_accuracy 1.0 NULL", "nonfinite-t000 3 train_loss 0.1 NULL",
		"nonfinite-t000 3 val_accuracy 0.0 NULL", "nonfinite-t000 3 val_loss NULL +Inf",
		"nonfinite-t001 1 learning_rate 0.3 NULL",
		"nonfinite-t001 1 train_loss 2.0 NULL", "nonfinite-t001 2 learning_rate 0.3 NULL", "nonfinite-t001 2 train_loss NULL NaN",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("epoch_metrics rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	rows, err = column(db, `SELECT iteration || ' ' || coalesce(value, 'NULL') || ' ' || coalesce(nonfinite, 'NULL') FROM batch_loss ORDER BY iteration`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows, ","); got != "1 0.5 NULL,2 NULL NaN,3 NULL +Inf,4 NULL -Inf,5 1.0e-300 NULL" {
		t.Fatalf("batch_loss rows: %s", got)
	}
	var seed string
	db.QueryRow(`SELECT seed FROM sweeps`).Scan(&seed)
	if seed != "9223372036854788153" {
		t.Fatalf("sweep seed stored as %s", seed)
	}

	// Read back exactly, through a fresh Store.
	s2 := openStore(t, path)
	d, err := s2.LoadSweep(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := info
	if !sameText(d.Info, wantInfo) {
		t.Fatalf("info:\n%+v\nwant\n%+v", d.Info, wantInfo)
	}
	if len(d.Trials) != 3 {
		t.Fatalf("%d trials", len(d.Trials))
	}
	for i := range plans {
		if !reflect.DeepEqual(d.Trials[i].Plan, plans[i]) {
			t.Fatalf("plan %d:\n%#v\nwant\n%#v", i, d.Trials[i].Plan, plans[i])
		}
	}
	started := t0.Add(time.Minute)
	wantA := framework.TrialData{Plan: plans[0], Status: framework.Diverged, StopReason: "diverged",
		Started: started, Ended: t0.Add(time.Hour), Seconds: 3.75, Epochs: 3, Iterations: 5, Samples: 32,
		Final: eps[2], BestValLoss: 0.8, DivergedIteration: 6, LastFiniteLoss: 1e-300, TimeToTarget: nan,
		EpochSeries: eps, BatchLoss: its}
	wantB := framework.TrialData{Plan: plans[1], Status: framework.Completed, StopReason: "target_loss",
		Started: started, Ended: t0.Add(2 * time.Hour), Seconds: 1.25, Epochs: 2, Iterations: 20, Samples: 160,
		Final: epsB[1], BestValLoss: nan, LastFiniteLoss: 0.02, TimeToTarget: 1.0, EpochSeries: epsB}
	wantC := framework.TrialData{Plan: plans[2], Status: framework.Failed, Error: "model: bad layer \"x\"",
		Started: started, Ended: t0.Add(3 * time.Hour),
		Final:       framework.EpochStats{TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan, LearningRate: nan},
		BestValLoss: nan, LastFiniteLoss: nan, TimeToTarget: nan}
	for i, w := range []framework.TrialData{wantA, wantB, wantC} {
		if !sameText(d.Trials[i], w) {
			t.Errorf("trial %d:\n got %+v\nwant %+v", i, d.Trials[i], w)
		}
		one, err := s2.LoadTrial(w.Plan.ID)
		if err != nil || !sameText(*one, w) {
			t.Errorf("LoadTrial %d: %v\n got %+v\nwant %+v", i, err, one, w)
		}
	}
	if !math.IsNaN(d.Trials[0].EpochSeries[1].TrainLoss) || !math.IsInf(d.Trials[0].BatchLoss[3].Loss, -1) {
		t.Fatal("non-finite values not read back")
	}
	if sw, err := s2.SweepOfTrial(plans[1].ID); err != nil || sw != info.Name {
		t.Fatalf("SweepOfTrial: %q %v", sw, err)
	}
	list, err := s2.ListSweeps()
	if err != nil || len(list) != 1 {
		t.Fatalf("ListSweeps: %+v %v", list, err)
	}
	// val_loss ranking: the only completed trial has no val_loss.
	if r := list[0]; r.Trials != 3 || r.Counts[framework.Completed] != 1 || r.Counts[framework.Diverged] != 1 ||
		r.Counts[framework.Failed] != 1 || !math.IsNaN(r.Best) || r.BestPoint != -1 || !r.Created.Equal(t0) {
		t.Fatalf("ListSweeps row: %+v", r)
	}
}

func TestNotFound(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sweeps.db"))
	for _, n := range []string{"alpha", "beta"} {
		if err := s.PrepareSweep(sweepInfo(n, "h"), makePlans(n, 2), false); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.LoadSweep("gamma")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "alpha, beta") {
		t.Fatalf("LoadSweep: %v", err)
	}
	if _, err := s.TrialStates("gamma"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TrialStates: %v", err)
	}
	if _, _, err := s.Claim("gamma"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Claim: %v", err)
	}
	_, err = s.LoadTrial("alpha-t009")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "alpha-t000, alpha-t001") {
		t.Fatalf("LoadTrial: %v", err)
	}
	if _, err := s.SweepOfTrial("zzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SweepOfTrial: %v", err)
	}
}

func finish(s *Store, p *framework.TrialPlan, status framework.Status, loss float64) {
	s.TrialStarted(p)
	e := framework.EpochStats{Epoch: 1, Iteration: 4, Samples: 32, TrainLoss: loss, ValLoss: loss * 1.1,
		TrainAccuracy: nan, ValAccuracy: nan, Seconds: 0.1, EpochSeconds: 0.1}
	for i := 1; i <= 4; i++ {
		s.Iteration(p, framework.IterationStats{Epoch: 1, Iteration: i, BatchSize: 8, Loss: loss + float64(4-i)})
	}
	// layer statistics too, so that tests of whole trials (merge) cover them
	s.LayerStats(p, 1, []framework.LayerStats{{Layer: 0, GradNorm: loss + 1, WeightNorm: 2, UpdateRatio: 1e-3, DeadFraction: nan}})
	s.Epoch(p, e)
	s.TrialFinished(p, framework.TrialOutcome{Status: status, Ended: t0,
		Result: framework.Result{Status: status, StopReason: "max_epochs", Epochs: 1, Iterations: 4, Samples: 32,
			Final: e, BestValLoss: e.ValLoss, LastFiniteLoss: loss}})
	if err := s.Flush(); err != nil { // TrialFinished is committed by the next batch or Flush
		panic(err)
	}
}

func TestPrepareSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("lr", "hash-one")
	plans := makePlans(info.Name, 5)
	if err := s.PrepareSweep(info, plans[:4], false); err != nil {
		t.Fatal(err)
	}
	finish(s, &plans[0], framework.Completed, 0.5)
	if p, ok, err := s.Claim(info.Name); err != nil || !ok || p.ID != plans[1].ID {
		t.Fatalf("claim: %v %v %v", p.ID, ok, err)
	}
	if _, err := s.w.Exec(`UPDATE trials SET state = 'interrupted' WHERE idx = 2`); err != nil {
		t.Fatal(err)
	}
	series := dump(t, path, "epoch_metrics", "batch_loss")

	// Same hash: idempotent, plus the missing trial 4.
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	states, err := s.TrialStates(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]framework.Status{plans[0].ID: framework.Completed, plans[1].ID: framework.Running,
		plans[2].ID: framework.Interrupted, plans[3].ID: framework.Pending, plans[4].ID: framework.Pending}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	if got := dump(t, path, "epoch_metrics", "batch_loss"); got != series || got == "" {
		t.Fatal("series changed by PrepareSweep")
	}

	// Another hash: refused, nothing written.
	before := dump(t, path)
	info2 := sweepInfo("lr", "hash-two")
	err = s.PrepareSweep(info2, makePlans(info.Name, 7), false)
	if !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("config change: %v", err)
	}
	for _, w := range []string{`"lr"`, "hash-one", "hash-two", "use --force or rename the sweep"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if dump(t, path) != before {
		t.Fatal("a refused PrepareSweep wrote")
	}
	// A trial id of another sweep is refused too, and nothing is written.
	other := sweepInfo("other", "h")
	bad := makePlans("other", 2)
	bad[1].ID = plans[0].ID
	if err := s.PrepareSweep(other, bad, false); err == nil || !strings.Contains(err.Error(), "already stored for sweep") {
		t.Fatalf("foreign trial id: %v", err)
	}
	if dump(t, path) != before {
		t.Fatal("a failed PrepareSweep wrote")
	}

	// Forced: re-created, every trial pending, old series gone.
	if err := s.PrepareSweep(info2, makePlans(info.Name, 7), true); err != nil {
		t.Fatal(err)
	}
	states, _ = s.TrialStates(info.Name)
	if len(states) != 7 {
		t.Fatalf("%d trials after force", len(states))
	}
	for id, st := range states {
		if st != framework.Pending {
			t.Fatalf("%s is %s after force", id, st)
		}
	}
	if got := dump(t, path, "epoch_metrics", "batch_loss"); got != "" {
		t.Fatalf("series left after force:\n%s", got)
	}
	var hash string
	rawDB(t, path).QueryRow(`SELECT config_hash FROM sweeps WHERE name = 'lr'`).Scan(&hash)
	if hash != "hash-two" {
		t.Fatalf("hash %s after force", hash)
	}
}

func TestParamsJSON(t *testing.T) {
	p := map[string]any{"a": 1.0, "b": 2, "c": 1e21, "d": []any{1, 2.5, map[string]any{"x": 3.0}}, "e": nil, "f": "s",
		"g": 5e-324, "h": int64(-7), "i": []float64{1, 2}}
	s, err := encodeParams(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeParams(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 1.0, "b": 2, "c": 1e21, "d": []any{1, 2.5, map[string]any{"x": 3.0}}, "e": nil, "f": "s",
		"g": 5e-324, "h": -7, "i": []any{1.0, 2.0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s →\n%#v\nwant\n%#v", s, got, want)
	}
	if _, err := encodeParams(map[string]any{"lr": nan}); err == nil {
		t.Fatal("NaN param accepted")
	}
}

func claimedIDs(ids []string) map[string]int {
	m := map[string]int{}
	for _, id := range ids {
		m[id]++
	}
	return m
}

func checkExactlyOnce(t *testing.T, plans []framework.TrialPlan, ids []string) {
	t.Helper()
	m := claimedIDs(ids)
	for _, p := range plans {
		if m[p.ID] != 1 {
			t.Errorf("trial %s claimed %d times", p.ID, m[p.ID])
		}
	}
	if len(ids) != len(plans) {
		sort.Strings(ids)
		t.Errorf("%d claims for %d trials", len(ids), len(plans))
	}
}

func TestClaimGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	stores := []*Store{openStore(t, path), openStore(t, path)}
	info := sweepInfo("claims", "h")
	plans := makePlans(info.Name, 120)
	if err := stores[0].PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, len(plans)*2)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(s *Store) {
			for {
				p, ok, err := s.Claim(info.Name)
				if err != nil || !ok {
					errs <- err
					return
				}
				if !reflect.DeepEqual(p, plans[p.Index]) {
					errs <- fmt.Errorf("claimed plan %#v differs from %#v", p, plans[p.Index])
					return
				}
				got <- p.ID
			}
		}(stores[g%2])
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(got)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	checkExactlyOnce(t, plans, ids)
	if _, ok, err := stores[1].Claim(info.Name); ok || err != nil {
		t.Fatalf("claim after all claimed: %v %v", ok, err)
	}
}

// The store keeps every n-th batch loss as the plan says, plus the first
// and every non-finite one; a negative n keeps none but the non-finite.
func TestBatchLossThinning(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sweeps.db"))
	info := sweepInfo("thin", "h1")
	plans := makePlans(info.Name, 2)
	s.SweepStarted(info, plans)
	plans[0].BatchLossEvery, plans[1].BatchLossEvery = 3, -1
	for i := range plans {
		s.TrialStarted(&plans[i])
		for it := 1; it <= 10; it++ {
			loss := 1.0 / float64(it)
			if it == 5 {
				loss = nan
			}
			s.Iteration(&plans[i], framework.IterationStats{Epoch: 1, Iteration: it, BatchSize: 1, Loss: loss})
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"1,4,5,7,10", "5"} {
		d, err := s.LoadTrial(plans[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range d.BatchLoss {
			got = append(got, strconv.Itoa(b.Iteration))
		}
		if strings.Join(got, ",") != want {
			t.Errorf("every %d: stored iterations %v, want %s", plans[i].BatchLossEvery, got, want)
		}
	}
}

// Batch losses written 64 to a statement read back exactly, non-finite
// values included.
func TestManyBatchLossesRoundTrip(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sweeps.db"))
	info := sweepInfo("many", "h1")
	plans := makePlans(info.Name, 1)
	s.SweepStarted(info, plans)
	s.TrialStarted(&plans[0])
	want := make([]float64, 150)
	for i := range want {
		want[i] = 1 / float64(i+1)
	}
	want[70], want[71], want[140] = nan, pinf, ninf
	for i, v := range want {
		s.Iteration(&plans[0], framework.IterationStats{Epoch: 1, Iteration: i + 1, BatchSize: 1, Loss: v})
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	d, err := s.LoadTrial(plans[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.BatchLoss) != len(want) {
		t.Fatalf("%d batch losses stored, want %d", len(d.BatchLoss), len(want))
	}
	for i, b := range d.BatchLoss {
		if b.Iteration != i+1 || !(b.Loss == want[i] || math.IsNaN(b.Loss) && math.IsNaN(want[i])) {
			t.Errorf("row %d: iteration %d loss %v, want %v", i, b.Iteration, b.Loss, want[i])
		}
	}
}

// A version-1 database (before the claimable-trials index) is migrated
// when opened, its data kept.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0].sql); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1; INSERT INTO sweeps (name, config_hash, config, seed, metric, created_at, updated_at)
		VALUES ('old', 'h', '', '0', 'val_loss', '2026-01-02T03:04:05.000000000Z', '2026-01-02T03:04:05.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openStore(t, path)
	rows, err := s.ListSweeps()
	if err != nil || len(rows) != 1 || rows[0].Name != "old" {
		t.Fatalf("sweeps after migration: %v %v", rows, err)
	}
	var v int
	var idx string
	r := rawDB(t, path)
	r.QueryRow(`PRAGMA user_version`).Scan(&v)
	r.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'trials_claimable'`).Scan(&idx)
	if v != SchemaVersion() || idx != "trials_claimable" {
		t.Errorf("user_version %d, index %q", v, idx)
	}
}

// A version-2 database (one row per metric and per batch loss) is migrated
// to the packed tables when opened: the views show the very rows the old
// tables held, and the series read back the same, to the bit.
func TestMigrateFromV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0].sql + migrations[1].sql + `PRAGMA user_version = 2;
		INSERT INTO sweeps (name, config_hash, config, seed, metric, created_at, updated_at)
		VALUES ('old', 'h', '', '0', 'val_loss', '2026-01-02T03:04:05.000000000Z', '2026-01-02T03:04:05.000000000Z');
		INSERT INTO trials (id, sweep, idx, point, repeat, seed, params, varied, state)
		VALUES ('a', 'old', 0, 0, 0, '1', '{}', '[]', 'diverged'), ('b', 'old', 1, 1, 0, '2', '{}', '[]', 'completed');`); err != nil {
		t.Fatal(err)
	}
	// trial a: two epochs, validation loss but no accuracy; the second
	// epoch's validation loss is NaN (stored); it diverges at iteration 7.
	for _, r := range []struct {
		trial string
		epoch int
		name  string
		v     any
		nf    any
	}{
		{"a", 1, "train_loss", 0.1, nil}, {"a", 1, "val_loss", 1.0 / 3, nil},
		{"a", 2, "train_loss", 2.5e-7, nil}, {"a", 2, "val_loss", nil, "NaN"},
		{"b", 1, "train_loss", float64(float32(0.7)), nil}, {"b", 1, "train_accuracy", 1.0, nil},
	} {
		if _, err := db.Exec(`INSERT INTO epoch_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.trial, r.epoch, r.epoch*3, r.epoch*30, 0.25*float64(r.epoch), 0.125, r.name, r.v, r.nf); err != nil {
			t.Fatal(err)
		}
	}
	losses := []any{0.0, math.Pi, 123456.789, 1e-300, 5e-324, float64(float32(2.3)), nil}
	for i, v := range losses {
		var nf any
		if v == nil {
			nf = "+Inf"
		}
		if _, err := db.Exec(`INSERT INTO batch_loss VALUES ('a', ?, ?, ?, ?, ?, ?)`,
			i+1, 1+i/3, 8-i%2, 1e-6*float64(i+1)/3, v, nf); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, path, "epoch_metrics", "batch_loss")
	db.Close()

	s := openStore(t, path)
	// version 5's batch_loss has a learning_rate column, NULL for updates stored before it
	old := "(SELECT trial, iteration, epoch, batch_size, seconds, value, nonfinite FROM batch_loss)"
	if got := dump(t, path, "epoch_metrics", old); got != strings.Replace(before, "batch_loss", old, -1) {
		t.Fatalf("the views after migration:\n%s\nthe tables before:\n%s", got, before)
	}
	var rates int
	if err := rawDB(t, path).QueryRow(`SELECT count(learning_rate) FROM batch_loss`).Scan(&rates); err != nil || rates != 0 {
		t.Errorf("%d learning rates for updates stored before version 5 (%v), want none", rates, err)
	}
	var chunks, epochs int
	r := rawDB(t, path)
	r.QueryRow(`SELECT count(*) FROM batch_loss_chunks`).Scan(&chunks)
	r.QueryRow(`SELECT count(*) FROM epochs`).Scan(&epochs)
	if chunks != 1 || epochs != 3 { // trial a's 7 batch losses; 3 finished epochs
		t.Errorf("%d chunks, %d epoch rows", chunks, epochs)
	}
	td, err := s.LoadTrial("a")
	if err != nil {
		t.Fatal(err)
	}
	if len(td.BatchLoss) != len(losses) || len(td.EpochSeries) != 2 {
		t.Fatalf("trial a: %d batch losses, %d epochs", len(td.BatchLoss), len(td.EpochSeries))
	}
	for i, b := range td.BatchLoss {
		want := math.Inf(1)
		if losses[i] != nil {
			want = losses[i].(float64)
		}
		if b.Iteration != i+1 || b.Epoch != 1+i/3 || b.BatchSize != 8-i%2 || b.Seconds != 1e-6*float64(i+1)/3 || b.Loss != want {
			t.Errorf("batch loss %d: %+v, want loss %v", i, b, want)
		}
	}
	e := td.EpochSeries
	if e[0].TrainLoss != 0.1 || e[0].ValLoss != 1.0/3 || e[1].TrainLoss != 2.5e-7 || !math.IsNaN(e[1].ValLoss) ||
		!math.IsNaN(e[0].TrainAccuracy) || e[1].Iteration != 6 || e[1].Samples != 60 || e[1].Seconds != 0.5 {
		t.Errorf("trial a epochs: %+v", e)
	}
	integrityOK(t, path)
}

// A claimed trial is the same plan whether the Store prepared the sweep
// (and hands out the plan it was given) or reads it from the file, as
// another process does.
func TestClaimedPlansEqualPrepared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	info := sweepInfo("same", "h")
	plans := makePlans(info.Name, 12)
	prepared := openStore(t, path)
	if err := prepared.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, path) // did not prepare the sweep: it decodes what it claims
	want := map[string]framework.TrialPlan{}
	for _, p := range plans {
		want[p.ID] = p
	}
	claims := map[*Store]int{}
	for turn, idle := 0, 0; idle < 2; turn++ { // until neither has a trial left
		s := prepared
		if turn%2 == 1 {
			s = other
		}
		p, ok, err := s.Claim(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			idle++
			continue
		}
		idle = 0
		claims[s]++
		if w, found := want[p.ID]; !found || !reflect.DeepEqual(p, w) {
			t.Errorf("claimed %+v\nprepared %+v", p, w)
		}
		delete(want, p.ID)
	}
	if len(want) != 0 || claims[prepared] == 0 || claims[other] == 0 {
		t.Errorf("%d trials not claimed; claims by the preparing store %d, by the other %d", len(want), claims[prepared], claims[other])
	}
}

// Layer statistics read back as given, a NaN as NaN (stored as NULL), and
// a trial started again (a resumed, interrupted one) drops those of its
// earlier attempt.
func TestLayerStatsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("flow", "h1")
	plans := makePlans(info.Name, 1)
	s.SweepStarted(info, plans)
	p := &plans[0]
	s.TrialStarted(p)
	s.LayerStats(p, 2, []framework.LayerStats{{Layer: 0, GradNorm: 0.5, WeightNorm: 3, UpdateRatio: 1e-3, DeadFraction: 0.25}})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.TrialStarted(p)
	want := []framework.LayerPoint{
		{Iteration: 1, LayerStats: framework.LayerStats{Layer: 0, GradNorm: 1.25, WeightNorm: 2, UpdateRatio: 0.01, DeadFraction: 0.125}},
		{Iteration: 1, LayerStats: framework.LayerStats{Layer: 2, GradNorm: 0.75, WeightNorm: 1, UpdateRatio: 0.02, DeadFraction: nan}},
		{Iteration: 4, LayerStats: framework.LayerStats{Layer: 0, GradNorm: 1e-9, WeightNorm: 2.5, UpdateRatio: 0.03, DeadFraction: 0}},
		{Iteration: 4, LayerStats: framework.LayerStats{Layer: 2, GradNorm: 3, WeightNorm: 1.5, UpdateRatio: 0.04, DeadFraction: nan}},
	}
	s.LayerStats(p, 1, []framework.LayerStats{want[0].LayerStats, want[1].LayerStats})
	finish(s, p, framework.Completed, 0.5) // stores the epoch with its gathered layer stats
	// finish restarts the trial: give it its stats again, then after a
	// first epoch those of update 4.
	s.TrialStarted(p)
	s.LayerStats(p, 1, []framework.LayerStats{want[0].LayerStats, want[1].LayerStats})
	s.Epoch(p, framework.EpochStats{Epoch: 1, Iteration: 2, TrainLoss: 1, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan})
	s.LayerStats(p, 4, []framework.LayerStats{want[2].LayerStats, want[3].LayerStats})
	s.TrialFinished(p, framework.TrialOutcome{Status: framework.Completed, Ended: t0,
		Result: framework.Result{Status: framework.Completed, StopReason: "max_epochs", Epochs: 1, Iterations: 4,
			Final: framework.EpochStats{Epoch: 1, TrainLoss: 1, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan}, BestValLoss: nan, LastFiniteLoss: nan}})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	d, err := s.LoadTrial(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameText(d.Layers, want) {
		t.Errorf("layer stats read back as\n%+v\nwant\n%+v", d.Layers, want)
	}
	integrityOK(t, path)
}
