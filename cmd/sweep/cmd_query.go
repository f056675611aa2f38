package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/report"
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

// sweepJSON is one sweep in 'list --json'; best and best_point are null
// when no trial has a value of the metric.
type sweepJSON struct {
	Name       string                   `json:"name"`
	ConfigHash string                   `json:"config_hash"`
	Metric     string                   `json:"metric"`
	CreatedAt  time.Time                `json:"created_at"`
	UpdatedAt  time.Time                `json:"updated_at"`
	Trials     int                      `json:"trials"`
	Counts     map[framework.Status]int `json:"counts"`
	Best       *float64                 `json:"best"`
	BestPoint  *int                     `json:"best_point"`
	BestNote   string                   `json:"best_note"` // "" for a plain completed point, else e.g. "pruned at epoch 3"
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
		out := make([]sweepJSON, len(rows))
		for i, r := range rows {
			out[i] = sweepJSON{Name: r.Name, ConfigHash: r.ConfigHash, Metric: r.Metric, CreatedAt: r.Created.UTC(),
				UpdatedAt: r.Updated.UTC(), Trials: r.Trials, Counts: r.Counts, BestNote: r.BestNote}
			if r.BestPoint >= 0 && !math.IsNaN(r.Best) && !math.IsInf(r.Best, 0) {
				best, point := r.Best, r.BestPoint
				out[i].Best, out[i].BestPoint = &best, &point
			}
			if out[i].Counts == nil {
				out[i].Counts = map[framework.Status]int{}
			}
		}
		return writeJSON(env.stdout, out)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWEEP\tTRIALS\tSTATES\tMETRIC\tBEST\tUPDATED")
	for _, r := range rows {
		total := 0
		for _, n := range r.Counts {
			total += n
		}
		best := fmtFloat(r.Best)
		if r.BestNote != "" {
			best += " (" + r.BestNote + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, total, strings.Join(sortedStatuses(r.Counts), ", "), r.Metric,
			best, r.Updated.Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
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
		if serr == nil {
			return showSweep(env, d, *asJSON)
		}
		if !errors.Is(serr, sqlite.ErrNotFound) {
			return serr
		}
		if t, err = loadByPrefix(st, pos[0], *db); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return report.WriteTrialJSON(env.stdout, t)
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
		fmt.Fprintf(w, "  %s: %s\n", k, framework.Flow(t.Plan.Setting(k)))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tITERATION\tTRAIN_LOSS\tVAL_LOSS\tTRAIN_ACC\tVAL_ACC\tSECONDS")
	for _, s := range t.EpochSeries {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%.3f\n", s.Epoch, s.Iteration, fmtFloat(s.TrainLoss), fmtFloat(s.ValLoss),
			fmtFloat(s.TrainAccuracy), fmtFloat(s.ValAccuracy), s.Seconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return showLayerStats(w, t.Layers)
}

// showLayerStats prints, per dense layer, what record.layer_stats_every
// stored: how many updates, the gradient norm at the first and the last
// of them, and the weight norm, update ratio and dead or saturated
// fraction at the last (the whole series: --json, or the layer_stats
// table). Nothing when nothing was recorded.
func showLayerStats(w io.Writer, points []framework.LayerPoint) error {
	if len(points) == 0 {
		return nil
	}
	first, last, n := map[int]framework.LayerPoint{}, map[int]framework.LayerPoint{}, map[int]int{}
	var layers []int
	for _, p := range points {
		if _, ok := first[p.Layer]; !ok {
			first[p.Layer] = p
			layers = append(layers, p.Layer)
		}
		last[p.Layer] = p
		n[p.Layer]++
	}
	sort.Ints(layers)
	fmt.Fprintf(w, "layer statistics (record.layer_stats_every), updates %d to %d:\n", points[0].Iteration, points[len(points)-1].Iteration)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tRECORDS\tGRAD_NORM FIRST\tGRAD_NORM LAST\tWEIGHT_NORM\tUPDATE_RATIO\tDEAD_FRACTION")
	for _, l := range layers {
		f, z := first[l], last[l]
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", l, n[l], fmtFloat(f.GradNorm), fmtFloat(z.GradNorm),
			fmtFloat(z.WeightNorm), fmtFloat(z.UpdateRatio), fmtFloat(z.DeadFraction))
	}
	return tw.Flush()
}

// minPrefix is the shortest trial id prefix show accepts.
const minPrefix = 4

// loadByPrefix loads the one trial whose id starts with prefix (at least
// minPrefix characters); none or several are a usage error naming them.
func loadByPrefix(st *sqlite.Store, prefix, db string) (*framework.TrialData, error) {
	if len(prefix) < minPrefix {
		return nil, usagef("no trial or sweep named %q in %s (a trial id prefix needs at least %d characters)", prefix, db, minPrefix)
	}
	const most = 10
	ids, err := st.TrialIDsWithPrefix(prefix, most+1)
	if err != nil {
		return nil, err
	}
	switch {
	case len(ids) == 0:
		return nil, usagef("no trial or sweep named %q in %s", prefix, db)
	case len(ids) > 1:
		more := ""
		if len(ids) > most {
			ids, more = ids[:most], ", ..."
		}
		return nil, usagef("trial id prefix %q is ambiguous in %s: it starts %s%s", prefix, db, strings.Join(ids, ", "), more)
	}
	return st.LoadTrial(ids[0])
}

func showSweep(env *env, d *framework.SweepData, asJSON bool) error {
	if asJSON {
		trials := make([]report.TrialRecord, len(d.Trials))
		for i := range d.Trials {
			trials[i] = report.NewTrialRecord(&d.Trials[i])
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
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", t.Plan.ID, t.Status, t.Epochs, fmtFloat(t.Final.ValLoss), fmtFloat(t.Final.ValAccuracy), results.Describe(t.Plan))
	}
	return tw.Flush()
}

func cmdBest(env *env, args []string) error {
	fs := flag.NewFlagSet("best", flag.ContinueOnError)
	db := dbFlag(fs)
	metric := fs.String("metric", "", "rank by `METRIC`: "+strings.Join(results.Names(), ", ")+" (default: the sweep's)")
	top := fs.Int("top", 10, "show the best `N` grid points")
	asJSON := fs.Bool("json", false, "print JSON")
	importance := fs.Bool("importance", false, "the share of the metric's variance each varied setting and pair explains (fANOVA)")
	pareto := fs.String("pareto", "", "the grid points no other beats on both of two measures `A,B` (e.g. val_loss,seconds): "+
		strings.Join(results.MeasureNames(), ", "))
	pos, st, err := parseAndOpen(fs, db, args, 1, "SWEEP")
	if err != nil {
		return err
	}
	defer st.Close()
	if *importance && *pareto != "" {
		return usagef("best: --importance and --pareto are two views: choose one")
	}
	if *pareto != "" && *metric != "" {
		return usagef("best: --metric does not apply with --pareto, which names its own two measures")
	}
	if *top < 1 {
		return usagef("best: --top must be ≥ 1, got %d", *top)
	}
	if *metric != "" {
		if _, err := results.Lookup(*metric); err != nil {
			return usageError{err}
		}
	}
	d, err := loadSweep(st, pos[0])
	if err != nil {
		return err
	}
	name := d.Info.Metric
	if *metric != "" {
		name = *metric
	}
	m := results.MustLookup(name)
	if err := m.Applies(results.SettingOf(d.Trials)); err != nil {
		return usagef("sweep %s cannot be ranked by %s: %v", d.Info.Name, m.Name, err)
	}
	if len(d.Trials) == 0 {
		return usagef("sweep %s has no trials", d.Info.Name)
	}
	if *pareto != "" {
		return bestPareto(env, d, *pareto, *asJSON)
	}
	if note := results.IncomparableNote(m, d.Trials); note != "" {
		fmt.Fprintf(env.stderr, "sweep: warning: %s\n", note)
	}
	if *importance {
		return bestImportance(env, d, m, *asJSON)
	}
	sum := results.Summarize(m, d.Trials, d.Info.Planned)
	if *asJSON {
		out := []bestJSON{}
		for i := range sum.Ranked {
			out = append(out, newBestJSON(m, i, &sum.Ranked[i]))
		}
		return writeJSON(env.stdout, out)
	}
	fmt.Fprintln(env.stdout, sum.Headline(results.Describe))
	if c := sum.Coverage(); c != "" {
		fmt.Fprintf(env.stdout, "(%s)\n", c)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RANK\t%s (MEAN ± STD)\tVALUES\tAGAINST THE BEST\tNOTE\tTRIAL\tSETTINGS\n", strings.ToUpper(m.Name))
	for i := range sum.Ranked {
		if i >= *top {
			break
		}
		r := &sum.Ranked[i]
		fmt.Fprintf(tw, "%d\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", i+1, results.MeanStdText(r), r.N(), r.Repeats,
			orDash(r.Verdict(i)), orDash(r.Note()), r.IDs[0], results.Describe(r.Plan))
	}
	return tw.Flush()
}

// bestJSON is one row of 'sweep best --json'.
type bestJSON struct {
	Rank       int            `json:"rank"`
	Point      int            `json:"point"`
	Params     map[string]any `json:"params"`
	Metric     string         `json:"metric"`
	Mean       report.Number  `json:"mean"`
	Std        report.Number  `json:"std"`
	N          int            `json:"n"`
	Repeats    int            `json:"repeats"`
	Completed  int            `json:"completed"`
	Diverged   int            `json:"diverged"`
	Failed     int            `json:"failed"`
	Pruned     int            `json:"pruned"`
	Unfinished int            `json:"unfinished"`
	PrunedAt   *int           `json:"pruned_at_epoch"`
	Note       string         `json:"note"`
	Verdict    string         `json:"against_best"`
	P          report.Number  `json:"p_value"`
	Tied       bool           `json:"tied_with_best"`
	Trials     []string       `json:"trials"`
}

func newBestJSON(m results.Metric, rank int, r *results.Point) bestJSON {
	out := bestJSON{Rank: rank + 1, Point: r.Point, Params: varied(r.Plan), Metric: m.Name, Mean: report.Number(r.Mean),
		Std: report.Number(r.Std), N: r.N(), Repeats: r.Repeats, Completed: r.Completed, Diverged: r.Diverged,
		Failed: r.Failed, Pruned: r.Pruned, Unfinished: r.Unfinished, Note: r.Note(), Verdict: r.Verdict(rank),
		P: report.Number(r.P), Tied: r.Tied, Trials: r.IDs}
	if r.PrunedAt > 0 {
		out.PrunedAt = &r.PrunedAt
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func varied(p framework.TrialPlan) map[string]any {
	out := map[string]any{}
	for _, k := range p.Varied {
		out[k] = p.Setting(k)
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
		return report.WriteTrialsJSON(env.stdout, d.Trials)
	}
	return report.WriteTrialsCSV(env.stdout, d.Trials)
}
