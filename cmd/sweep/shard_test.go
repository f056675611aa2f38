package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Sharding: N processes, each with its own database and its part of the
// grid (index mod N), merged with 'sweep merge', give exactly what one
// unsharded run gives.

// schedulerVars are the variables shardFromEnv reads; the tests set them
// explicitly and never inherit them (the tests may themselves run inside
// a Slurm array task).
var schedulerVars = []string{"JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
	"SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_JOB_ID"}

func cleanEnv(extra ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, v := range schedulerVars {
			if strings.HasPrefix(kv, v+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runEnv is runCLI with extra environment variables and no inherited
// scheduler variables.
func runEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runEnv(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("sweep %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// rowsOf returns every row of q, one string per row; REAL values are
// written exactly (mantissa and exponent), so equal strings mean
// bit-identical numbers.
func rowsOf(t *testing.T, db, q string, args ...any) []string {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				cells[i] = "NULL"
			case float64:
				cells[i] = strconv.FormatFloat(v, 'b', -1, 64)
			case []byte:
				cells[i] = strconv.Quote(string(v))
			case string:
				cells[i] = strconv.Quote(v)
			default:
				cells[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(cells, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// trialResultColumns are the trials columns that must not depend on how
// the sweep was run: all but the owner and the wall-clock ones.
const trialResultColumns = `id, sweep, idx, point, repeat, seed, params, varied, state, error, stop_reason,
	epochs, iterations, samples, final_epoch, final_iteration, final_samples,
	final_train_loss, final_train_loss_nonfinite, final_val_loss, final_val_loss_nonfinite,
	final_train_accuracy, final_train_accuracy_nonfinite, final_val_accuracy, final_val_accuracy_nonfinite,
	best_val_loss, best_val_loss_nonfinite, diverged_iteration, last_finite_loss, last_finite_loss_nonfinite`

// sweepResults is everything a sweep computed, without wall-clock times:
// sweep identity, trials, per-epoch metrics and batch losses.
func sweepResults(t *testing.T, db, sweep string) map[string][]string {
	t.Helper()
	return map[string][]string{
		"sweeps": rowsOf(t, db, `SELECT name, config_hash, config, seed, metric FROM sweeps WHERE name = ?`, sweep),
		"trials": rowsOf(t, db, `SELECT `+trialResultColumns+` FROM trials WHERE sweep = ? ORDER BY idx`, sweep),
		"epoch_metrics": rowsOf(t, db, `SELECT m.trial, m.epoch, m.iteration, m.samples, m.name, m.value, m.nonfinite
			FROM epoch_metrics m JOIN trials t ON t.id = m.trial WHERE t.sweep = ? ORDER BY t.idx, m.epoch, m.name`, sweep),
		"batch_loss": rowsOf(t, db, `SELECT b.trial, b.iteration, b.epoch, b.batch_size, b.value, b.nonfinite
			FROM batch_loss b JOIN trials t ON t.id = b.trial WHERE t.sweep = ? ORDER BY t.idx, b.iteration`, sweep),
	}
}

// dumpAll is every column of every row of the file: what must not change
// at all when a merge adds nothing.
func dumpAll(t *testing.T, db string) map[string][]string {
	t.Helper()
	return map[string][]string{
		"sweeps":        rowsOf(t, db, `SELECT * FROM sweeps ORDER BY name`),
		"trials":        rowsOf(t, db, `SELECT * FROM trials ORDER BY id`),
		"epoch_metrics": rowsOf(t, db, `SELECT * FROM epoch_metrics ORDER BY trial, epoch, name`),
		"batch_loss":    rowsOf(t, db, `SELECT * FROM batch_loss ORDER BY trial, iteration`),
		"user_version":  rowsOf(t, db, `PRAGMA user_version`),
	}
}

func sameResults(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for table, w := range want {
		g := got[table]
		if reflect.DeepEqual(g, w) {
			continue
		}
		if len(g) != len(w) {
			t.Errorf("%s: %s has %d rows, want %d", what, table, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s: %s row %d differs:\n got %s\nwant %s", what, table, i, g[i], w[i])
				break
			}
		}
	}
}

// exportNoClock is 'sweep export --format json' without the wall-clock
// times of each trial (seconds, started_at, ended_at, final.seconds,
// final.epoch_seconds).
func exportNoClock(t *testing.T, dir, db, sweep string) string {
	t.Helper()
	r := mustRun(t, dir, "export", sweep, "--format", "json", "--db", db)
	var trials []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &trials); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		for _, k := range []string{"seconds", "started_at", "ended_at"} {
			delete(tr, k)
		}
		if f, ok := tr["final"].(map[string]any); ok {
			delete(f, "seconds")
			delete(f, "epoch_seconds")
		}
	}
	b, _ := json.Marshal(trials)
	return string(b)
}

// shardIndexes is the trial indexes stored in a shard's database.
func shardIndexes(t *testing.T, db string) string {
	t.Helper()
	return query(t, db, "SELECT group_concat(idx, ' ') FROM (SELECT idx FROM trials ORDER BY idx)")
}

// wantIndexes is the indexes i, i+n, i+2n, ... below total.
func wantIndexes(i, n, total int) string {
	var s []string
	for k := i; k < total; k += n {
		s = append(s, itoa(k))
	}
	return strings.Join(s, " ")
}

var addedRE = regexp.MustCompile(`(?m)^(.*): (\d+) trials added$`)

// addedByMerge sums the "N trials added" lines of a merge.
func addedByMerge(t *testing.T, out string) int {
	t.Helper()
	total := 0
	for _, m := range addedRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		total += n
	}
	return total
}

const shardTrials = 20 // testdata/shard.yaml and shardslow.yaml: 10 points × 2 repeats

// N = 1, 3, 7 concurrent shard processes + merge == one unsharded run, bit
// for bit; merging again changes nothing; the merged file answers list,
// best, show, export and report; shards of a changed experiment are refused.
func TestShardsMergeBitIdentical(t *testing.T) {
	dir := workdir(t, "shard.yaml")
	ref := filepath.Join(dir, "ref.db")
	mustRun(t, dir, "run", "shard.yaml", "--quiet", "--workers", "2", "--db", "ref.db")
	want := sweepResults(t, ref, "shard")
	if len(want["trials"]) != shardTrials || len(want["epoch_metrics"]) == 0 || len(want["batch_loss"]) == 0 {
		t.Fatalf("reference run: %d trials, %d epoch rows, %d batch-loss rows", len(want["trials"]),
			len(want["epoch_metrics"]), len(want["batch_loss"]))
	}
	if got := query(t, ref, "SELECT count(*) FROM trials WHERE state = 'diverged'"); got == "0" {
		t.Log("no trial diverged: non-finite values are not exercised")
	}
	wantJSON := exportNoClock(t, dir, "ref.db", "shard")
	wantBest := mustRun(t, dir, "best", "shard", "--json", "--db", "ref.db").stdout

	for _, n := range []int{1, 3, 7} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			sub := fmt.Sprintf("n%d", n)
			if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
				t.Fatal(err)
			}
			shards := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				shards[i] = filepath.Join(sub, fmt.Sprintf("shard-%d.db", i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := runEnv(t, dir, nil, "run", "shard.yaml", "--quiet", "--workers", "1",
						"--shard", fmt.Sprintf("%d/%d", i, n), "--db", shards[i])
					if r.code != 0 {
						t.Errorf("shard %d/%d: exit %d: %s", i, n, r.code, r.stderr)
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			for i, db := range shards {
				if got, want := shardIndexes(t, filepath.Join(dir, db)), wantIndexes(i, n, shardTrials); got != want {
					t.Errorf("shard %d/%d holds trials %s, want %s", i, n, got, want)
				}
			}

			merged := filepath.Join(sub, "merged.db")
			r := mustRun(t, dir, append([]string{"merge", merged}, shards...)...)
			if got := addedByMerge(t, r.stdout); got != shardTrials {
				t.Errorf("merge added %d trials, want %d:\n%s", got, shardTrials, r.stdout)
			}
			mdb := filepath.Join(dir, merged)
			integrity(t, mdb)
			exactlyOnce(t, mdb, shardTrials)
			sameResults(t, "merged vs unsharded", sweepResults(t, mdb, "shard"), want)
			if got := exportNoClock(t, dir, merged, "shard"); got != wantJSON {
				t.Error("export --format json of the merged shards differs from the unsharded run")
			}
			if got := mustRun(t, dir, "best", "shard", "--json", "--db", merged).stdout; got != wantBest {
				t.Errorf("best --json differs:\n%s\nwant\n%s", got, wantBest)
			}

			// merging a shard again, or all of them, changes nothing
			before := dumpAll(t, mdb)
			r = mustRun(t, dir, "merge", merged, shards[0])
			r2 := mustRun(t, dir, append([]string{"merge", merged}, shards...)...)
			if a := addedByMerge(t, r.stdout+r2.stdout); a != 0 {
				t.Errorf("merging again added %d trials:\n%s%s", a, r.stdout, r2.stdout)
			}
			sameResults(t, "after merging again", dumpAll(t, mdb), before)
			integrity(t, mdb)
		})
	}
	if t.Failed() {
		return
	}

	t.Run("queries", func(t *testing.T) {
		merged := filepath.Join("n3", "merged.db")
		r := mustRun(t, dir, "list", "--db", merged)
		if !regexp.MustCompile(`(?m)^shard\s+20\s+`).MatchString(r.stdout) {
			t.Errorf("list: %s", r.stdout)
		}
		r = mustRun(t, dir, "best", "shard", "--db", merged)
		if !strings.Contains(r.stdout, "RANK") || !strings.Contains(r.stdout, "optimizer.type=") {
			t.Errorf("best: %s", r.stdout)
		}
		id := query(t, filepath.Join(dir, merged), "SELECT id FROM trials WHERE idx = 5")
		if r := mustRun(t, dir, "show", id, "--db", merged); !strings.Contains(r.stdout, id) {
			t.Errorf("show: %s", r.stdout)
		}
		r = mustRun(t, dir, "report", "shard", "--db", merged, "--out", "report-n3")
		if fi, err := os.Stat(filepath.Join(dir, "report-n3", "index.html")); err != nil || fi.Size() == 0 {
			t.Errorf("report: %v %s", err, r.stdout)
		}
	})

	t.Run("other experiment refused", func(t *testing.T) {
		small, _ := os.ReadFile(filepath.Join(dir, "shard.yaml"))
		changed := strings.Replace(string(small), "epochs: 4", "epochs: 3", 1)
		if changed == string(small) {
			t.Fatal("testdata/shard.yaml changed: update this test")
		}
		os.WriteFile(filepath.Join(dir, "changed.yaml"), []byte(changed), 0o644)
		mustRun(t, dir, "run", "changed.yaml", "--quiet", "--shard", "0/3", "--db", "changed.db")
		mdb := filepath.Join(dir, "n3", "merged.db")
		before := dumpAll(t, mdb)
		r := runEnv(t, dir, nil, "merge", filepath.Join("n3", "merged.db"), "changed.db")
		if r.code != 2 || !strings.Contains(r.stderr, "changed.db") || !strings.Contains(r.stderr, "config hash") {
			t.Errorf("merge of another experiment's shard: exit %d, stderr %q", r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "trials added") {
			t.Errorf("refused merge reports added trials: %s", r.stdout)
		}
		sameResults(t, "after a refused merge", dumpAll(t, mdb), before)
		integrity(t, mdb)
	})
}

// JOB_COMPLETION_INDEX + --shard-count and SLURM_ARRAY_TASK_ID/_COUNT/_MIN
// select the same trials as --shard I/N.
func TestShardFromEnvironment(t *testing.T) {
	dir := workdir(t, "shard.yaml")
	const n = 3
	k := 0
	for i := range n {
		want := wantIndexes(i, n, shardTrials)
		for _, c := range []struct {
			name string
			env  []string
			args []string
		}{
			{"--shard", nil, []string{"--shard", fmt.Sprintf("%d/%d", i, n)}},
			{"kubernetes", []string{"JOB_COMPLETION_INDEX=" + itoa(i)}, []string{"--shard-count", itoa(n)}},
			{"slurm --array=0-2", []string{"SLURM_ARRAY_TASK_ID=" + itoa(i), "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=0"}, nil},
			{"slurm --array=1-3", []string{"SLURM_ARRAY_TASK_ID=" + itoa(i+1), "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1"}, nil},
			{"--shard wins over the environment", []string{"JOB_COMPLETION_INDEX=" + itoa((i+1)%n)},
				[]string{"--shard", fmt.Sprintf("%d/%d", i, n), "--shard-count", itoa(n)}},
		} {
			k++
			db := fmt.Sprintf("env-%d.db", k)
			args := append([]string{"run", "shard.yaml", "--quiet", "--workers", "1", "--db", db}, c.args...)
			r := runEnv(t, dir, c.env, args...)
			if r.code != 0 {
				t.Errorf("%s, shard %d: exit %d: %s", c.name, i, r.code, r.stderr)
				continue
			}
			if got := shardIndexes(t, filepath.Join(dir, db)); got != want {
				t.Errorf("%s, shard %d: trials %s, want %s", c.name, i, got, want)
			}
		}
	}
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"JOB_COMPLETION_INDEX=0"}, nil, "needs --shard-count"},
		{[]string{"JOB_COMPLETION_INDEX=3"}, []string{"--shard-count", "3"}, `JOB_COMPLETION_INDEX="3"`},
		{[]string{"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1"}, nil, "does not name a shard"},
		{nil, []string{"--shard-count", "3"}, "--shard-count 3 without a shard index"},
		{nil, []string{"--shard", "1/0"}, `--shard "1/0"`},
	} {
		r := runEnv(t, dir, c.env, append([]string{"run", "shard.yaml", "--quiet", "--db", "bad.db"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v %v: exit %d, stderr %q, want 2 and …%s…", c.env, c.args, r.code, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.db")); err == nil {
		t.Error("a bad shard setting created a database")
	}
}

// interruptShard starts shard i/3 of shardslow.yaml, sends sig once two of
// its trials finished, checks how it stopped, then runs the same command
// again and checks the shard is complete. beforeResume, if not nil, runs
// between the two.
func interruptShard(t *testing.T, dir string, i int, sig syscall.Signal, beforeResume func()) {
	db := fmt.Sprintf("shard-%d.db", i)
	path := filepath.Join(dir, db)
	args := []string{"shardslow.yaml", "--workers", "2", "--shard", fmt.Sprintf("%d/3", i), "--db", db}
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir, cmd.Env = dir, cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, path, 2)
	sent := time.Now()
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	took := time.Since(sent)
	ee, _ := err.(*exec.ExitError)
	if sig == syscall.SIGKILL {
		if ee == nil || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill -9: %v\n%s", err, out.String())
		}
	} else {
		if ee == nil || ee.ExitCode() != exitInterrupted {
			t.Fatalf("after %v: %v, want exit %d\n%s", sig, err, exitInterrupted, out.String())
		}
		// Kubernetes kills 30 s after SIGTERM, Slurm's USR1@60 leaves 60 s.
		if took > 5*time.Second {
			t.Errorf("took %v to stop after %v", took, sig)
		}
		t.Logf("%v: stopped in %v", sig, took.Round(time.Millisecond))
		if !strings.Contains(out.String(), "interrupted") {
			t.Errorf("no word of the interruption:\n%s", out.String())
		}
		if got := query(t, path, "SELECT count(*) FROM trials WHERE state = 'running'"); got != "0" {
			t.Errorf("%s trials left running after %v", got, sig)
		}
		if got := query(t, path, "SELECT count(*) FROM trials WHERE state = 'interrupted'"); got == "0" {
			t.Errorf("no trial recorded as interrupted after %v (states: %s)", sig,
				query(t, path, "SELECT state, count(*) FROM trials GROUP BY state"))
		}
	}
	integrity(t, path)
	left := query(t, path, "SELECT count(*) FROM trials WHERE state NOT IN ('completed', 'diverged')")
	if left == "0" {
		t.Fatalf("the shard had finished before %v: nothing to resume", sig)
	}
	if beforeResume != nil {
		beforeResume()
	}
	r := runEnv(t, dir, nil, append([]string{"run"}, append(args, "--quiet")...)...)
	if r.code != 0 {
		t.Fatalf("re-run after %v: exit %d: %s", sig, r.code, r.stderr)
	}
	exactlyOnce(t, path, strings.Count(wantIndexes(i, 3, shardTrials), " ")+1)
	integrity(t, path)
}

// A shard stopped by SIGTERM (Kubernetes), SIGUSR1 (Slurm --signal=USR1@60)
// or kill -9 resumes when its command runs again, and the merge is still
// complete and bit-identical to an unsharded run.
func TestShardInterruptResumeMerge(t *testing.T) {
	dir := workdir(t, "shardslow.yaml")
	start := time.Now()
	mustRun(t, dir, "run", "shardslow.yaml", "--quiet", "--workers", "2", "--db", "ref.db")
	t.Logf("unsharded reference run: %v", time.Since(start).Round(time.Millisecond))
	want := sweepResults(t, filepath.Join(dir, "ref.db"), "shardslow")

	mdb := filepath.Join(dir, "merged.db")
	// a merge of the stopped shard before its re-run: its unfinished trials
	// come over as pending or interrupted (never running), and the merge
	// after the re-run replaces them with the finished ones
	mergeEarly := func(shard string) func() {
		return func() {
			mustRun(t, dir, "merge", "merged.db", shard)
			if got := query(t, mdb, "SELECT count(*) FROM trials WHERE state = 'running'"); got != "0" {
				t.Errorf("early merge of %s stored %s trials as running", shard, got)
			}
		}
	}
	t.Run("SIGTERM", func(t *testing.T) { interruptShard(t, dir, 0, syscall.SIGTERM, mergeEarly("shard-0.db")) })
	t.Run("SIGUSR1", func(t *testing.T) { interruptShard(t, dir, 1, syscall.SIGUSR1, nil) })
	t.Run("kill-9", func(t *testing.T) { interruptShard(t, dir, 2, syscall.SIGKILL, mergeEarly("shard-2.db")) })
	if t.Failed() {
		return
	}
	mustRun(t, dir, "merge", "merged.db", "shard-0.db", "shard-1.db", "shard-2.db")
	integrity(t, mdb)
	exactlyOnce(t, mdb, shardTrials)
	sameResults(t, "merged interrupted shards vs unsharded", sweepResults(t, mdb, "shardslow"), want)
}

// A sharded run pushes its summary to the Pushgateway under its own
// grouping key (…/shard/I), so shards do not overwrite each other.
func TestShardPushgatewayGrouping(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := workdir(t, "shard.yaml")
	mustRun(t, dir, "run", "shard.yaml", "--quiet", "--shard", "2/3", "--db", "s2.db", "--pushgateway", srv.URL)
	mustRun(t, dir, "run", "shard.yaml", "--quiet", "--db", "all.db", "--pushgateway", srv.URL)
	mu.Lock()
	defer mu.Unlock()
	// the client writes the grouping labels in map order, so compare them
	// as a set: the Pushgateway does the same
	want := []map[string]string{
		{"job": "gradsweep", "sweep": "shard", "shard": "2"},
		{"job": "gradsweep", "sweep": "shard"},
	}
	if len(paths) != len(want) {
		t.Fatalf("pushgateway requests: %q, want %d", paths, len(want))
	}
	for i, p := range paths {
		if got := groupingKey(t, p); !maps.Equal(got, want[i]) {
			t.Errorf("request %d: %q has grouping %v, want %v", i, p, got, want[i])
		}
	}
}

// groupingKey reads "POST /metrics/job/J/k1/v1/k2/v2" as {job: J, k1: v1, k2: v2}.
func groupingKey(t *testing.T, request string) map[string]string {
	t.Helper()
	path, ok := strings.CutPrefix(request, "POST /metrics/")
	parts := strings.Split(path, "/")
	if !ok || len(parts)%2 != 0 {
		t.Fatalf("not a Pushgateway push: %q", request)
	}
	key := map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		if _, dup := key[parts[i]]; dup {
			t.Fatalf("label %q twice in %q", parts[i], request)
		}
		key[parts[i]] = parts[i+1]
	}
	return key
}
