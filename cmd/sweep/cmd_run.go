package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	points := 0
	if n := len(p.Plans); n > 0 {
		points = p.Plans[n-1].Point + 1
	}
	fmt.Fprintf(env.stdout, "%s: ok: sweep %q, %d trials (%d grid points × %d repeats), config hash %s\n",
		pos[0], p.Exp.Name, len(p.Plans), points, p.Exp.Repeats, p.Exp.Hash)
	return nil
}

// shardFromEnv reads the shard from the scheduler's environment: a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, count from --shard-count)
// or a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN).
func shardFromEnv(flagValue string, count int) (shard, shards int, err error) {
	if flagValue != "" {
		i, n, ok := strings.Cut(flagValue, "/")
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || sn < 1 || si < 0 || si >= sn {
			return 0, 0, usagef("--shard %q: want I/N with 0 ≤ I < N", flagValue)
		}
		return si, sn, nil
	}
	if idx := os.Getenv("JOB_COMPLETION_INDEX"); idx != "" {
		i, err := strconv.Atoi(idx)
		if err != nil || count < 1 || i < 0 || i >= count {
			return 0, 0, usagef("JOB_COMPLETION_INDEX=%q needs --shard-count N (the Job's completions) with 0 ≤ index < N", idx)
		}
		return i, count, nil
	}
	if id := os.Getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		i, err1 := strconv.Atoi(id)
		n, err2 := strconv.Atoi(os.Getenv("SLURM_ARRAY_TASK_COUNT"))
		lo := 0
		if m := os.Getenv("SLURM_ARRAY_TASK_MIN"); m != "" {
			lo, _ = strconv.Atoi(m)
		}
		if count > 0 {
			n, err2 = count, nil
		}
		if err1 != nil || err2 != nil || n < 1 || i-lo < 0 || i-lo >= n {
			return 0, 0, usagef("SLURM_ARRAY_TASK_ID=%q with SLURM_ARRAY_TASK_COUNT=%q does not name a shard", id, os.Getenv("SLURM_ARRAY_TASK_COUNT"))
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
	if *workers < 1 {
		return usagef("--workers must be ≥ 1, got %d", *workers)
	}
	shard, shards, err := shardFromEnv(*shardFlag, *shardCount)
	if err != nil {
		return err
	}
	p, err := loadExperiment(pos[0])
	if err != nil {
		return err
	}
	st, err := sqlite.Open(*db)
	if err != nil {
		return err
	}
	defer st.Close()

	// First SIGINT/SIGTERM (or Slurm's SIGUSR1): stop starting trials, let
	// running ones stop at their next iteration, record them as
	// interrupted and flush. A second signal exits at once.
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

	sinks := []framework.Sink{}
	if !*quiet {
		sinks = append(sinks, newProgress(env.stderr, results.MustLookup(p.Exp.Metric)))
	}
	live, err := startMetrics(ctx, *metricsAddr, env)
	if err != nil {
		return err
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
	if flushErr := st.Flush(); flushErr != nil && runErr == nil {
		runErr = flushErr
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
		return &exitErr{code: exitInterrupted, msg: "interrupted; run the same command again to resume"}
	case errors.Is(runErr, sweep.ErrTrialsFailed):
		return &exitErr{code: exitTrialFailed, msg: runErr.Error() + " (see 'sweep list' and 'sweep show')"}
	}
	return runErr
}

func printSummary(env *env, p *sweep.Prepared, sum framework.SweepSummary, db string) {
	if len(sum.RunCounts) == 0 && !sum.Interrupted {
		fmt.Fprintf(env.stdout, "sweep %s: nothing left to run: its trials in %s are finished ('sweep best %s --db %s' ranks them)\n",
			p.Exp.Name, db, p.Exp.Name, db)
		return
	}
	fmt.Fprintf(env.stdout, "sweep %s: %s in %s, %d weight updates", p.Exp.Name,
		strings.Join(sortedStatuses(sum.RunCounts), ", "), readableDuration(sum.Seconds), sum.Iterations)
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
