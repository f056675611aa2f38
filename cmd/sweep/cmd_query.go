package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// openExisting opens a database that must already exist, read-only:
// queries never create one by accident, and work on a file or in a folder
// they may not write.
func openExisting(path string) (*sqlite.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usagef("database %s: %v (run a sweep first, or pass --db)", path, err)
	}
	st, err := sqlite.OpenReadOnly(path)
	return st, storeError(err)
}

// storeError makes opening a --db that is not a regular file (a FIFO, a
// device) a usage error (exit 2).
func storeError(err error) error {
	if errors.Is(err, sqlite.ErrNotRegularFile) {
		return usageError{err}
	}
	return err
}

// parseAndOpen parses a query command's flags and arguments and opens its
// (existing) database.
func parseAndOpen(fs *flag.FlagSet, db *string, args []string, nargs int, argsHelp string) ([]string, *sqlite.Store, error) {
	pos, err := parse(fs, args, nargs, nargs, argsHelp)
	if err != nil {
		return nil, nil, err
	}
	st, err := openExisting(*db)
	return pos, st, err
}

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "sweeps.db", "SQLite database `file`")
}

func notFound(err error) error {
	if errors.Is(err, sqlite.ErrNotFound) {
		return usageError{err}
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdList(env *env, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	_, st, err := parseAndOpen(fs, db, args, 0, "")
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.ListSweeps()
	if err != nil {
		return err
	}
	if *asJSON {
		if rows == nil {
			rows = []sqlite.SweepRow{}
		}
		return writeJSON(env.stdout, rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWEEP\tTRIALS\tSTATES\tMETRIC\tBEST\tUPDATED")
	for _, r := range rows {
		total := 0
		for _, n := range r.Counts {
			total += n
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, total, strings.Join(sortedStatuses(r.Counts), ", "), r.Metric,
			fmtFloat(r.Best), r.Updated.Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

// trialJSON is the shape of one trial in 'show --json' and 'export
// --format json': a contract for scripts.
type trialJSON struct {
	ID                string                 `json:"id"`
	Sweep             string                 `json:"sweep"`
	Index             int                    `json:"index"`
	Point             int                    `json:"point"`
	Repeat            int                    `json:"repeat"`
	Params            map[string]any         `json:"params"`
	State             framework.Status       `json:"state"`
	StopReason        string                 `json:"stop_reason,omitempty"`
	Error             string                 `json:"error,omitempty"`
	Seed              uint64                 `json:"seed"`
	Epochs            int                    `json:"epochs"`
	Iterations        int                    `json:"iterations"`
	Samples           int                    `json:"samples"`
	Seconds           float64                `json:"seconds"`
	DivergedIteration int                    `json:"diverged_iteration,omitempty"`
	LastFiniteLoss    *float64               `json:"last_finite_loss,omitempty"`
	Final             map[string]float64     `json:"final"`
	Metrics           map[string][]pointJSON `json:"metrics"`
}

type pointJSON struct {
	Epoch     int     `json:"epoch"`
	Iteration int     `json:"iteration"`
	Value     float64 `json:"value"`
}

// Metric names of the per-epoch series.
var seriesNames = []string{"train_loss", "val_loss", "train_accuracy", "val_accuracy"}

func seriesValue(s framework.EpochStats, name string) float64 {
	switch name {
	case "train_loss":
		return s.TrainLoss
	case "val_loss":
		return s.ValLoss
	case "train_accuracy":
		return s.TrainAccuracy
	}
	return s.ValAccuracy
}

func toJSON(t *framework.TrialData) trialJSON {
	out := trialJSON{ID: t.Plan.ID, Sweep: t.Plan.Sweep, Index: t.Plan.Index, Point: t.Plan.Point, Repeat: t.Plan.Repeat,
		Params: t.Plan.Params, State: t.Status, StopReason: t.StopReason, Error: t.Error, Seed: t.Plan.Seed,
		Epochs: t.Epochs, Iterations: t.Iterations, Samples: t.Samples, Seconds: t.Seconds,
		DivergedIteration: t.DivergedIteration, Final: map[string]float64{}, Metrics: map[string][]pointJSON{}}
	if t.Status == framework.Diverged && !math.IsNaN(t.LastFiniteLoss) {
		v := t.LastFiniteLoss
		out.LastFiniteLoss = &v
	}
	for _, name := range seriesNames {
		if v := seriesValue(t.Final, name); !math.IsNaN(v) && !math.IsInf(v, 0) {
			out.Final[name] = v
		}
		series := []pointJSON{}
		for _, s := range t.EpochSeries {
			if v := seriesValue(s, name); !math.IsNaN(v) && !math.IsInf(v, 0) {
				series = append(series, pointJSON{Epoch: s.Epoch, Iteration: s.Iteration, Value: v})
			}
		}
		if len(series) > 0 {
			out.Metrics[name] = series
		}
	}
	return out
}

func cmdShow(env *env, args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, st, err := parseAndOpen(fs, db, args, 1, "TRIAL|SWEEP")
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.LoadTrial(pos[0])
	if errors.Is(err, sqlite.ErrNotFound) {
		d, serr := st.LoadSweep(pos[0])
		if errors.Is(serr, sqlite.ErrNotFound) {
			return usagef("no trial or sweep named %q in %s", pos[0], *db)
		}
		if serr != nil {
			return serr // a database error, not a missing name: exit 1
		}
		return showSweep(env, d, *asJSON)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.stdout, toJSON(t))
	}
	w := env.stdout
	fmt.Fprintf(w, "trial %s of sweep %s (point %d, repeat %d, seed %d)\n", t.Plan.ID, t.Plan.Sweep, t.Plan.Point, t.Plan.Repeat, t.Plan.Seed)
	fmt.Fprintf(w, "state: %s (%s)\n", t.Status, t.StopReason)
	if t.Error != "" {
		fmt.Fprintf(w, "error: %s\n", t.Error)
	}
	if t.Status == framework.Diverged {
		fmt.Fprintf(w, "diverged at iteration %d; last finite batch loss %s\n", t.DivergedIteration, fmtFloat(t.LastFiniteLoss))
	}
	fmt.Fprintf(w, "%d epochs, %d iterations, %d samples, %.3fs\n", t.Epochs, t.Iterations, t.Samples, t.Seconds)
	keys := make([]string, 0, len(t.Plan.Params))
	for k := range t.Plan.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "settings:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %v\n", k, t.Plan.Params[k])
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tITERATION\tTRAIN_LOSS\tVAL_LOSS\tTRAIN_ACC\tVAL_ACC\tSECONDS")
	for _, s := range t.EpochSeries {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%.3f\n", s.Epoch, s.Iteration, fmtFloat(s.TrainLoss), fmtFloat(s.ValLoss),
			fmtFloat(s.TrainAccuracy), fmtFloat(s.ValAccuracy), s.Seconds)
	}
	return tw.Flush()
}

func showSweep(env *env, d *framework.SweepData, asJSON bool) error {
	if asJSON {
		trials := make([]trialJSON, len(d.Trials))
		for i := range d.Trials {
			trials[i] = toJSON(&d.Trials[i])
		}
		return writeJSON(env.stdout, map[string]any{"name": d.Info.Name, "config_hash": d.Info.ConfigHash,
			"seed": d.Info.Seed, "metric": d.Info.Metric, "config": d.Info.Config, "trials": trials})
	}
	counts := map[framework.Status]int{}
	for _, t := range d.Trials {
		counts[t.Status]++
	}
	fmt.Fprintf(env.stdout, "sweep %s: %d trials (%s), metric %s, seed %d, config %s\n", d.Info.Name, len(d.Trials),
		strings.Join(sortedStatuses(counts), ", "), d.Info.Metric, d.Info.Seed, d.Info.ConfigHash)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRIAL\tSTATE\tEPOCHS\tVAL_LOSS\tVAL_ACC\tSETTINGS")
	for _, t := range d.Trials {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", t.Plan.ID, t.Status, t.Epochs, fmtFloat(t.Final.ValLoss), fmtFloat(t.Final.ValAccuracy), describe(t.Plan))
	}
	return tw.Flush()
}

func cmdBest(env *env, args []string) error {
	fs := flag.NewFlagSet("best", flag.ContinueOnError)
	db := dbFlag(fs)
	metric := fs.String("metric", "", "rank by `METRIC`: "+strings.Join(experiment.Metrics, ", ")+" (default: the sweep's)")
	top := fs.Int("top", 10, "show the best `N` grid points")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, st, err := parseAndOpen(fs, db, args, 1, "SWEEP")
	if err != nil {
		return err
	}
	if *metric != "" && !slices.Contains(experiment.Metrics, *metric) {
		st.Close()
		return usageError{framework.UnknownNameError("metric", *metric, experiment.Metrics)}
	}
	defer st.Close()
	d, err := st.LoadSweep(pos[0])
	if err != nil {
		return notFound(err)
	}
	m := d.Info.Metric
	if *metric != "" {
		m = *metric
	}
	ranked := sweep.Rank(m, d.Trials)
	if note := sweep.IncomparableNote(m, d.Trials); note != "" {
		fmt.Fprintf(env.stderr, "sweep: warning: %s\n", note)
	}
	if *asJSON {
		type rowJSON struct {
			Rank     int            `json:"rank"`
			Point    int            `json:"point"`
			Params   map[string]any `json:"params"`
			Metric   string         `json:"metric"`
			Mean     *float64       `json:"mean"`
			Std      *float64       `json:"std"`
			Repeats  int            `json:"repeats"`
			Diverged int            `json:"diverged"`
			Failed   int            `json:"failed"`
			Trial    string         `json:"first_trial"`
		}
		out := []rowJSON{}
		for i, r := range ranked {
			var mean *float64
			if !math.IsNaN(r.Mean) {
				v := r.Mean
				mean = &v
			}
			var std *float64
			if !math.IsNaN(r.Std) {
				v := r.Std
				std = &v
			}
			out = append(out, rowJSON{Rank: i + 1, Point: r.Point, Params: varied(r.Plan), Metric: m, Mean: mean, Std: std,
				Repeats: r.N, Diverged: r.Diverged, Failed: r.Failed, Trial: r.Plan.ID})
		}
		return writeJSON(env.stdout, out)
	}
	if len(ranked) == 0 {
		return usagef("sweep %s has no trials", d.Info.Name)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RANK\t%s (MEAN ± STD)\tREPEATS\tNOTE\tSETTINGS\n", strings.ToUpper(m))
	for i, r := range ranked {
		if i >= *top {
			break
		}
		note := ""
		if r.Diverged > 0 {
			note = fmt.Sprintf("%d diverged", r.Diverged)
		}
		if r.Failed > 0 {
			note = strings.TrimSpace(note + fmt.Sprintf(" %d failed", r.Failed))
		}
		fmt.Fprintf(tw, "%d\t%s ± %s\t%d\t%s\t%s\n", i+1, fmtFloat(r.Mean), fmtFloat(r.Std), r.N, note, describe(r.Plan))
	}
	return tw.Flush()
}

func varied(p framework.TrialPlan) map[string]any {
	out := map[string]any{}
	for _, k := range p.Varied {
		out[k] = p.Params[k]
	}
	return out
}

func cmdExport(env *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	db := dbFlag(fs)
	format := fs.String("format", "csv", "csv or json")
	pos, st, err := parseAndOpen(fs, db, args, 1, "SWEEP")
	if err != nil {
		return err
	}
	if *format != "csv" && *format != "json" {
		st.Close()
		return usagef("--format must be csv or json, got %q", *format)
	}
	defer st.Close()
	d, err := st.LoadSweep(pos[0])
	if err != nil {
		return notFound(err)
	}
	if *format == "json" {
		out := make([]trialJSON, len(d.Trials))
		for i := range d.Trials {
			out[i] = toJSON(&d.Trials[i])
		}
		return writeJSON(env.stdout, out)
	}
	return writeCSV(env.stdout, d)
}

// writeCSV writes one row per trial: identity, state, every setting (as a
// dotted column) and the final metrics. Absent values are empty cells.
func writeCSV(w io.Writer, d *framework.SweepData) error {
	keys := map[string]bool{}
	for _, t := range d.Trials {
		for k := range t.Plan.Params {
			keys[k] = true
		}
	}
	params := make([]string, 0, len(keys))
	for k := range keys {
		params = append(params, k)
	}
	sort.Strings(params)
	cw := csv.NewWriter(w)
	head := []string{"id", "index", "point", "repeat", "seed", "state", "stop_reason", "epochs", "iterations", "samples", "seconds",
		"train_loss", "val_loss", "train_accuracy", "val_accuracy", "diverged_iteration", "last_finite_loss", "error"}
	cw.Write(append(head, params...))
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, t := range d.Trials {
		row := []string{t.Plan.ID, strconv.Itoa(t.Plan.Index), strconv.Itoa(t.Plan.Point), strconv.Itoa(t.Plan.Repeat),
			strconv.FormatUint(t.Plan.Seed, 10), string(t.Status), t.StopReason, strconv.Itoa(t.Epochs), strconv.Itoa(t.Iterations),
			strconv.Itoa(t.Samples), num(t.Seconds), num(t.Final.TrainLoss), num(t.Final.ValLoss), num(t.Final.TrainAccuracy),
			num(t.Final.ValAccuracy), strconv.Itoa(t.DivergedIteration), num(t.LastFiniteLoss), firstLine(t.Error)}
		for _, k := range params {
			v, ok := t.Plan.Params[k]
			if !ok {
				row = append(row, "")
				continue
			}
			row = append(row, fmt.Sprint(v))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
