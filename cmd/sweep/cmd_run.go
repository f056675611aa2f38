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

func cmdRun(env *env, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	db := fs.String("db", "sweeps.db", "SQLite database `file` that keeps every sweep")
	workers := fs.Int("workers", runtime.NumCPU(), "trials trained at once")
	reportDir := fs.String("report", "", "write the HTML report to `DIR` when the sweep ends (\"auto\": reports/<sweep name>)")
	force := fs.Bool("force", false, "replace a stored sweep of the same name whose experiment file changed")
	failFast := fs.Bool("fail-fast", false, "stop at the first failed trial")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on `ADDR` (a bare port binds 127.0.0.1)")
	linger := fs.Duration("metrics-linger", 0, "keep serving metrics this long after the sweep ends, so a last scrape sees the final state (e.g. 5s)")
	pushURL := fs.String("pushgateway", "", "push the sweep summary to this Pushgateway `URL` at the end")
	shardFlag := fs.String("shard", "", "run only shard `I/N` of the grid (I from 0); default from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID")
	shardCount := fs.Int("shard-count", 0, "number of shards when the index comes from JOB_COMPLETION_INDEX (the Job's completions)")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parse(fs, args, 1, 1, "FILE")
	if err != nil {
		return err
	}
	// Every flag is checked, and the metrics port bound, before anything
	// is written: a refused flag leaves no database behind.
	if *workers < 1 || *workers > maxWorkers {
		return usagef("--workers must be ≥ 1 and ≤ %d, got %d", maxWorkers, *workers)
	}
	shard, shards, err := shardFromEnv(*shardFlag, *shardCount)
	if err != nil {
		return err
	}
	if err := checkPushURL(*pushURL); err != nil {
		return err
	}

	// First SIGINT/SIGTERM (or Slurm's SIGUSR1): stop starting trials, let
	// running ones stop at their next iteration, record them as
	// interrupted and flush. A second signal exits at once. Installed
	// before loading, so a signal while the data loads exits 130 too.
	ctx, cancel := context.WithCancel(env.ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)
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
	interrupted := &exitErr{code: exitInterrupted, msg: "interrupted; run the same command again to resume"}

	live, err := startMetrics(ctx, *metricsAddr, env)
	if err != nil {
		return err
	}
	if beforeLoad != nil {
		beforeLoad(env)
	}
	p, err := loadExperiment(pos[0])
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return interrupted // nothing written yet
	}
	if p.Exp.TPE != nil && shards > 1 {
		return usagef("%s: a tpe sweep cannot be sharded (each batch is proposed from every finished setting before it): run it without --shard, in one process or in several sharing the database", pos[0])
	}
	// Workers beyond the trials of this shard would only wait.
	*workers = min(*workers, max(1, trialsInShard(p, shard, shards)))
	st, err := sqlite.Open(*db)
	if err != nil {
		return storeError(err)
	}
	defer st.Close()

	sinks := []framework.Sink{}
	if !*quiet {
		prog := newProgress(env.stderr, results.MustLookup(p.Exp.Metric))
		if p.Exp.TPE != nil {
			prog.planned = p.Exp.Planned()
		}
		sinks = append(sinks, prog)
	}
	if live != nil {
		sinks = append(sinks, live)
	}
	opt := sweep.Options{Workers: *workers, Store: st, Sinks: sinks, Force: *force, FailFast: *failFast,
		Shard: shard, Shards: shards, WeightsDir: filepath.Dir(*db)}
	sum, runErr := sweep.Run(ctx, p, opt)
	if errors.Is(runErr, sqlite.ErrConfigChanged) || errors.Is(runErr, sqlite.ErrSweepBusy) {
		return usageError{runErr}
	}
	if storeErr := st.Flush(); storeErr != nil {
		// The summary counts what the run did, not what the store kept:
		// say what is stored instead, and exit 1.
		fmt.Fprintf(env.stdout, "sweep %s: %s\n", p.Exp.Name, storedCounts(st, p.Exp.Name, *db))
		return fmt.Errorf("%w (run the same command again, once the cause is fixed, to redo what was not stored)", storeErr)
	}
	if *pushURL != "" {
		grouping := map[string]string{}
		if shards > 1 {
			grouping["shard"] = fmt.Sprintf("%d", shard)
		}
		if err := pushSummary(*pushURL, p.Info(), sum, grouping); err != nil {
			fmt.Fprintf(env.stderr, "sweep: pushgateway: %v\n", err)
		}
	}
	printSummary(env, p, sum, *db)
	if live != nil && *linger > 0 {
		select {
		case <-time.After(*linger):
		case <-ctx.Done():
		}
	}
	if *reportDir != "" && !errors.Is(runErr, context.Canceled) {
		dir := *reportDir
		if dir == "auto" {
			dir = filepath.Join("reports", p.Exp.Name)
		}
		if err := writeReport(st, p.Exp.Name, dir); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "report: %s\n", filepath.Join(dir, "index.html"))
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

func printSummary(env *env, p *sweep.Prepared, sum framework.SweepSummary, db string) {
	if len(sum.RunCounts) == 0 && !sum.Interrupted {
		fmt.Fprintf(env.stdout, "sweep %s: nothing left to run: its trials in %s are finished ('sweep best %s --db %s' ranks them)\n",
			p.Exp.Name, db, p.Exp.Name, db)
		return
	}
	fmt.Fprintf(env.stdout, "sweep %s: %s in %s, %d weight updates", p.Exp.Name,
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
