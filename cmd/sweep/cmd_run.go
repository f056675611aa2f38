package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/store/sqlite"
	"golang.org/x/sys/unix"
)

func loadExperiment(path string) (*sweep.Prepared, error) {
	e, err := experiment.Load(path)
	if err != nil {
		return nil, err
	}
	return sweep.Prepare(e, framework.Default())
}

func cmdValidate(env *env, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	pos, err := parse(fs, args, 1, 1, "FILE")
	if err != nil {
		return err
	}
	p, err := loadExperiment(pos[0])
	if err != nil {
		return err
	}
	if t := p.Exp.TPE; t != nil {
		fmt.Fprintf(env.stdout, "%s: ok: sweep %q, %d trials (tpe: %d settings × %d repeats, %d of them random, then batches of %d), config hash %s\n",
			pos[0], p.Exp.Name, p.Exp.Planned(), t.Trials, p.Exp.Repeats, min(t.Startup, t.Trials), t.Batch, p.Exp.Hash)
		return nil
	}
	points := 0
	if n := len(p.Plans); n > 0 {
		points = p.Plans[n-1].Point + 1
	}
	fmt.Fprintf(env.stdout, "%s: ok: sweep %q, %d trials (%d grid points × %d repeats), config hash %s\n",
		pos[0], p.Exp.Name, len(p.Plans), points, p.Exp.Repeats, p.Exp.Hash)
	return nil
}

// Limits of run's flags: larger values are refused (exit 2) rather than
// allocated. Workers beyond the trials left are not started anyway.
const (
	maxWorkers = 1_000_000
	maxShards  = 1_000_000
)

// envInt reads the integer in the environment variable name; a value that
// is not an integer is refused, naming the variable.
func envInt(name string) (int, error) {
	v := os.Getenv(name)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, usagef("%s=%q: not an integer", name, v)
	}
	return n, nil
}

// shardFromEnv reads the shard from the scheduler's environment: a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, count from --shard-count)
// or a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN). The number of
// shards is at most maxShards.
func shardFromEnv(flagValue string, count int) (shard, shards int, err error) {
	if count < 0 || count > maxShards {
		return 0, 0, usagef("--shard-count %d: want 1 to %d", count, maxShards)
	}
	if flagValue != "" {
		i, n, ok := strings.Cut(flagValue, "/")
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || sn < 1 || sn > maxShards || si < 0 || si >= sn {
			return 0, 0, usagef("--shard %q: want I/N with 0 ≤ I < N ≤ %d", flagValue, maxShards)
		}
		return si, sn, nil
	}
	if idx := os.Getenv("JOB_COMPLETION_INDEX"); idx != "" {
		i, err := envInt("JOB_COMPLETION_INDEX")
		if err != nil {
			return 0, 0, err
		}
		if count < 1 || i < 0 || i >= count {
			return 0, 0, usagef("JOB_COMPLETION_INDEX=%q needs --shard-count N (the Job's completions) with 0 ≤ index < N", idx)
		}
		return i, count, nil
	}
	if os.Getenv("SLURM_ARRAY_TASK_ID") != "" {
		i, err := envInt("SLURM_ARRAY_TASK_ID")
		if err != nil {
			return 0, 0, err
		}
		n := count
		if count == 0 {
			if n, err = envInt("SLURM_ARRAY_TASK_COUNT"); err != nil {
				return 0, 0, err
			}
		}
		lo := 0
		if os.Getenv("SLURM_ARRAY_TASK_MIN") != "" {
			if lo, err = envInt("SLURM_ARRAY_TASK_MIN"); err != nil {
				return 0, 0, err
			}
		}
		if n < 1 || n > maxShards || i-lo < 0 || i-lo >= n {
			return 0, 0, usagef("SLURM_ARRAY_TASK_ID=%d (SLURM_ARRAY_TASK_MIN %d) with %d shards does not name a shard (at most %d shards)", i, lo, n, maxShards)
		}
		return i - lo, n, nil
	}
	if count != 0 {
		return 0, 0, usagef("--shard-count %d without a shard index: JOB_COMPLETION_INDEX (Kubernetes Indexed Job) and SLURM_ARRAY_TASK_ID (Slurm job array) are unset; use --shard I/N", count)
	}
	return 0, 1, nil
}

