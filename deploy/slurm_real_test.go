package deploy

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ---- a real Slurm: one node on loopback (slurm/local-cluster.sh) ----

// slurmCluster is a one-node Slurm started by slurm/local-cluster.sh in a
// folder of its own.
type slurmCluster struct {
	dir string
}

// startSlurm starts the cluster and registers its stop. It skips the test
// only where Slurm cannot run: the packages are not installed, or this is
// not root (slurmd starts jobs as their user).
func startSlurm(t *testing.T) *slurmCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Slurm cluster and runs sweeps on it")
	}
	for _, b := range []string{"munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "squeue", "sinfo"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("Slurm is not installed (no %s on PATH): apt-get install slurm-wlm munge, as scripts/test.sh does", b)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("a one-node Slurm needs root (slurmd starts each job as its user): run go test as root to include this test")
	}
	// not t.TempDir(): munged wants every folder above its socket open to all
	dir, err := os.MkdirTemp("", "gradsweep-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &slurmCluster{dir: dir}
	script, _ := filepath.Abs("slurm/local-cluster.sh")
	// the last argument: if this test process dies, a watchdog stops the cluster
	cmd := exec.Command("bash", script, "start", c.dir, "", "", strconv.Itoa(os.Getpid()))
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { c.stop(t) })
	if err != nil {
		t.Fatalf("local-cluster.sh start: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	return c
}

// stop cancels every job, stops the daemons by their pid files and checks
// that none of them is left.
func (c *slurmCluster) stop(t *testing.T) {
	if t.Failed() {
		for _, f := range []string{"slurmctld.log", "slurmd.log"} {
			if b, err := os.ReadFile(filepath.Join(c.dir, "log", f)); err == nil {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("last lines of %s:\n%s", f, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
	}
	var pids []int
	for _, f := range []string{"munged.pid", "slurmctld.pid", "slurmd.pid", "watchdog.pid"} {
		if b, err := os.ReadFile(filepath.Join(c.dir, f)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	script, _ := filepath.Abs("slurm/local-cluster.sh")
	if out, err := exec.Command("bash", script, "stop", c.dir).CombinedOutput(); err != nil {
		t.Errorf("local-cluster.sh stop: %v\n%s", err, out)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmdline), c.dir) ||
				strings.Contains(string(cmdline), "slurm") || strings.Contains(string(cmdline), "munge") {
				t.Errorf("process %d (%s) still runs after stop", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
}

// env is the environment of the cluster's commands and jobs: this
// process's, without scheduler variables, with sweep on PATH, the cluster's
// slurm.conf, and TMPDIR (a job's "local disk") set to tmp.
func (c *slurmCluster) env(tmp string) []string {
	return baseEnv("SLURM_CONF="+filepath.Join(c.dir, "slurm.conf"), "TMPDIR="+tmp)
}

// sbatch submits from dir (the job's submit and working folder) and
// returns the job id.
func (c *slurmCluster) sbatch(t *testing.T, dir string, args ...string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "node"), 0o755)
	code, out := run(t, dir, c.env(filepath.Join(dir, "node")), "sbatch", append([]string{"--parsable"}, args...)...)
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if code != 0 || !regexp.MustCompile(`^\d+$`).MatchString(id) {
		t.Fatalf("sbatch %q: exit %d\n%s", args, code, out)
	}
	return id
}

func (c *slurmCluster) command(t *testing.T, name string, args ...string) string {
	t.Helper()
	code, out := run(t, c.dir, c.env(c.dir), name, args...)
	if code != 0 {
		t.Fatalf("%s %q: exit %d\n%s", name, args, code, out)
	}
	return out
}

// slurmJob is one record of 'scontrol show job': a job, or a task of an
// array (or the still pending tasks of one, ArrayTaskId=2-3).
type slurmJob map[string]string

func (j slurmJob) String() string {
	id := j["JobId"]
	if j["ArrayTaskId"] != "" {
		id = j["ArrayJobId"] + "_" + j["ArrayTaskId"]
	}
	return fmt.Sprintf("%s %s (%s) exit %s restarts %s", id, j["JobState"], j["Reason"], j["ExitCode"], j["Restarts"])
}

// jobs is every record of job (every task of an array job).
func (c *slurmCluster) jobs(t *testing.T, job string) []slurmJob {
	t.Helper()
	var recs []slurmJob
	sc := bufio.NewScanner(strings.NewReader(c.command(t, "scontrol", "--oneliner", "show", "job", job)))
	for sc.Scan() {
		rec := slurmJob{}
		for _, f := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(f, "="); ok {
				rec[k] = v
			}
		}
		if rec["JobId"] != "" {
			recs = append(recs, rec)
		}
	}
	return recs
}

var finalStates = []string{"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}

// done reports whether every record has a final state.
func done(recs []slurmJob) bool {
	for _, r := range recs {
		if !slices.Contains(finalStates, r["JobState"]) {
			return false
		}
	}
	return len(recs) > 0
}

// waitJob polls job until cond holds; tick is called at every poll.
func (c *slurmCluster) waitJob(t *testing.T, job string, limit time.Duration, what string, cond func([]slurmJob) bool, tick func()) []slurmJob {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		recs := c.jobs(t, job)
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: not %s within %v: %v", job, what, limit, recs)
		}
		if tick != nil {
			tick()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func slurmTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm
}

// checkMergeWaited checks that the merge job started only after every task
// of the array had ended.
func checkMergeWaited(t *testing.T, merge slurmJob, tasks []slurmJob) {
	t.Helper()
	start := slurmTime(t, merge["StartTime"])
	for _, task := range tasks {
		if end := slurmTime(t, task["EndTime"]); start.Before(end) {
			t.Errorf("the merge started at %v, before task %v ended (%v)", start, task, end)
		}
	}
}

// scenario is one submission folder: the experiment, results/, the jobs'
// output files and node/ (their TMPDIR).
type scenario struct {
	dir, exp, name string
}

func newScenario(t *testing.T, name, yaml string) *scenario {
	t.Helper()
	dir := t.TempDir()
	exp := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(exp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return &scenario{dir: dir, exp: exp, name: experimentName(yaml)}
}

// reference runs the experiment unsharded into ref.db.
func (s *scenario) reference(t *testing.T) string {
	ref := filepath.Join(s.dir, "ref.db")
	if code, out := run(t, s.dir, baseEnv(), sweepBinary(t), "run", s.exp, "--quiet", "--workers", "1", "--db", ref); code != 0 {
		t.Errorf("unsharded run: exit %d\n%s", code, out)
	}
	return ref
}

func (s *scenario) merged() string { return filepath.Join(s.dir, "results", "merged.db") }

func (s *scenario) output(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, file))
	if err != nil {
		t.Fatalf("job output: %v", err)
	}
	return string(b)
}

// checkIdentical compares the merged database with the unsharded run,
// every trial, per-epoch metric and batch loss.
func (s *scenario) checkIdentical(t *testing.T, ref string) {
	t.Helper()
	if exportNoClock(t, s.merged(), s.name) != exportNoClock(t, ref, s.name) {
		t.Errorf("%s: the merged Slurm array differs from an unsharded run", s.name)
	}
	if got := query(t, s.merged(), "PRAGMA integrity_check"); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
	if got := query(t, s.merged(), "SELECT count(*) FROM trials WHERE state NOT IN ('completed', 'diverged')"); got != "0" {
		t.Errorf("%s unfinished trials in the merged file", got)
	}
}

// snapshot copies a shard file the array saved into folder dir, to read
// it without leaving -wal or -shm files beside it.
func snapshot(t *testing.T, db, dir string) (string, bool) {
	b, err := os.ReadFile(db)
	if err != nil {
		return "", false
	}
	f := filepath.Join(dir, filepath.Base(db))
	os.Remove(f + "-wal")
	os.Remove(f + "-shm")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f, true
}

// The shipped sbatch scripts on a real one-node Slurm (slurmctld, slurmd and
// munged from Debian's packages, started by slurm/local-cluster.sh). The
// submissions override only what a 2-CPU node needs (--cpus-per-task,
// --mem) and, for the time limit, --time and --signal.
func TestRealSlurm(t *testing.T) {
	c := startSlurm(t)
	sweepBinary(t)
	script, _ := filepath.Abs("slurm/sweep.sbatch")
	mergeScript, _ := filepath.Abs("slurm/merge.sbatch")
	small := []string{"--cpus-per-task=1", "--mem=300M"}
	// Slurm checks time limits (and sends --signal) every 30 s, not at
	// the moment asked for. A job that waits for its USR1 tells when these
	// checks happen, so that the time-limit scenario can start its task
	// shortly before one; it holds one CPU for at most 30 s meanwhile.
	tickFile := filepath.Join(c.dir, "tick")
	probe := c.sbatch(t, c.dir, "--time=1", "--signal=B:USR1@55", "--cpus-per-task=1", "--mem=10M", "--output=/dev/null",
		"--wrap", "trap 'date +%s.%N > "+tickFile+"; exit 0' USR1; while :; do sleep 0.1; done")
	submit := func(s *scenario, extra ...string) (string, string) {
		jid := c.sbatch(t, s.dir, slices.Concat(small, extra, []string{script, s.exp})...)
		mid := c.sbatch(t, s.dir, slices.Concat(small, []string{"--dependency=afterok:" + jid, mergeScript, s.name})...)
		return jid, mid
	}

	// A bad experiment file: every task fails with exit 2, says what to
	// do, and the merge never runs.
	t.Run("failed task keeps the merge waiting", func(t *testing.T) {
		s := newScenario(t, "broken", "name: broken\nseed: 1\ndataset: {builtin: iris}\nmodel:\n  - {type: dense, units: 3}\n"+
			"loss: cross_entropy\noptimizer: {type: sgd}\ntraining: {learning_rate: 0.1, batch_size: 16, epochs: 2, bogus: 1}\n")
		jid, mid := submit(s)
		tasks := c.waitJob(t, jid, 2*time.Minute, "done", done, nil)
		if len(tasks) != 4 {
			t.Fatalf("%d tasks: %v", len(tasks), tasks)
		}
		for _, task := range tasks {
			if task["JobState"] != "FAILED" || task["ExitCode"] != "2:0" {
				t.Errorf("task %v: want FAILED with exit 2", task)
			}
		}
		merge := c.waitJob(t, mid, time.Minute, "DependencyNeverSatisfied", func(r []slurmJob) bool {
			return len(r) == 1 && r[0]["Reason"] == "DependencyNeverSatisfied"
		}, nil)
		if merge[0]["JobState"] != "PENDING" {
			t.Errorf("merge job %v: want PENDING", merge[0])
		}
		out := s.output(t, "gradsweep-"+jid+"_2.out")
		for _, want := range []string{
			s.exp + ":8: training.bogus", // sweep's own message
			"shard 2/4: the experiment file or the flags are wrong",
			"fix " + s.exp + ", then: sbatch --array=2 deploy/slurm/sweep.sbatch " + s.exp,
			"scancel the waiting merge job, then: sbatch --dependency=afterok:<new job id>,afterany:" + jid + " deploy/slurm/merge.sbatch NAME",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("task 2's output lacks %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(s.merged()); err == nil {
			t.Error("a merged file without the shards")
		}
		c.command(t, "scancel", mid)
	})

	// The array and the merge, as deploy/SHARDING.md submits them.
	t.Run("array and merge", func(t *testing.T) {
		s := newScenario(t, "quickstart", mustRead(t, "../experiments/quickstart.yaml"))
		start := time.Now()
		jid, mid := submit(s)
		ref := s.reference(t)
		merge := c.waitJob(t, mid, 3*time.Minute, "done", done, nil)
		t.Logf("array and merge: %v", time.Since(start).Round(time.Second))
		tasks := c.jobs(t, jid)
		if merge[0]["JobState"] != "COMPLETED" || len(tasks) != 4 {
			t.Fatalf("merge %v, tasks %v\n%s", merge, tasks, s.output(t, "gradsweep-merge-"+mid+".out"))
		}
		for _, task := range tasks {
			if task["JobState"] != "COMPLETED" || task["ExitCode"] != "0:0" {
				t.Errorf("task %v", task)
			}
		}
		checkMergeWaited(t, merge[0], tasks)
		out := s.output(t, "gradsweep-merge-"+mid+".out")
		if !strings.Contains(out, "merged 4 shards into "+s.merged()) || !strings.Contains(out, "RANK") {
			t.Errorf("merge output:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "results", "report", "index.html")); err != nil {
			t.Errorf("no report: %v", err)
		}
		s.checkIdentical(t, ref)
		// nothing left on the nodes' local disk
		if left, _ := filepath.Glob(filepath.Join(s.dir, "node", "gradsweep-*")); len(left) > 0 {
			t.Errorf("scratch folders left on the node: %q", left)
		}
	})

	// The time limit for real: Slurm itself sends USR1 to the batch shell
	// of the task whose trials outlast its --time; the task saves its shard
	// with the running trials stored as interrupted, requeues itself and
	// resumes in its next run; the merge waits for it.
	t.Run("time limit, requeue and resume", func(t *testing.T) {
		s := newScenario(t, "timelimit", timeLimitExperiment(t))
		start := time.Now()
		refDone := make(chan string)
		go func() { refDone <- s.reference(t) }()
		// Slurm sends the signal at the first of its checks (every 30 s)
		// that comes less than N + 30 s before the limit: with --time=1 and
		// @28, the first check 2 s or more after the start. Submitted 12 s
		// before a check, task 1 starts a few seconds later and gets USR1
		// some 10 s after its start, while its shard runs for 30 s or more.
		c.waitJob(t, probe, time.Minute, "done", done, nil)
		b, err := os.ReadFile(tickFile)
		tick, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil || tick == 0 {
			t.Fatalf("the probe job got no USR1 from Slurm (%v): %q", err, b)
		}
		phase := math.Mod(float64(time.Now().UnixNano())/1e9-tick, 30)
		time.Sleep(time.Duration((math.Mod(18-phase+30, 30)) * float64(time.Second)))
		jid, mid := submit(s, "--time=1", "--signal=B:USR1@28")
		saved := filepath.Join(s.dir, "results", "shard-1.db")
		var interrupted, finished string
		snapDir := t.TempDir()
		merge := c.waitJob(t, mid, 5*time.Minute, "done", done, func() {
			if interrupted != "" {
				return
			}
			if snap, ok := snapshot(t, saved, snapDir); ok {
				if n := query(t, snap, "SELECT count(*) FROM trials WHERE state = 'interrupted'"); n != "0" {
					interrupted = n
					finished = query(t, snap, "SELECT count(*) FROM trials WHERE state IN ('completed', 'diverged')")
					if r := query(t, snap, "SELECT count(*) FROM trials WHERE state = 'running'"); r != "0" {
						t.Errorf("the saved shard holds %s running trials", r)
					}
				}
			}
		})
		ref := <-refDone
		t.Logf("time limit, requeue and resume: %v", time.Since(start).Round(time.Second))
		tasks := c.jobs(t, jid)
		out := s.output(t, "gradsweep-"+jid+"_1.out")
		if merge[0]["JobState"] != "COMPLETED" {
			t.Fatalf("merge %v; tasks %v\n%s", merge, tasks, out)
		}
		if interrupted == "" {
			t.Fatalf("task 1 never saved its shard with interrupted trials: %v\n%s", tasks, out)
		}
		t.Logf("task 1 saved %s finished and %s interrupted trials before its requeue", finished, interrupted)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "shard 1/4: USR1") || strings.HasPrefix(l, "resuming") {
				t.Log(l)
			}
		}
		for _, task := range tasks {
			if task["JobState"] != "COMPLETED" || task["ExitCode"] != "0:0" {
				t.Errorf("task %v", task)
			}
			if task["ArrayTaskId"] == "1" {
				if n, _ := strconv.Atoi(task["Restarts"]); n < 1 {
					t.Errorf("task 1 was not requeued: %v", task)
				}
			}
		}
		checkMergeWaited(t, merge[0], tasks)
		// the first run: USR1 from Slurm, exit 130, saved, requeued; then resumed
		for _, re := range []string{
			`(?s)shard 1/4: USR1 at .*shard 1/4: sweep exited 130; database saved as ` + regexp.QuoteMeta(saved) +
				`\nshard 1/4: requeueing ` + jid + `_1 to resume the shard\n`,
			`resuming shard 1/4 from ` + regexp.QuoteMeta(saved),
			`shard 1/4: sweep exited 0; database saved`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("task 1's output does not match %s:\n%s", re, out)
			}
		}
		if strings.Contains(out, "TERM at") {
			t.Errorf("task 1 reached its time limit (TERM) instead of stopping at USR1:\n%s", out)
		}
		s.checkIdentical(t, ref)
	})

	// scancel of one running task: SIGTERM to all of its processes; the
	// task saves its shard and says how to go on; re-submitted with
	// --array=I, it resumes; the merge is submitted again.
	t.Run("scancel and re-submit one task", func(t *testing.T) {
		s := newScenario(t, "shardslow", strings.Replace(mustRead(t, "../cmd/sweep/testdata/shardslow.yaml"), "epochs: 60", "epochs: 120", 1))
		start := time.Now()
		jid, mid := submit(s)
		refDone := make(chan string)
		go func() { refDone <- s.reference(t) }()
		local := filepath.Join(s.dir, "node", "gradsweep-"+jid+"-2", "shard-2.db")
		c.waitJob(t, jid+"_2", 2*time.Minute, "running a trial", func(r []slurmJob) bool {
			if len(r) != 1 || r[0]["JobState"] != "RUNNING" {
				return false
			}
			n, err := tryQuery(local, "SELECT count(*) FROM trials WHERE state = 'completed'")
			return err == nil && n != "0"
		}, nil)
		c.command(t, "scancel", jid+"_2")
		task := c.waitJob(t, jid+"_2", time.Minute, "done", done, nil)[0]
		out := s.output(t, "gradsweep-"+jid+"_2.out")
		if task["JobState"] != "CANCELLED" {
			t.Errorf("task 2: %v", task)
		}
		saved := filepath.Join(s.dir, "results", "shard-2.db")
		snap, ok := snapshot(t, saved, t.TempDir())
		if !ok {
			t.Fatalf("task 2 did not save its shard\n%s", out)
		}
		if query(t, snap, "SELECT count(*) FROM trials WHERE state = 'interrupted'") == "0" ||
			query(t, snap, "SELECT count(*) FROM trials WHERE state = 'running'") != "0" {
			t.Errorf("saved shard 2: %s", query(t, snap, "SELECT group_concat(state) FROM trials"))
		}
		for _, want := range []string{
			"shard 2/4: TERM at", "shard 2/4: sweep exited 130; database saved as " + saved,
			"shard 2/4: stopped by a signal (TERM); finished trials are saved.",
			"to finish the shard: sbatch --array=2 deploy/slurm/sweep.sbatch " + s.exp + " (it resumes from " + saved + ")",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("task 2's output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "requeueing") {
			t.Errorf("a cancelled task requeued itself:\n%s", out)
		}
		// the merge waits for ever; as the task says: cancel it, re-submit
		// the task and the merge
		c.waitJob(t, mid, time.Minute, "DependencyNeverSatisfied", func(r []slurmJob) bool {
			return len(r) == 1 && r[0]["Reason"] == "DependencyNeverSatisfied"
		}, nil)
		c.command(t, "scancel", mid)
		jid2 := c.sbatch(t, s.dir, slices.Concat(small, []string{"--array=2", script, s.exp})...)
		mid2 := c.sbatch(t, s.dir, slices.Concat(small, []string{"--dependency=afterok:" + jid2 + ",afterany:" + jid, mergeScript, s.name})...)
		merge := c.waitJob(t, mid2, 3*time.Minute, "done", done, nil)
		ref := <-refDone
		t.Logf("scancel and re-submit: %v", time.Since(start).Round(time.Second))
		if merge[0]["JobState"] != "COMPLETED" {
			t.Fatalf("merge %v\n%s", merge, s.output(t, "gradsweep-merge-"+mid2+".out"))
		}
		tasks := append(c.jobs(t, jid), c.jobs(t, jid2)...)
		checkMergeWaited(t, merge[0], tasks)
		if out := s.output(t, "gradsweep-"+jid2+"_2.out"); !strings.Contains(out, "resuming shard 2/4 from "+saved) {
			t.Errorf("the re-submitted task did not resume:\n%s", out)
		}
		s.checkIdentical(t, ref)
	})
}

// timeLimitExperiment is a grid whose shard 1 of 4 takes some 40 s on this
// machine and the other shards a moment: the last key varies fastest, so
// trial i has epochs[i mod 4]. Its slow trials' epochs are calibrated by a
// short run here, so that shard 1 takes ≥ 24 s of CPU time and about 40 s
// of wall time at the machine's present load: it runs past the moment
// Slurm sends USR1, some 10 s after its start, and past the next of
// Slurm's checks 30 s later should a loaded machine start the task after
// the first (a 20 s shard once finished before any signal came). The trials are short (about a second), so that each run of
// the task finishes some of them before Slurm stops it.
func timeLimitExperiment(t *testing.T) string {
	const head = `name: timelimit
seed: 11
dataset: {synthetic: spirals, n: 2000, noise: 0.1, validation_split: 0.2}
model:
  - {type: dense, units: 64, init: he}
  - {type: tanh}
  - {type: dense, units: 64, init: he}
  - {type: tanh}
  - {type: dense, units: 2}
loss: cross_entropy
optimizer: {type: sgd}
`
	const calib, trials = 40, 16
	dir := t.TempDir()
	f := filepath.Join(dir, "calibrate.yaml")
	os.WriteFile(f, []byte(head+fmt.Sprintf("training: {learning_rate: 0.01, batch_size: 4, epochs: %d}\n", calib)), 0o644)
	cmd := exec.Command(sweepBinary(t), "run", f, "--quiet", "--workers", "1", "--db", filepath.Join(dir, "c.db"))
	cmd.Env = baseEnv()
	begin := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("calibration: %v\n%s", err, out)
	}
	wall := time.Since(begin).Seconds() / calib
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / calib
	epochs := int(math.Ceil(max(24/cpu, 40/wall) / trials))
	t.Logf("calibration: %.1f ms of CPU, %.1f ms of wall time per epoch: %d epochs per slow trial", cpu*1000, wall*1000, epochs)
	lrs := make([]string, trials)
	for i := range lrs {
		lrs[i] = strconv.FormatFloat(0.002*float64(i+1), 'g', -1, 64)
	}
	return head + fmt.Sprintf("training: {learning_rate: 0.01, batch_size: 4, epochs: 1}\ngrid:\n  training.learning_rate: [%s]\n  training.epochs: [1, %d, 2, 3]\n",
		strings.Join(lrs, ", "), epochs)
}
