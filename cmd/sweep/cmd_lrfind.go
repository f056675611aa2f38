package main

import (
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/lrfind"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/report"
)

// lrfindJSON is 'sweep lrfind --json'. The top-level curve is the one the
// suggestions are read from (the mean over seeds with --repeats); band and
// runs are present only with more than one seed.
type lrfindJSON struct {
	Seeds         []uint64        `json:"seeds"`
	Iterations    int             `json:"iterations"`
	Min           float64         `json:"min"`
	Max           float64         `json:"max"`
	LearningRates []report.Number `json:"learning_rates"`
	Losses        []report.Number `json:"losses"`
	Smoothed      []report.Number `json:"smoothed"`
	Suggestion    suggestionJSON  `json:"suggestion"`
	StoppedAt     report.Number   `json:"stopped_at"`
	StopReason    string          `json:"stop_reason"`
	Band          *bandJSON       `json:"band,omitempty"`
	Runs          []lrfindRunJSON `json:"runs,omitempty"`
	Grid          []report.Number `json:"grid,omitempty"` // with --grid
}

type suggestionJSON struct {
	Steepest  report.Number `json:"steepest"`
	MinOver10 report.Number `json:"min_over_10"`
}

type bandJSON struct {
	Min []report.Number `json:"min"`
	Max []report.Number `json:"max"`
}

type lrfindRunJSON struct {
	Seed          uint64          `json:"seed"`
	LearningRates []report.Number `json:"learning_rates"`
	Losses        []report.Number `json:"losses"`
	Smoothed      []report.Number `json:"smoothed"`
	StoppedAt     report.Number   `json:"stopped_at"`
	StopReason    string          `json:"stop_reason"`
}

func numbers(v []float64) []report.Number {
	out := make([]report.Number, len(v))
	for i, x := range v {
		out[i] = report.Number(x)
	}
	return out
}

func newLRFindJSON(res *lrfind.Result, set sweep.RangeSetting) lrfindJSON {
	out := lrfindJSON{Seeds: set.Seeds, Iterations: res.Config.Iterations, Min: res.Config.Min, Max: res.Config.Max,
		LearningRates: numbers(res.LearningRates), Losses: numbers(res.Losses), Smoothed: numbers(res.Smoothed),
		Suggestion: suggestionJSON{report.Number(res.Suggestion.Steepest), report.Number(res.Suggestion.MinOver10)},
		StoppedAt:  report.Number(res.StoppedAt()), StopReason: res.StopReason()}
	if len(res.Runs) > 1 {
		out.Band = &bandJSON{numbers(res.BandMin), numbers(res.BandMax)}
		for _, r := range res.Runs {
			out.Runs = append(out.Runs, lrfindRunJSON{Seed: r.Seed, LearningRates: numbers(r.LearningRates), Losses: numbers(r.Losses),
				Smoothed: numbers(r.Smoothed), StoppedAt: report.Number(r.StoppedAt()), StopReason: r.StopReason})
		}
	}
	return out
}

// stopText explains a stop reason.
var stopText = map[string]string{
	lrfind.StopIterations: "made every planned update",
	lrfind.StopFourTimes:  fmt.Sprintf("the smoothed loss rose above %d× its minimum", lrfind.StopFactor),
	lrfind.StopDiverged:   "the loss diverged",
}

func cmdLRFind(env *env, args []string) error {
	fs := flag.NewFlagSet("lrfind", flag.ContinueOnError)
	lo := fs.Float64("min", lrfind.DefaultMin, "the first update's learning `RATE`")
	hi := fs.Float64("max", lrfind.DefaultMax, "the last planned update's learning `RATE`")
	iters := fs.Int("iterations", lrfind.DefaultIterations, fmt.Sprintf("weight updates `N` from --min to --max, 2 to %d (epochs repeat as needed)", lrfind.MaxIterations))
	repeats := fs.Int("repeats", 1, fmt.Sprintf("run `R` seeds (those of the first grid point's repeats, 1 to %d, at most %d updates in all) and read the suggestions off their mean", lrfind.MaxRepeats, lrfind.MaxUpdates))
	grid := fs.Int("grid", 0, fmt.Sprintf("also print a grid: snippet of `K` log-spaced rates around the suggestions (1 to %d)", lrfind.MaxGrid))
	out := fs.String("out", "", "write lrfind.png (loss against rate) into `DIR`")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, 1, "FILE")
	if err != nil {
		return err
	}
	c := lrfind.Config{Min: *lo, Max: *hi, Iterations: *iters}
	if err := c.Check(); err != nil {
		return usagef("lrfind: %v", err)
	}
	if *repeats < 1 || *repeats > lrfind.MaxRepeats {
		return usagef("lrfind: --repeats %d: want 1 to %d", *repeats, lrfind.MaxRepeats)
	}
	if *repeats**iters > lrfind.MaxUpdates {
		return usagef("lrfind: --repeats %d × --iterations %d makes more than %d updates", *repeats, *iters, lrfind.MaxUpdates)
	}
	if *grid < 0 || *grid > lrfind.MaxGrid {
		return usagef("lrfind: --grid %d: want 1 to %d (0: no snippet)", *grid, lrfind.MaxGrid)
	}
	e, err := experiment.Load(pos[0])
	if err != nil {
		return err
	}
	res, set, err := sweep.RangeTest(env.ctx, e, framework.Default(), c, *repeats)
	if err != nil {
		return err
	}
	if *out != "" {
		title := fmt.Sprintf("Learning-rate range test: %s, batch %d", e.Name, set.BatchSize)
		path, err := report.WriteLRFind(*out, res, title)
		if err != nil {
			return err
		}
		if *asJSON {
			fmt.Fprintf(env.stderr, "wrote %s\n", path)
		} else {
			defer fmt.Fprintf(env.stdout, "wrote %s\n", path)
		}
	}
	if *asJSON {
		j := newLRFindJSON(res, set)
		j.Grid = numbers(res.Suggestion.GridRates(*grid))
		return writeJSON(env.stdout, j)
	}
	w := env.stdout
	seeds := fmt.Sprintf("seed %d", set.Seeds[0])
	if len(set.Seeds) > 1 {
		seeds = fmt.Sprintf("%d seeds (curve: their mean over the updates all reached)", len(set.Seeds))
	}
	fmt.Fprintf(w, "range test of %s: the base setting (grid, random and include ignored), %s\n", e.Name, seeds)
	fmt.Fprintf(w, "%d updates, rate ×%.4g each, from %g to %g; batch %d, %d updates an epoch: %d epochs\n",
		c.Iterations, c.Gamma(), c.Min, c.Max, set.BatchSize, set.PerEpoch, set.Epochs)
	fmt.Fprintf(w, "stopped after %d updates at rate %.3g: %s\n", len(res.LearningRates), res.StoppedAt(), stopText[res.StopReason()])
	s := res.Suggestion
	if math.IsNaN(s.Steepest) {
		fmt.Fprintln(w, "no suggestion: fewer than two updates were kept")
		return nil
	}
	fmt.Fprintf(w, "steepest descent: %.3g (the smoothed loss falls fastest there)\n", s.Steepest)
	fmt.Fprintf(w, "minimum / 10:     %.3g (the smoothed loss is lowest at %.3g)\n", s.MinOver10, s.MinRate)
	if *grid > 0 {
		fmt.Fprint(w, strings.TrimRight(lrfind.GridSnippet(s.GridRates(*grid)), "\n")+"\n")
	}
	return nil
}
