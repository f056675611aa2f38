package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sweep-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sweep")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
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

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func workdir(t *testing.T, files ...string) string {
	dir := t.TempDir()
	for _, f := range files {
		copyFile(t, filepath.Join("testdata", f), filepath.Join(dir, f))
	}
	return dir
}

func query(t *testing.T, db, q string) string {
	t.Helper()
	s, err := tryQuery(db, q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryQuery(db, q string) (string, error) {
	conn, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	rows, err := conn.Query(q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var a, b sql.NullString
		cols, _ := rows.Columns()
		if len(cols) == 1 {
			rows.Scan(&a)
			parts = append(parts, a.String)
		} else {
			rows.Scan(&a, &b)
			parts = append(parts, a.String+"="+b.String)
		}
	}
	return strings.Join(parts, ","), rows.Err()
}

// The exit-code contract, as a table: 0 ok, 1 runtime error, 2 bad usage
// or bad experiment file (nothing written), 3 some trials failed.
func TestExitCodes(t *testing.T) {
	dir := workdir(t, "small.yaml")
	write := func(name, text string) {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	small, _ := os.ReadFile("testdata/small.yaml")
	write("malformed.yaml", "name: x\nmodel: [\n")
	write("unknown.yaml", strings.Replace(string(small), "optimizer.type: [sgd, adam]", "optimizer.type: [sgd, adamm]", 1))
	write("range.yaml", strings.Replace(string(small), "epochs: 5", "epochs: 0", 1))
	write("escape.yaml", strings.Replace(string(small), "name: small", "name: ../../etc/x", 1))
	write("width.yaml", strings.Replace(string(small), "{type: dense, units: 2}", "{type: dense, units: 5}", 1))
	write("missing-csv.yaml", strings.Replace(string(small), "{synthetic: spirals, n: 200, noise: 0.1, validation_split: 0.25}", "{csv: nothere.csv, target: y}", 1))
	cases := []struct {
		args []string
		code int
		want string // in stderr (or stdout for 0)
	}{
		{nil, 2, ""},
		{[]string{"rnu"}, 2, `did you mean "run"`},
		{[]string{"validate", "small.yaml"}, 0, "ok: sweep \"small\", 36 trials (18 grid points × 2 repeats)"},
		{[]string{"validate", "malformed.yaml"}, 2, "malformed.yaml:2: malformed YAML"},
		{[]string{"validate", "nofile.yaml"}, 2, "nofile.yaml: open nofile.yaml: no such file"},
		{[]string{"run", "unknown.yaml"}, 2, `unknown optimizer "adamm"`},
		{[]string{"run", "range.yaml"}, 2, "range.yaml:10: training.epochs: must be an integer from 1"},
		{[]string{"run", "escape.yaml"}, 2, "escape.yaml:1: name: \"../../etc/x\" is not a safe sweep name"},
		{[]string{"run", "width.yaml"}, 2, "width.yaml:4: model: the last layer does not fit"},
		{[]string{"run", "missing-csv.yaml"}, 2, "nothere.csv"},
		{[]string{"run", "small.yaml", "--workers", "0"}, 2, "--workers must be ≥ 1"},
		{[]string{"run", "small.yaml", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"run", "small.yaml", "--shard", "3/3"}, 2, "--shard \"3/3\""},
		{[]string{"list"}, 2, "database sweeps.db"},
	}
	for _, c := range cases {
		r := runCLI(t, dir, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr+r.stdout, c.want) {
			t.Errorf("sweep %v: exit %d, want %d; output %q, want …%s…", c.args, r.code, c.code, r.stderr+r.stdout, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sweeps.db")); err == nil {
		t.Errorf("bad input created a database")
	}
	// a good run, then queries against it
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet"); r.code != 0 || !strings.Contains(r.stdout, "best val_loss (mean over 2 repeats)") {
		t.Fatalf("run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"best", "small"}, 0, "RANK"},
		{[]string{"best", "small", "--metric", "accuracy"}, 2, `unknown metric "accuracy"`},
		{[]string{"best", "nosuch"}, 2, "nosuch"},
		{[]string{"show", "nosuch"}, 2, `no trial or sweep named "nosuch"`},
		{[]string{"export", "small", "--format", "xml"}, 2, "--format must be csv or json"},
		{[]string{"list"}, 0, "small"},
	} {
		r := runCLI(t, dir, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr+r.stdout, c.want) {
			t.Errorf("sweep %v: exit %d, want %d; output %q", c.args, r.code, c.code, r.stderr+r.stdout)
		}
	}
	// a changed experiment is refused, nothing overwritten; --force replaces
	before := query(t, filepath.Join(dir, "sweeps.db"), "select count(*) from epoch_metrics")
	changed := strings.Replace(string(small), "epochs: 5", "epochs: 3", 1)
	write("small.yaml", changed)
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet"); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("changed file: exit %d: %s", r.code, r.stderr)
	}
	if after := query(t, filepath.Join(dir, "sweeps.db"), "select count(*) from epoch_metrics"); after != before {
		t.Errorf("refused run changed the database: %s → %s metric rows", before, after)
	}
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet", "--force"); r.code != 0 {
		t.Errorf("--force: exit %d: %s", r.code, r.stderr)
	}
}

// show --json and export --format json follow the documented shapes.
func TestJSONContract(t *testing.T) {
	dir := workdir(t, "small.yaml")
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet", "--workers", "2"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, dir, "export", "small", "--format", "json")
	var trials []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &trials); err != nil || len(trials) != 36 {
		t.Fatalf("export json: %v, %d trials", err, len(trials))
	}
	var tr map[string]any
	for _, x := range trials {
		if x["state"] == "completed" {
			tr = x
			break
		}
	}
	for _, k := range []string{"id", "params", "state", "iterations", "seed", "metrics"} {
		if _, ok := tr[k]; !ok {
			t.Errorf("trial object lacks %q", k)
		}
	}
	params := tr["params"].(map[string]any)
	if _, ok := params["training.learning_rate"].(float64); !ok {
		t.Errorf("params lack training.learning_rate as a number: %v", params)
	}
	series := tr["metrics"].(map[string]any)["val_loss"].([]any)
	first := series[0].(map[string]any)
	if len(series) != 5 || first["epoch"] != 1.0 || first["iteration"] == nil || first["value"] == nil {
		t.Errorf("val_loss series: %v", series)
	}
	show := runCLI(t, dir, "show", tr["id"].(string), "--json")
	var one map[string]any
	if err := json.Unmarshal([]byte(show.stdout), &one); err != nil || one["id"] != tr["id"] {
		t.Errorf("show --json: %v %v", err, one["id"])
	}
	for _, c := range []string{"list", "best small", "plugins"} {
		r := runCLI(t, dir, append(strings.Fields(c), "--json")...)
		var v any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Errorf("%s --json: %v: %s", c, err, r.stdout)
		}
	}
}

// Results do not depend on the number of workers.
func TestWorkersBitIdentical(t *testing.T) {
	export := func(workers string) string {
		dir := workdir(t, "small.yaml")
		if r := runCLI(t, dir, "run", "small.yaml", "--quiet", "--workers", workers); r.code != 0 {
			t.Fatal(r.stderr)
		}
		return exportNoClock(t, dir, "sweeps.db", "small")
	}
	if a, b := export("1"), export("2"); a != b {
		t.Error("1 worker and 2 workers give different results")
	}
}

// Trials that borrow the idle cores (wide layers: their products split;
// one worker lends the other cores all along, two at the tail) store what
// one thread per trial (GOMAXPROCS=1) stores, bit for bit.
func TestLentThreadsBitIdentical(t *testing.T) {
	export := func(env []string, workers string) string {
		dir := workdir(t, "wide.yaml")
		if r := runEnv(t, dir, env, "run", "wide.yaml", "--quiet", "--workers", workers); r.code != 0 {
			t.Fatal(r.stderr)
		}
		return exportNoClock(t, dir, "sweeps.db", "wide")
	}
	one := export([]string{"GOMAXPROCS=1"}, "1")
	for _, c := range []struct {
		env     []string
		workers string
	}{{[]string{"GOMAXPROCS=3"}, "1"}, {[]string{"GOMAXPROCS=3"}, "2"}, {nil, "2"}} {
		if got := export(c.env, c.workers); got != one {
			t.Errorf("%v --workers %s: results differ from one thread per trial", c.env, c.workers)
		}
	}
}

func integrity(t *testing.T, db string) {
	t.Helper()
	if got := query(t, db, "pragma integrity_check"); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}

// every trial ran to the end exactly once: one completed row each, and
// epoch rows equal to its epochs (none doubled by a re-run)
func exactlyOnce(t *testing.T, db string, trials int) {
	t.Helper()
	if got := query(t, db, "select count(*) from trials where state in ('completed','diverged')"); got != itoa(trials) {
		t.Errorf("%s finished trials, want %d (states: %s)", got, trials, query(t, db, "select state, count(*) from trials group by state"))
	}
	if got := query(t, db, "select count(*) from (select t.id from trials t join epoch_metrics m on m.trial = t.id where m.name = 'train_loss' group by t.id having count(*) != t.epochs)"); got != "0" {
		t.Errorf("%s trials have a train_loss series longer or shorter than their epochs", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func startRun(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// waitFinished waits until at least n trials are finished in the database.
func waitFinished(t *testing.T, db string, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s, err := tryQuery(db, "select count(*) from trials where state in ('completed','diverged')")
		if got, _ := strconv.Atoi(s); err == nil && got >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d trials finished in time", n)
}

// Ctrl-C: running trials stop and are kept as interrupted, the process
// exits non-zero within seconds, and a second run resumes and completes
// every trial exactly once.
func TestInterruptAndResume(t *testing.T) {
	dir := workdir(t, "slow.yaml")
	db := filepath.Join(dir, "sweeps.db")
	cmd, out := startRun(t, dir, "slow.yaml", "--workers", "2")
	waitFinished(t, db, 3)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v\n%s", err, out)
	}
	if d := time.Since(sent); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
	integrity(t, db)
	if got := query(t, db, "select count(*) from trials where state = 'running'"); got != "0" {
		t.Errorf("%s trials left running after a clean stop", got)
	}
	if !regexp.MustCompile(`interrupted`).MatchString(out.String()) {
		t.Errorf("no word of the interruption: %s", out)
	}
	if r := runCLI(t, dir, "run", "slow.yaml", "--quiet"); r.code != 0 {
		t.Fatalf("resume: %d %s", r.code, r.stderr)
	}
	exactlyOnce(t, db, 40)
	integrity(t, db)
}

// kill -9 mid-run, then resume: every trial exactly once, database intact.
func TestKill9AndResume(t *testing.T) {
	dir := workdir(t, "slow.yaml")
	db := filepath.Join(dir, "sweeps.db")
	cmd, _ := startRun(t, dir, "slow.yaml", "--workers", "2", "--quiet")
	waitFinished(t, db, 4)
	cmd.Process.Kill()
	cmd.Wait()
	integrity(t, db)
	if r := runCLI(t, dir, "run", "slow.yaml", "--quiet"); r.code != 0 {
		t.Fatalf("resume after kill -9: %d %s", r.code, r.stderr)
	}
	exactlyOnce(t, db, 40)
	integrity(t, db)
}

// Several processes on one database share the grid without losing or
// doubling a trial.
func TestProcessesShareOneDatabase(t *testing.T) {
	dir := workdir(t, "slow.yaml")
	db := filepath.Join(dir, "sweeps.db")
	// create the sweep first so the processes race only on claiming
	if r := runCLI(t, dir, "validate", "slow.yaml"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := runCLI(t, dir, "run", "slow.yaml", "--quiet", "--workers", "1"); r.code != 0 {
				t.Errorf("process: %d %s", r.code, r.stderr)
			}
		}()
	}
	wg.Wait()
	exactlyOnce(t, db, 40)
	integrity(t, db)
	if got := query(t, db, "select count(distinct owner) from trials"); got < "2" {
		t.Logf("only %s owner(s) claimed trials", got)
	}
}

// An unknown sweep is named once: `sweep "nosuch": not found in …`, not
// `load sweep "nosuch": sweep "nosuch": …`.
func TestUnknownSweepNamedOnce(t *testing.T) {
	dir := workdir(t, "small.yaml")
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, cmd := range []string{"best", "report", "export"} {
		r := runCLI(t, dir, cmd, "nosuch")
		if r.code != 2 || strings.Count(r.stderr, `"nosuch"`) != 1 || !strings.Contains(r.stderr, "not found") {
			t.Errorf("sweep %s nosuch: exit %d: %q", cmd, r.code, r.stderr)
		}
	}
}

// 'sweep help run' is 'sweep run -h'; 'sweep --version' says which build
// this is.
func TestHelpCommandAndVersion(t *testing.T) {
	r := runCLI(t, t.TempDir(), "help", "run")
	if r.code != 0 || !strings.Contains(r.stderr, "usage: sweep run [flags] FILE") || !strings.Contains(r.stderr, "-workers") {
		t.Errorf("help run: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, t.TempDir(), "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sweep ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("--version: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
}
