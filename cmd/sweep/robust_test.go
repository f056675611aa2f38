package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Hostile flags, files and environments: each is refused with exit 2
// before anything is written, or fails with exit 1 when it is not the
// user's to fix; a crash is never exit 2.

// twoTrials is small.yaml reduced to 2 trials.
func twoTrials(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "training.learning_rate: [0.01, 0.1, 1.0]", "training.learning_rate: [0.1]", 1)
	s = strings.Replace(s, "training.batch_size: [1, 8, full]", "training.batch_size: [8]", 1)
	s = strings.Replace(s, "optimizer.type: [sgd, adam]", "optimizer.type: [sgd]", 1)
	if err := os.WriteFile(filepath.Join(dir, "two.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nothingWritten fails if dir holds a database or its owners folder.
func nothingWritten(t *testing.T, dir, what string) {
	t.Helper()
	for _, name := range []string{"sweeps.db", "sweeps.db.owners", "out.db", "out.db.owners"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: %s was written", what, name)
		}
	}
}

func TestRunFlagLimits(t *testing.T) {
	dir := workdir(t, "small.yaml")
	twoTrials(t, dir)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--workers", "99999999999"}, nil, "--workers must be ≥ 1 and ≤ 1000000"},
		{[]string{"--workers", "-3"}, nil, "--workers must be ≥ 1 and ≤ 1000000"},
		{[]string{"--shard", "0/99999999999"}, nil, `--shard "0/99999999999"`},
		{[]string{"--shard", "0/1000001"}, nil, "N ≤ 1000000"},
		{[]string{"--shard-count", "2000000"}, []string{"JOB_COMPLETION_INDEX=0"}, "--shard-count 2000000"},
		{nil, []string{"JOB_COMPLETION_INDEX=z"}, `JOB_COMPLETION_INDEX="z": not an integer`},
		{nil, []string{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2", "SLURM_ARRAY_TASK_MIN=x"}, `SLURM_ARRAY_TASK_MIN="x": not an integer`},
		{nil, []string{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=y"}, `SLURM_ARRAY_TASK_COUNT="y": not an integer`},
		{nil, []string{"SLURM_ARRAY_TASK_ID=1x", "SLURM_ARRAY_TASK_COUNT=2"}, `SLURM_ARRAY_TASK_ID="1x": not an integer`},
		{nil, []string{"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=2000000"}, "at most 1000000 shards"},
		{[]string{"--metrics-addr", busy.Addr().String()}, nil, "--metrics-addr " + busy.Addr().String()},
		{[]string{"--metrics-addr", "127.0.0.1:notaport"}, nil, "--metrics-addr"},
		{[]string{"--pushgateway", "not a url"}, nil, `--pushgateway "not a url"`},
		{[]string{"--pushgateway", "localhost:9091"}, nil, "want an http:// or https:// URL"},
		{[]string{"--pushgateway", "http://"}, nil, "want an http:// or https:// URL"},
	} {
		r := runEnv(t, dir, c.env, append([]string{"run", "two.yaml", "--quiet"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %v (env %v): exit %d, want 2 with …%s…: %.300s", c.args, c.env, r.code, c.want, r.stderr)
		}
		nothingWritten(t, dir, fmt.Sprint(c.args, c.env))
		for _, name := range []string{"sweeps.db", "sweeps.db.owners", "sweeps.db-wal", "sweeps.db-shm"} {
			os.RemoveAll(filepath.Join(dir, name)) // each case on its own
		}
	}
	// more workers than trials: capped, not started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "two.yaml", "--quiet", "--workers", "1000000")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("--workers 1000000 on 2 trials: %v (a 20 s limit): %s", err, out)
	}
	for _, c := range [][]string{{"--batch", "0"}, {"--batch", "-1"}, {"--samples", "0"}, {"--threads", "-1"}} {
		if r := runCLI(t, dir, append([]string{"bench"}, c...)...); r.code != 2 || !strings.Contains(r.stderr, "must be ≥ 1") {
			t.Errorf("bench %v: exit %d: %s", c, r.code, r.stderr)
		}
	}
}

// A Pushgateway that never answers costs the run at most pushTimeout.
func TestHangingPushgateway(t *testing.T) {
	dir := t.TempDir()
	twoTrials(t, dir)
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer gw.Close()
	defer close(release)
	start := time.Now()
	r := runCLI(t, dir, "run", "two.yaml", "--quiet", "--pushgateway", gw.URL)
	if r.code != 0 || !strings.Contains(r.stderr, "pushgateway") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if d := time.Since(start); d > pushTimeout+5*time.Second {
		t.Errorf("a hanging gateway held the run %v", d)
	}
}

// crashBinary is the sweep binary built with -tags sweepcrash: it has
// commands that crash in each way a bug could, and a hook that holds run
// while it loads (crashhooks.go).
var crashBinary = sync.OnceValues(func() (string, error) {
	path := filepath.Join(filepath.Dir(binary), "sweep-crash")
	out, err := exec.Command("go", "build", "-tags", "sweepcrash", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return path, nil
})

func runCrash(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	bin, err := crashBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, cleanEnv(env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode() // -1 when killed by a signal
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// A panic in a command is an internal error (exit 1, with its stack); a
// crash the command cannot recover (a panic on another goroutine, a
// runtime fatal error such as out of memory) is never exit 2, the code
// for input the user can fix.
func TestCrashesAreNotBadInput(t *testing.T) {
	dir := t.TempDir()
	r := runCrash(t, dir, nil, "crash-panic")
	if r.code != 1 || !strings.Contains(r.stderr, "sweep: internal error: assignment to entry in nil map") ||
		!strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("panic: exit %d, want 1 with the message and the stack: %s", r.code, r.stderr)
	}
	for _, c := range []struct{ cmd, want string }{
		{"crash-goroutine", "panic: boom on a goroutine"},
		{"crash-oom", "fatal error: runtime: out of memory"},
	} {
		r := runCrash(t, dir, nil, c.cmd)
		if r.code == 2 || r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d (want neither 0 nor 2): %.300s", c.cmd, r.code, r.stderr)
		}
	}
}

// SIGTERM while the experiment loads exits 130, like one during the
// sweep, and nothing is written.
func TestSignalWhileLoading(t *testing.T) {
	dir := workdir(t, "small.yaml")
	bin, err := crashBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "small.yaml", "--quiet")
	cmd.Dir, cmd.Env = dir, cleanEnv("SWEEP_TEST_LOAD_DELAY=20s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "sweep: test: loading") {
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("SIGTERM while loading: %v, want exit 130", err)
	}
	nothingWritten(t, dir, "SIGTERM while loading")
}

// readOnlyDir makes dir unwritable for the test's duration: chattr +i
// (which binds root too), else chmod for a non-root user.
func readOnlyDir(t *testing.T, dir string) {
	t.Helper()
	if err := exec.Command("chattr", "+i", dir).Run(); err == nil {
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
		return
	}
	if os.Geteuid() == 0 {
		t.Skip("running as root without chattr: cannot make a folder read-only")
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// The commands that only read open the database read-only: they work in a
// folder they may not write, never create the owners folder, and leave the
// file as it was. A database that cannot be created names the real cause.
func TestReadCommandsOpenReadOnly(t *testing.T) {
	dir := workdir(t, "small.yaml")
	twoTrials(t, dir)
	if r := runCLI(t, dir, "run", "two.yaml", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(dir, "sweeps.db")
	if err := os.RemoveAll(db + ".owners"); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, db)
	trial := strings.SplitN(query(t, db, "select id from trials order by idx limit 1"), ",", 2)[0]
	out := t.TempDir()
	readOnlyDir(t, dir)
	for _, args := range [][]string{{"list"}, {"best", "small"}, {"show", "small"}, {"show", trial},
		{"export", "small"}, {"report", "small", "--out", out}} {
		if r := runCLI(t, dir, args...); r.code != 0 {
			t.Errorf("%v in a read-only folder: exit %d: %s", args, r.code, r.stderr)
		}
	}
	r := runCLI(t, dir, "run", "two.yaml", "--quiet", "--db", "new.db")
	if r.code != 1 || !regexp.MustCompile(`cannot create the database: .*(permission denied|operation not permitted)`).MatchString(r.stderr) {
		t.Errorf("new database in a read-only folder: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Lstat(db + ".owners"); err == nil {
		t.Error("a reading command created the owners folder")
	}
	if fileHash(t, db) != before {
		t.Error("reading commands changed the database file")
	}
}

// show reports a database error as such (exit 1), not as a missing name.
func TestShowDatabaseError(t *testing.T) {
	dir := t.TempDir()
	twoTrials(t, dir)
	if r := runCLI(t, dir, "run", "two.yaml", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(dir, "sweeps.db")
	corruptTable(t, db, "epochs")
	for _, args := range [][]string{{"show", "small"}, {"best", "small"}} {
		r := runCLI(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "malformed") {
			t.Errorf("%v on a corrupt table: exit %d, want 1 with the database's error: %s", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, dir, "show", "nosuch"); r.code != 2 || !strings.Contains(r.stderr, `no trial or sweep named "nosuch"`) {
		t.Errorf("show nosuch: exit %d: %s", r.code, r.stderr)
	}
}

// corruptTable overwrites the root page of table with garbage.
func corruptTable(t *testing.T, db, table string) {
	t.Helper()
	root := query(t, db, "select rootpage from sqlite_schema where name = '"+table+"'")
	size := query(t, db, "pragma page_size")
	var page, pageSize int64
	fmt.Sscan(root, &page)
	fmt.Sscan(size, &pageSize)
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", int(pageSize))), (page-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// A FIFO (or any file that is not a regular file) as a merge input is
// refused at once, before anything is written.
func TestMergeRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "in.db"), 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan result, 1)
	go func() { done <- runEnv(t, dir, nil, "merge", "out.db", "in.db") }()
	select {
	case r := <-done:
		if r.code != 2 || !strings.Contains(r.stderr, "not a regular file") {
			t.Errorf("merge of a FIFO: exit %d: %s", r.code, r.stderr)
		}
	case <-time.After(20 * time.Second):
		// unblock the merge so the test ends
		f, _ := os.OpenFile(filepath.Join(dir, "in.db"), os.O_WRONLY, 0)
		f.Close()
		t.Fatal("merge of a FIFO blocks")
	}
	nothingWritten(t, dir, "merge of a FIFO")

	// a FIFO as the database of any command: refused at once, exit 2
	twoTrials(t, dir)
	for _, args := range [][]string{{"merge", "in.db", "nothere.db"}, {"list", "--db", "in.db"},
		{"run", "two.yaml", "--db", "in.db"}, {"best", "x", "--db", "in.db"}} {
		if args[0] == "merge" {
			mustRun(t, dir, "run", "two.yaml", "--quiet", "--db", "s.db")
			args[2] = "s.db"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Dir, cmd.Env = dir, cleanEnv()
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not a regular file") {
			t.Errorf("%v with a FIFO database: %v: %s", args, err, out)
		}
	}
}

// Every merge input is checked before anything is written: a corrupt
// input (exit 1) or one of another experiment (exit 2) leaves OUT.db as it
// was, whatever its position among the inputs.
func TestMergeChecksEveryInputFirst(t *testing.T) {
	dir := workdir(t, "shard.yaml")
	for i := range 3 {
		mustRun(t, dir, "run", "shard.yaml", "--quiet", "--shard", fmt.Sprintf("%d/3", i), "--db", fmt.Sprintf("s%d.db", i))
	}
	copyFile(t, filepath.Join(dir, "s1.db"), filepath.Join(dir, "corrupt.db"))
	corruptTable(t, filepath.Join(dir, "corrupt.db"), "trials")
	if err := os.WriteFile(filepath.Join(dir, "text.db"), []byte(strings.Repeat("not a database\n", 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "shard.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "changed.yaml"), []byte(strings.Replace(string(b), "seed:", "seed: 9\n#", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "run", "changed.yaml", "--quiet", "--shard", "2/3", "--db", "other.db")

	for _, c := range []struct {
		inputs []string
		code   int
		want   string
	}{
		{[]string{"s0.db", "corrupt.db", "s2.db"}, 1, "corrupt.db"},
		{[]string{"s0.db", "text.db", "s2.db"}, 1, "text.db"},
		{[]string{"s0.db", "s1.db", "other.db"}, 2, "config hash"},
		{[]string{"s0.db", "nothere.db"}, 2, "nothere.db"},
	} {
		// into a new file: not created; into an existing one: unchanged
		r := runEnv(t, dir, nil, append([]string{"merge", "out.db"}, c.inputs...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout, "trials added") {
			t.Errorf("merge %v: exit %d, want %d with …%s… and nothing merged: %s%s", c.inputs, r.code, c.code, c.want, r.stdout, r.stderr)
		}
		nothingWritten(t, dir, fmt.Sprint("merge ", c.inputs))
		copyFile(t, filepath.Join(dir, "s2.db"), filepath.Join(dir, "into.db"))
		before := query(t, filepath.Join(dir, "into.db"), "select count(*) from trials where state = 'completed'")
		r = runEnv(t, dir, nil, append([]string{"merge", "into.db"}, c.inputs...)...)
		if r.code != c.code {
			t.Errorf("merge into an existing file %v: exit %d, want %d: %s", c.inputs, r.code, c.code, r.stderr)
		}
		if after := query(t, filepath.Join(dir, "into.db"), "select count(*) from trials where state = 'completed'"); after != before {
			t.Errorf("merge %v into an existing file changed it: %s → %s completed trials", c.inputs, before, after)
		}
	}
	r := mustRun(t, dir, "merge", "out.db", "s0.db", "s1.db", "s2.db")
	if got := addedByMerge(t, r.stdout); got != shardTrials {
		t.Errorf("merged %d trials, want %d", got, shardTrials)
	}
}

// When the store cannot write (here: a file size limit, as a full disk),
// the run exits 1 and its summary counts only the trials stored.
func TestStoreFailureSummary(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	dir := workdir(t, "small.yaml")
	cmd := exec.Command(prlimit, "--fsize=300000", binary, "run", "small.yaml", "--quiet", "--workers", "2")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("run on a full store: %v, want exit 1: %s", err, out)
	}
	if strings.Contains(string(out), "completed 36") || strings.Contains(string(out), "best (") {
		t.Errorf("the summary counts trials that were not stored: %s", out)
	}
	stored := query(t, filepath.Join(dir, "sweeps.db"), "select count(*) from trials where state in ('completed','diverged','failed','pruned')")
	if !strings.Contains(string(out), " "+stored+" finished trials are stored") {
		t.Errorf("the message does not say the %s trials stored: %s", stored, out)
	}
}