// runFlags are run's flags, checked.
type runFlags struct {
	file, db, reportDir, metricsAddr, pushURL string
	workers, shard, shards                    int
	force, failFast, quiet                    bool
	linger                                    time.Duration
}

// parseRunFlags parses and checks run's flags. Every flag is checked
// before anything is written: a refused flag leaves no database behind.
func parseRunFlags(args []string) (*runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	f := &runFlags{}
	fs.StringVar(&f.db, "db", "sweeps.db", "SQLite database `file` that keeps every sweep")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "trials trained at once")
	fs.StringVar(&f.reportDir, "report", "", "write the HTML report to `DIR` when the sweep ends (\"auto\": reports/<sweep name>)")
	fs.BoolVar(&f.force, "force", false, "replace a stored sweep of the same name whose experiment file changed")
	fs.BoolVar(&f.failFast, "fail-fast", false, "stop at the first failed trial")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `ADDR` (a bare port binds 127.0.0.1)")
	fs.DurationVar(&f.linger, "metrics-linger", 0, "keep serving metrics this long after the sweep ends, so a last scrape sees the final state (e.g. 5s)")
	fs.StringVar(&f.pushURL, "pushgateway", "", "push the sweep summary to this Pushgateway `URL` at the end")
	shardFlag := fs.String("shard", "", "run only shard `I/N` of the grid (I from 0); default from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID")
	shardCount := fs.Int("shard-count", 0, "number of shards when the index comes from JOB_COMPLETION_INDEX (the Job's completions)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	pos, err := parse(fs, args, 1, 1, "FILE")
	if err != nil {
		return nil, err
	}
	f.file = pos[0]
	if f.workers < 1 || f.workers > maxWorkers {
		return nil, usagef("--workers must be ≥ 1 and ≤ %d, got %d", maxWorkers, f.workers)
	}
	if f.shard, f.shards, err = shardFromEnv(*shardFlag, *shardCount); err != nil {
		return nil, err
	}
	return f, checkPushURL(f.pushURL)
}

// shardLabel names the shard in progress lines and the summary ("shard
// 1/4"), or is "" when the run is the whole sweep.
func (f *runFlags) shardLabel() string {
	if f.shards <= 1 {
		return ""
	}
	return fmt.Sprintf("shard %d/%d", f.shard, f.shards)
}

