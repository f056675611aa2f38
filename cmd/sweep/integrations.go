package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/bench"
	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/metrics"
	"github.com/gradsweep/gradsweep/report"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// startMetrics serves live metrics when --metrics-addr is given.
func startMetrics(ctx context.Context, addr string, env *env) (*metrics.Metrics, error) {
	if addr == "" {
		return nil, nil
	}
	m := metrics.New()
	bound, err := m.Serve(ctx, addr)
	if err != nil {
		return nil, usagef("--metrics-addr %s: %v", addr, err)
	}
	fmt.Fprintf(env.stderr, "metrics: http://%s/metrics\n", bound)
	return m, nil
}

// pushTimeout bounds the push of the summary to a Pushgateway: a gateway
// that does not answer costs the run at most this long.
const pushTimeout = 3 * time.Second

// checkPushURL refuses a --pushgateway value that is not an http(s) URL
// with a host, before the sweep starts rather than after it.
func checkPushURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--pushgateway %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:9091", raw)
	}
	return nil
}

func pushSummary(url string, info framework.SweepInfo, sum framework.SweepSummary, grouping map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	return metrics.PushSummary(ctx, url, "gradsweep", grouping, info, sum)
}

func writeReport(st *sqlite.Store, sweepName, dir string) error {
	d, err := loadSweep(st, sweepName)
	if err != nil {
		return err
	}
	r, err := replayModels(d)
	if err != nil {
		return err
	}
	return report.Write(dir, d, report.Options{SmoothWindow: report.DefaultSmoothWindow, Paths: r.paths, Boundaries: r.boundaries})
}

// loadSweep reads a stored sweep with the number of trials its experiment
// plans, so summaries of a part of it (a shard, a partial merge) say so.
func loadSweep(st *sqlite.Store, name string) (*framework.SweepData, error) {
	d, err := st.LoadSweep(name)
	if err != nil {
		return nil, notFound(err)
	}
	d.Info.Planned = experiment.PlannedTrials(d.Info.Config)
	return d, nil
}

func cmdReport(env *env, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	db := dbFlag(fs)
	out := fs.String("out", "", "output `DIR` (default reports/<sweep name>)")
	pos, st, err := parseAndOpen(fs, db, args, 1, "SWEEP")
	if err != nil {
		return err
	}
	defer st.Close()
	dir := *out
	if dir == "" {
		dir = "reports/" + pos[0]
	}
	if err := writeReport(st, pos[0], dir); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report: %s/index.html\n", dir)
	return nil
}

func cmdDashboard(env *env, args []string) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	out := fs.String("out", "", "write to `FILE` instead of standard output")
	if _, err := parse(fs, args, 0, 0, ""); err != nil {
		return err
	}
	b, err := metrics.Dashboard()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = env.stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(*out, append(b, '\n'), 0o644)
}

// cmdMerge checks every input before it writes anything (see
// sqlite.CheckMergeInputs and MergeAll): a missing, non-regular,
// mismatched (another config hash) or other-version input exits 2, a
// corrupt or unreadable one 1, and OUT.db is left as it was. Each input is
// then merged in its own transaction; an I/O error midway says which
// inputs were merged (merging again is harmless).
func cmdMerge(env *env, args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	pos, err := parse(fs, args, 2, -1, "OUT.db IN.db...")
	if err != nil {
		return err
	}
	in, err := sqlite.CheckMergeInputs(pos[1:])
	if err != nil {
		return mergeError(err)
	}
	st, err := sqlite.Open(pos[0])
	if err != nil {
		return storeError(err)
	}
	defer st.Close()
	err = st.MergeAll(in, func(path string, n int) {
		fmt.Fprintf(env.stdout, "%s: %d trials added\n", path, n)
	})
	return mergeError(err)
}

// mergeError maps a merge's error to its exit code: 2 for inputs the user
// can fix, 1 for I/O and corruption.
func mergeError(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, sqlite.ErrMergeRefused) ||
		errors.Is(err, sqlite.ErrConfigChanged) || errors.Is(err, sqlite.ErrSchemaVersion) {
		return usageError{err}
	}
	return err
}

func cmdBench(env *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o bench.Options
	fs.IntVar(&o.Batch, "batch", 32, "batch size")
	fs.IntVar(&o.Samples, "samples", 60000, "training images in the pass (the first N, in order)")
	fs.StringVar(&o.Arch, "arch", "784,128,64,10", "layer widths, input to output")
	fs.StringVar(&o.Optimizer, "optimizer", "sgd", "sgd, momentum (0.9) or adam (lr/50), as torch_mlp.py")
	fs.Float64Var(&o.LR, "lr", 0.05, "learning rate")
	fs.StringVar(&o.MNISTDir, "mnist", os.Getenv("MNIST_DIR"), "MNIST IDX `DIR` (default $MNIST_DIR; \"auto\" finds the GoMNIST module; empty: synthetic data of the same shape)")
	fs.StringVar(&o.Init, "init", "", "start from the weights in this safetensors `FILE` (torch_mlp.py --save-init)")
	fs.StringVar(&o.Activation, "activation", "relu", "hidden activation: "+strings.Join(bench.Activations, ", ")+" (leaky_relu: slope 0.01)")
	fs.IntVar(&o.Threads, "threads", 0, "threads the training may use (default: all cores; 1: one thread, as the one-thread yardsticks)")
	if _, err := parse(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if o.Batch < 1 || o.Samples < 1 {
		return usagef("bench: --batch and --samples must be ≥ 1, got %d and %d", o.Batch, o.Samples)
	}
	if o.Threads < 0 {
		return usagef("bench: --threads must be ≥ 1 (or 0: all cores), got %d", o.Threads)
	}
	if o.MNISTDir == "auto" {
		dir, err := data.MNISTDir()
		if err != nil {
			return err
		}
		o.MNISTDir = dir
	}
	r, err := bench.Run(o)
	if err != nil {
		return usageError{err}
	}
	b, _ := json.Marshal(r)
	fmt.Fprintln(env.stdout, string(b))
	return nil
}
