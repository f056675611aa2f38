package deploy

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ---- Kubernetes: strict decoding and consistency ----

type manifests struct {
	jobs       map[string]*batchv1.Job
	configMaps map[string]*corev1.ConfigMap
	pvcs       map[string]*corev1.PersistentVolumeClaim
	files      map[string]string // object name → file
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests decodes every document of kubernetes/*.yaml strictly (an
// unknown or duplicated field is an error) into the Kubernetes API types.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no kubernetes/*.yaml")
	}
	m := &manifests{jobs: map[string]*batchv1.Job{}, configMaps: map[string]*corev1.ConfigMap{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, files: map[string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			if meta.Kind == "" && strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue // comments only
			}
			var obj interface{ GetName() string }
			switch meta.APIVersion + " " + meta.Kind {
			case "batch/v1 Job":
				j := &batchv1.Job{}
				obj = j
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i+1, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i+1, meta.Kind, err)
			}
			name := obj.GetName()
			if name == "" {
				t.Fatalf("%s document %d: %s without a name", f, i+1, meta.Kind)
			}
			switch o := obj.(type) {
			case *batchv1.Job:
				m.jobs[name] = o
			case *corev1.ConfigMap:
				m.configMaps[name] = o
			case *corev1.PersistentVolumeClaim:
				m.pvcs[name] = o
			}
			m.files[meta.Kind+"/"+name] = f
		}
	}
	return m
}

// sweepJob is the Indexed Job; mergeJob the other one.
func (m *manifests) sweepJob(t *testing.T) (*batchv1.Job, *batchv1.Job) {
	t.Helper()
	var sweep, merge *batchv1.Job
	for _, j := range m.jobs {
		if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
			if sweep != nil {
				t.Fatal("more than one Indexed Job")
			}
			sweep = j
		} else {
			merge = j
		}
	}
	if sweep == nil || merge == nil {
		t.Fatalf("want an Indexed sweep Job and a merge Job, have %d jobs", len(m.jobs))
	}
	return sweep, merge
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	job, merge := m.sweepJob(t)
	spec := job.Spec
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions != *spec.Parallelism || *spec.Completions < 2 {
		t.Fatalf("completions %v, parallelism %v: want equal, ≥ 2", spec.Completions, spec.Parallelism)
	}
	n := int(*spec.Completions)
	pod := spec.Template.Spec
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("terminationGracePeriodSeconds %v, want 30", g)
	}
	if spec.PodFailurePolicy != nil && pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("podFailurePolicy needs restartPolicy Never, have %q", pod.RestartPolicy)
	}
	if spec.BackoffLimitPerIndex == nil {
		t.Error("no backoffLimitPerIndex: one shard's failures would count against all")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Command) == 0 || c.Command[0] != "sweep" {
		t.Errorf("command %q: run sweep directly (PID 1 gets SIGTERM; a shell would not pass it on)", c.Command)
	}
	args := append(append([]string{}, c.Command...), c.Args...)
	if !hasFlag(args, "--shard-count", strconv.Itoa(n)) {
		t.Errorf("args %q lack --shard-count %d (= completions)", args, n)
	}
	if db := flagValue(args, "--db"); !strings.Contains(db, "$(JOB_COMPLETION_INDEX)") {
		t.Errorf("--db %q: each shard needs its own file, named by $(JOB_COMPLETION_INDEX)", db)
	}
	// $(VAR) expands only from variables declared in the container's env
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for _, a := range args {
		for _, ref := range varRef.FindAllStringSubmatch(a, -1) {
			if _, ok := env[ref[1]]; !ok {
				t.Errorf("arg %q uses $(%s), which the container's env does not declare", a, ref[1])
			}
		}
	}
	idx, ok := env["JOB_COMPLETION_INDEX"]
	if !ok || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
		idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX is not taken from the completion-index annotation: %+v", idx)
	}
	checkVolumes(t, m, "Job/"+job.Name, pod)
	checkVolumes(t, m, "Job/"+merge.Name, merge.Spec.Template.Spec)

	// the experiment the sweep runs is a key of its ConfigMap
	exp := args[2]
	if args[1] != "run" {
		t.Fatalf("args %q: want sweep run FILE ...", args)
	}
	if _, _, ok := mountedFile(m, pod, c, exp); !ok {
		t.Errorf("%s is not a file of a mounted ConfigMap", exp)
	}
	// shard files and merge on the same claim; SHARDS and SWEEP match
	if claim(pod) == "" || claim(pod) != claim(merge.Spec.Template.Spec) {
		t.Errorf("sweep and merge Jobs use claims %q and %q", claim(pod), claim(merge.Spec.Template.Spec))
	}
	menv := map[string]string{}
	for _, e := range merge.Spec.Template.Spec.Containers[0].Env {
		menv[e.Name] = e.Value
	}
	if menv["SHARDS"] != strconv.Itoa(n) {
		t.Errorf("merge Job SHARDS=%q, want %d", menv["SHARDS"], n)
	}
	if _, text, ok := mountedFile(m, pod, c, exp); ok {
		if name := experimentName(text); menv["SWEEP"] != name {
			t.Errorf("merge Job SWEEP=%q, the experiment's name is %q", menv["SWEEP"], name)
		}
	}
}

func checkVolumes(t *testing.T, m *manifests, what string, pod corev1.PodSpec) {
	t.Helper()
	vols := map[string]bool{}
	for _, v := range pod.Volumes {
		vols[v.Name] = true
		switch {
		case v.ConfigMap != nil:
			if m.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("%s: volume %s: no ConfigMap %s in the manifests", what, v.Name, v.ConfigMap.Name)
			}
		case v.PersistentVolumeClaim != nil:
			if m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("%s: volume %s: no PersistentVolumeClaim %s in the manifests", what, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	for _, c := range pod.Containers {
		for _, vm := range c.VolumeMounts {
			if !vols[vm.Name] {
				t.Errorf("%s: container %s mounts undeclared volume %s", what, c.Name, vm.Name)
			}
		}
	}
}

func claim(pod corev1.PodSpec) string {
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

// mountedFile finds path in a ConfigMap mounted in container c: the key and its text.
func mountedFile(m *manifests, pod corev1.PodSpec, c corev1.Container, path string) (string, string, bool) {
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				if cm := m.configMaps[v.ConfigMap.Name]; cm != nil {
					text, ok := cm.Data[rel]
					return rel, text, ok
				}
			}
		}
	}
	return "", "", false
}

func experimentName(text string) string {
	if m := regexp.MustCompile(`(?m)^name:\s*(\S+)`).FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

func hasFlag(args []string, name, value string) bool { return flagValue(args, name) == value }

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// ---- running the deployments on this machine ----

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// sweepBinary builds cmd/sweep once for the package's tests.
func sweepBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "deploy-sweep")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "sweep"), "github.com/gradsweep/gradsweep/cmd/sweep").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "sweep")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// baseEnv is this process's environment without scheduler variables, with
// the sweep binary first on PATH.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SLURM_") || strings.HasPrefix(kv, "JOB_COMPLETION_INDEX=") || strings.HasPrefix(kv, "GRADSWEEP_") ||
			strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, extra...)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// exportNoClock is 'sweep export --format json' minus the wall-clock times
// (seconds, started_at, ended_at, final.seconds, final.epoch_seconds).
func exportNoClock(t *testing.T, db, sweep string) string {
	t.Helper()
	code, out := run(t, "", baseEnv(), sweepBinary(t), "export", sweep, "--format", "json", "--db", db)
	var trials []map[string]any
	if err := json.Unmarshal([]byte(out), &trials); code != 0 || err != nil || len(trials) == 0 {
		t.Fatalf("export %s: exit %d, %v: %.300s", db, code, err, out)
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
	var s sql.NullString
	err = conn.QueryRow(q).Scan(&s)
	return s.String, err
}

// The Indexed Job as Kubernetes would run it: each index's container
// command, $(VAR)s expanded from its env, the volumes as local folders;
// then the merge Job's script. The merged file equals an unsharded run.
func TestKubernetesJobRunsLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sweeps")
	}
	bin := sweepBinary(t)
	m := loadManifests(t)
	job, merge := m.sweepJob(t)
	root := t.TempDir()
	// volumes → folders; ConfigMaps written out as files
	mounts := func(pod corev1.PodSpec, c corev1.Container) map[string]string {
		out := map[string]string{}
		for _, vm := range c.VolumeMounts {
			dir := filepath.Join(root, vm.Name)
			os.MkdirAll(dir, 0o755)
			for _, v := range pod.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil {
					for k, text := range m.configMaps[v.ConfigMap.Name].Data {
						os.WriteFile(filepath.Join(dir, k), []byte(text), 0o644)
					}
				}
			}
			out[vm.MountPath] = dir
		}
		return out
	}
	local := func(s string, mnt map[string]string) string {
		for from, to := range mnt {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	mnt := mounts(pod, c)
	n := int(*job.Spec.Completions)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		vars := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)} // the fieldRef's value
		env := baseEnv("JOB_COMPLETION_INDEX=" + strconv.Itoa(i))
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				vars[e.Name] = e.Value
				env = append(env, e.Name+"="+e.Value)
			}
		}
		var argv []string
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			a = varRef.ReplaceAllStringFunc(a, func(ref string) string { return vars[ref[2:len(ref)-1]] })
			argv = append(argv, local(a, mnt))
		}
		argv[0] = bin
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, out := run(t, local(c.WorkingDir, mnt), env, argv[0], argv[1:]...); code != 0 {
				t.Errorf("index %d: %q: exit %d\n%s", i, argv, code, out)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d indexes: %v", n, time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		return
	}
	mpod := merge.Spec.Template.Spec
	mc := mpod.Containers[0]
	mmnt := mounts(mpod, mc)
	env := baseEnv()
	for _, e := range mc.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	var argv []string
	for _, a := range append(append([]string{}, mc.Command...), mc.Args...) {
		argv = append(argv, local(a, mmnt))
	}
	code, out := run(t, local(mc.WorkingDir, mmnt), env, argv[0], argv[1:]...)
	if code != 0 {
		t.Fatalf("merge Job: exit %d\n%s", code, out)
	}
	results := mmnt["/results"]
	if _, err := os.Stat(filepath.Join(results, "report", "index.html")); err != nil {
		t.Errorf("merge Job wrote no report: %v\n%s", err, out)
	}
	// the same experiment unsharded
	exp := local(c.Args[1], mnt)
	name := experimentName(mustRead(t, exp))
	ref := filepath.Join(root, "ref.db")
	if code, out := run(t, root, baseEnv(), bin, "run", exp, "--quiet", "--db", ref); code != 0 {
		t.Fatalf("unsharded run: %d %s", code, out)
	}
	if exportNoClock(t, filepath.Join(results, "merged.db"), name) != exportNoClock(t, ref, name) {
		t.Error("the merged Indexed Job differs from an unsharded run")
	}
	// the merge Job again: idempotent
	if code, out := run(t, local(mc.WorkingDir, mmnt), env, argv[0], argv[1:]...); code != 0 || strings.Contains(out, "] trials added") ||
		!regexp.MustCompile(`(?m): 0 trials added$`).MatchString(out) {
		t.Errorf("merge Job again: exit %d\n%s", code, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---- Slurm ----

func TestSlurmScriptsSyntax(t *testing.T) {
	files, _ := filepath.Glob("slurm/*.sbatch")
	if len(files) < 2 {
		t.Fatalf("slurm scripts: %v", files)
	}
	for _, f := range files {
		if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", f, err, out)
		}
	}
	s := mustRead(t, "slurm/sweep.sbatch")
	arr := regexp.MustCompile(`(?m)^#SBATCH --array=0-(\d+)$`).FindStringSubmatch(s)
	shards := regexp.MustCompile(`SHARDS=\$\{GRADSWEEP_SHARDS:-(\d+)\}`).FindStringSubmatch(s)
	mshards := regexp.MustCompile(`SHARDS=\$\{GRADSWEEP_SHARDS:-(\d+)\}`).FindStringSubmatch(mustRead(t, "slurm/merge.sbatch"))
	if arr == nil || shards == nil || mshards == nil {
		t.Fatal("sweep.sbatch needs #SBATCH --array=0-M and both scripts SHARDS=${GRADSWEEP_SHARDS:-N}")
	}
	if hi, _ := strconv.Atoi(arr[1]); strconv.Itoa(hi+1) != shards[1] || shards[1] != mshards[1] {
		t.Errorf("--array=0-%s but SHARDS %s (sweep.sbatch) and %s (merge.sbatch)", arr[1], shards[1], mshards[1])
	}
	if !regexp.MustCompile(`(?m)^#SBATCH --signal=B:USR1@\d+$`).MatchString(s) {
		t.Error("sweep.sbatch: no #SBATCH --signal=B:USR1@SECONDS")
	}
}

// The Slurm array as Slurm would run it, with a fake scontrol: every task,
// one of them stopped by USR1 (as before its time limit), saved, requeued
// and resumed; then the merge. The merged file equals an unsharded run.
func TestSlurmArrayRunsLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sweeps")
	}
	bin := sweepBinary(t)
	root := t.TempDir()
	exp := filepath.Join(root, "shardslow.yaml")
	os.WriteFile(exp, []byte(mustRead(t, "../cmd/sweep/testdata/shardslow.yaml")), 0o644)
	fake := filepath.Join(root, "fakebin")
	os.Mkdir(fake, 0o755)
	log := filepath.Join(root, "scontrol.log")
	os.WriteFile(filepath.Join(fake, "scontrol"), []byte("#!/bin/sh\necho \"$@\" >> "+log+"\n"), 0o755)
	script, _ := filepath.Abs("slurm/sweep.sbatch")
	mergeScript, _ := filepath.Abs("slurm/merge.sbatch")
	results := filepath.Join(root, "results")
	task := func(i int, extra ...string) *exec.Cmd {
		cmd := exec.Command("bash", script, exp)
		cmd.Dir = root
		cmd.Env = append(baseEnv(
			"PATH="+fake+string(os.PathListSeparator)+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"SLURM_ARRAY_JOB_ID=77", "SLURM_JOB_ID="+strconv.Itoa(100+i), "SLURM_ARRAY_TASK_ID="+strconv.Itoa(i),
			"SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=3",
			"SLURM_SUBMIT_DIR="+root, "SLURM_TMPDIR="+filepath.Join(root, "node"+strconv.Itoa(i)), "SLURM_CPUS_PER_TASK=1"), extra...)
		return cmd
	}
	runTask := func(cmd *exec.Cmd) (int, string) {
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}

	// task 1: USR1 to the batch shell once two trials finished, during the third
	cmd := task(1)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	localDB := filepath.Join(root, "node1", "gradsweep-77-1", "shard-1.db")
	deadline := time.Now().Add(60 * time.Second)
	for {
		// two finished and one running: the signal then finds a trial to
		// interrupt (between two trials there is none)
		s, err := tryQuery(localDB, "SELECT (SELECT count(*) FROM trials WHERE state = 'completed') || ' ' || (SELECT count(*) FROM trials WHERE state = 'running')")
		var done, running int
		if _, serr := fmt.Sscan(s, &done, &running); err == nil && serr == nil && done >= 2 && running > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("task 1: no trial finished in time\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGUSR1)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("task 1 after USR1: %v, want exit 130\n%s", err, out.String())
	}
	t.Logf("task 1 stopped and saved in %v after USR1", time.Since(sent).Round(time.Millisecond))
	if got := strings.TrimSpace(mustRead(t, log)); got != "requeue 77_1" {
		t.Errorf("scontrol calls: %q, want requeue 77_1", got)
	}
	saved := filepath.Join(results, "shard-1.db")
	if _, err := os.Stat(saved + "-wal"); err == nil { // (before a reader makes one)
		t.Error("a -wal file beside the saved shard: it was copied while open")
	}
	if query(t, saved, "SELECT count(*) FROM trials WHERE state = 'running'") != "0" ||
		query(t, saved, "SELECT count(*) FROM trials WHERE state = 'interrupted'") == "0" ||
		query(t, saved, "SELECT count(*) FROM trials WHERE state = 'completed'") == "0" {
		t.Errorf("saved shard: %s", query(t, saved, "SELECT group_concat(state) FROM trials"))
	}
	// the requeued task, as Slurm restarts it on another node; it would
	// also be what 'sbatch --array=1' sets, whose COUNT and MIN differ
	code, o := runTask(task(1, "SLURM_TMPDIR="+filepath.Join(root, "othernode"), "SLURM_ARRAY_TASK_COUNT=1", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=1"))
	if code != 0 || !strings.Contains(o, "resuming shard 1/4") {
		t.Fatalf("requeued task 1: exit %d\n%s", code, o)
	}
	for _, i := range []int{0, 2, 3} {
		if code, o := runTask(task(i)); code != 0 {
			t.Fatalf("task %d: exit %d\n%s", i, code, o)
		}
	}
	for i := range 4 {
		db := filepath.Join(results, fmt.Sprintf("shard-%d.db", i))
		want := 5 // 20 trials, 4 shards
		if got := query(t, db, "SELECT count(*) FROM trials WHERE state IN ('completed', 'diverged')"); got != strconv.Itoa(want) {
			t.Errorf("shard %d: %s finished trials, want %d", i, got, want)
		}
		if got := query(t, db, "SELECT count(*) FROM trials WHERE idx % 4 != "+strconv.Itoa(i)); got != "0" {
			t.Errorf("shard %d holds %s trials of other shards", i, got)
		}
	}

	mcmd := exec.Command("bash", mergeScript, "shardslow")
	mcmd.Dir = root
	mcmd.Env = baseEnv("SLURM_JOB_ID=200", "SLURM_SUBMIT_DIR="+root, "SLURM_TMPDIR="+filepath.Join(root, "mergenode"))
	if code, o := runTask(mcmd); code != 0 || !strings.Contains(o, "RANK") {
		t.Fatalf("merge.sbatch: exit %d\n%s", code, o)
	}
	if _, err := os.Stat(filepath.Join(results, "report", "index.html")); err != nil {
		t.Errorf("merge.sbatch wrote no report: %v", err)
	}
	ref := filepath.Join(root, "ref.db")
	if code, o := run(t, root, baseEnv(), bin, "run", exp, "--quiet", "--workers", "2", "--db", ref); code != 0 {
		t.Fatalf("unsharded run: %d %s", code, o)
	}
	if exportNoClock(t, filepath.Join(results, "merged.db"), "shardslow") != exportNoClock(t, ref, "shardslow") {
		t.Error("the merged Slurm array differs from an unsharded run")
	}
	if got := query(t, filepath.Join(results, "merged.db"), "PRAGMA integrity_check"); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}