// onSignals installs run's signal handling and returns the context that
// the first SIGINT/SIGTERM (or Slurm's SIGUSR1) cancels: stop starting
// trials, let running ones stop at their next iteration, record them as
// interrupted and flush. A second signal exits at once. The returned
// function uninstalls it.
func onSignals(env *env) (context.Context, func()) {
	ctx, cancel := context.WithCancel(env.ctx)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(env.stderr, "\nsweep: %v: stopping; running trials are kept as interrupted (again to quit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		if _, ok := <-sigs; ok {
			fmt.Fprintln(env.stderr, "sweep: exiting now")
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

func cmdRun(env *env, args []string) error {
	f, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	// Signals are handled before loading, so a signal while the data
	// loads exits 130 too; the metrics port is bound before anything is
	// written.
	ctx, stop := onSignals(env)
	defer stop()
	interrupted := &exitErr{code: exitInterrupted, msg: "interrupted; run the same command again to resume"}
	live, err := startMetrics(ctx, f.metricsAddr, env)
	if err != nil {
		return err
	}
	if beforeLoad != nil {
		beforeLoad(env)
	}
	var pr *progress
	if !f.quiet {
		pr = newProgress(env.stderr)
		if l := f.shardLabel(); l != "" {
			pr.label = l + ": "
		}
		pr.loading(f.file)
	}
	p, err := loadExperiment(f.file)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return interrupted // nothing written yet
	}
	if p.Exp.TPE != nil && f.shards > 1 {
		return usagef("%s: a tpe sweep cannot be sharded (each batch is proposed from every finished setting before it): run it without --shard, in one process or in several sharing the database", f.file)
	}
	if err := checkReportDir(f.reportPath(p.Exp.Name)); err != nil {
		return err
	}
	// Workers beyond the trials of this shard would only wait.
	f.workers = min(f.workers, max(1, trialsInShard(p, f.shard, f.shards)))
	st, err := sqlite.Open(f.db)
	if err != nil {
		return storeError(err)
	}
	defer st.Close()

	sinks := []framework.Sink{}
	if pr != nil {
		pr.metric, pr.repeats, pr.stored = results.MustLookup(p.Exp.Metric), p.Exp.Repeats, st.TrialStates
		if p.Exp.TPE != nil { // tpe proposes its trials as it runs
			pr.plannedTrials = p.Exp.Planned()
		}
		sinks = append(sinks, pr)
	}
	if live != nil {
		sinks = append(sinks, live)
	}
	opt := sweep.Options{Workers: f.workers, Store: st, Sinks: sinks, Force: f.force, FailFast: f.failFast,
		Shard: f.shard, Shards: f.shards, WeightsDir: filepath.Dir(f.db)}
	sum, runErr := sweep.Run(ctx, p, opt)
	if pr != nil {
		pr.close() // a run that failed before the sweep finished did not tell the sinks
	}
	if errors.Is(runErr, sqlite.ErrConfigChanged) || errors.Is(runErr, sqlite.ErrSweepBusy) {
		return usageError{runErr}
	}
	if err := afterRun(ctx, env, f, p, st, sum, live != nil, errors.Is(runErr, context.Canceled)); err != nil {
		return err
	}
	switch {
	case runErr == nil:
		return nil
	case errors.Is(runErr, context.Canceled):
		return interrupted
	case errors.Is(runErr, sweep.ErrTrialsFailed):
		return &exitErr{code: exitTrialFailed, msg: runErr.Error() + " (see 'sweep list' and 'sweep show')"}
	}
	return runErr
}

// afterRun does what follows a run: flush the store, push the summary,
// print it, let the metrics linger and write the report (not after an
// interrupt).
func afterRun(ctx context.Context, env *env, f *runFlags, p *sweep.Prepared, st *sqlite.Store, sum framework.SweepSummary, live, canceled bool) error {
	if storeErr := st.Flush(); storeErr != nil {
		// The summary counts what the run did, not what the store kept:
		// say what is stored instead, and exit 1.
		fmt.Fprintf(env.stdout, "sweep %s: %s\n", p.Exp.Name, storedCounts(st, p.Exp.Name, f.db))
		return fmt.Errorf("%w (run the same command again, once the cause is fixed, to redo what was not stored)", storeErr)
	}
	if f.pushURL != "" {
		grouping := map[string]string{}
		if f.shards > 1 {
			grouping["shard"] = fmt.Sprintf("%d", f.shard)
		}
		if err := pushSummary(f.pushURL, p.Info(), sum, grouping); err != nil {
			fmt.Fprintf(env.stderr, "sweep: pushgateway: %v\n", err)
		}
	}
	printSummary(env, p, sum, f.db, f.shardLabel())
	if live && f.linger > 0 {
		select {
		case <-time.After(f.linger):
		case <-ctx.Done():
		}
	}
	if f.reportDir == "" || canceled {
		return nil
	}
	dir := f.reportPath(p.Exp.Name)
	if err := writeReport(st, p.Exp.Name, dir); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report: %s\n", filepath.Join(dir, "index.html"))
	return nil
}

// beforeLoad, when set (by the sweepcrash test build), runs just before
// run loads the experiment.
var beforeLoad func(env *env)

// trialsInShard is the number of trials in shard of shards; for a tpe
// sweep (never sharded), the most that can run at once: the startup
// settings' or a batch's trials.
func trialsInShard(p *sweep.Prepared, shard, shards int) int {
	if t := p.Exp.TPE; t != nil {
		return max(min(t.Startup, t.Trials), min(t.Batch, t.Trials)) * p.Exp.Repeats
	}
	n := 0
	for _, pl := range p.Plans {
		if pl.Index%shards == shard {
			n++
		}
	}
	return n
}

// storedCounts describes what the store committed of the sweep, by
// state, for a run whose store failed.
func storedCounts(st *sqlite.Store, sweepName, db string) string {
	states, err := st.TrialStates(sweepName)
	if err != nil {
		return fmt.Sprintf("the store failed and %s cannot be read back either (%v)", db, err)
	}
	counts := map[framework.Status]int{}
	for _, s := range states {
		counts[s]++
	}
	stored := 0
	for _, s := range []framework.Status{framework.Completed, framework.Diverged, framework.Failed, framework.Pruned} {
		stored += counts[s]
	}
	return fmt.Sprintf("the store failed: %d finished trials are stored in %s (%s); this run's other results were lost",
		stored, db, strings.Join(sortedStatuses(counts), ", "))
}

// printSummary prints what the run did and the sweep's best; shard names
// the shard ("shard 1/4") when the run is one of several.
func printSummary(env *env, p *sweep.Prepared, sum framework.SweepSummary, db, shard string) {
	name := p.Exp.Name
	if shard != "" {
		name += " (" + shard + ")"
	}
	if sum.Grew != "" {
		fmt.Fprintf(env.stdout, "sweep %s: %s\n", name, sum.Grew)
	}
	if len(sum.RunCounts) == 0 && !sum.Interrupted {
		fmt.Fprintf(env.stdout, "sweep %s: nothing left to run: its trials in %s are finished ('sweep best %s --db %s' ranks them)\n",
			name, db, p.Exp.Name, db)
		return
	}
	fmt.Fprintf(env.stdout, "sweep %s: %s in %s, %d weight updates", name,
		strings.Join(sortedStatuses(sum.RunCounts), ", "), readableDuration(sum.Seconds), sum.Iterations)
	if !maps.Equal(sum.RunCounts, sum.Counts) && len(sum.Counts) > 0 {
		// a resume, another process or a shard: this run did a part
		fmt.Fprintf(env.stdout, " (the stored sweep: %s)", strings.Join(sortedStatuses(sum.Counts), ", "))
	}
	if sum.SavedIters > 0 {
		fmt.Fprintf(env.stdout, "; pruning skipped ~%d updates (%.0f%%)", sum.SavedIters,
			100*float64(sum.SavedIters)/float64(sum.SavedIters+sum.Iterations))
	}
	fmt.Fprintln(env.stdout)
	if sum.Headline != "" {
		fmt.Fprintln(env.stdout, sum.Headline)
	}
	if sum.Coverage != "" {
		fmt.Fprintf(env.stdout, "the best above covers %s\n", sum.Coverage)
	}
	if sum.Best != nil {
		fmt.Fprintf(env.stdout, "stored in %s; 'sweep best %s --db %s' ranks every setting\n", db, p.Exp.Name, db)
	}
	switch {
	case !p.Exp.KeepBest:
	case sum.KeptWeights != "":
		fmt.Fprintf(env.stdout, "keep_best: the best trial of this run (by its own %s) saved to %s\n", p.Exp.Metric, sum.KeptWeights)
	case !sum.Interrupted:
		fmt.Fprintf(env.stdout, "keep_best: nothing kept: no trial of this run completed with a finite %s\n", p.Exp.Metric)
	}
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// reportPath is the folder --report names for sweep ("auto":
// reports/<sweep>), or "" without --report.
func (f *runFlags) reportPath(sweep string) string {
	if f.reportDir == "auto" {
		return filepath.Join("reports", sweep)
	}
	return f.reportDir
}

// checkReportDir refuses (exit 2), before anything trains, a --report
// folder the report could not be written to at the end: a path that is a
// file, under a file, or whose nearest existing folder is not writable.
func checkReportDir(dir string) error {
	if dir == "" {
		return nil
	}
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return usagef("--report %s: %s is not a folder", dir, p)
		case err == nil:
			if err := unix.Access(p, unix.W_OK); err != nil {
				return usagef("--report %s: cannot write in %s: %v", dir, p, err)
			}
			return nil
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return usagef("--report %s: %v", dir, err)
		case p == filepath.Dir(p):
			return nil
		}
	}
}
