package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
	"github.com/gradsweep/gradsweep/report"
)

// importanceJSON is 'sweep best --importance --json'.
type importanceJSON struct {
	Metric      string     `json:"metric"`
	LogScale    bool       `json:"log_scale"`
	Method      string     `json:"method"`
	MethodText  string     `json:"method_text"`
	Points      int        `json:"points"`
	PointsUsed  int        `json:"points_used"`
	TrialsUsed  int        `json:"trials_used"`
	Excluded    string     `json:"excluded"`
	Treatment   string     `json:"treatment"`
	Settings    []string   `json:"settings"`
	Importances []termJSON `json:"importances"`
}

type termJSON struct {
	Kind     string   `json:"kind"`
	Settings []string `json:"settings"`
	Share    float64  `json:"share"`
}

// bestImportance prints the share of m's variance each varied setting and
// pair explains (results.ComputeImportance).
func bestImportance(env *env, d *framework.SweepData, m results.Metric, asJSON bool) error {
	imp, err := results.ComputeImportance(m, d.Trials)
	if err != nil {
		return usagef("sweep %s: importance of %s: %v", d.Info.Name, m.Name, err)
	}
	if asJSON {
		out := importanceJSON{Metric: m.Name, LogScale: imp.Log, Method: imp.Method, MethodText: imp.MethodText, Points: imp.Points,
			PointsUsed: imp.Used, TrialsUsed: imp.Trials, Excluded: imp.Excluded, Treatment: results.Treatment, Settings: imp.Factors}
		for _, t := range imp.Terms {
			out.Importances = append(out.Importances, termJSON{Kind: t.Kind(), Settings: append([]string{}, t.Keys...), Share: t.Share})
		}
		return writeJSON(env.stdout, out)
	}
	w := env.stdout
	fmt.Fprintln(w, imp.Headline())
	fmt.Fprintf(w, "method: %s\n", imp.MethodText)
	if imp.Excluded != "" {
		fmt.Fprintf(w, "left out: %s; %s\n", imp.Excluded, results.Treatment)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARE\tSETTINGS")
	for _, t := range imp.Terms {
		fmt.Fprintf(tw, "%.3f\t%s\n", t.Share, t.Name())
	}
	return tw.Flush()
}

// parseParetoFlag reads --pareto A,B: two different measures the sweep
// can have.
func parseParetoFlag(spec string, d *framework.SweepData) (a, b results.Metric, err error) {
	names := strings.Split(spec, ",")
	if len(names) != 2 {
		return a, b, usagef("best: --pareto takes two measures separated by a comma (e.g. val_loss,seconds), got %q", spec)
	}
	var ms [2]results.Metric
	for i, n := range names {
		m, err := results.LookupMeasure(strings.TrimSpace(n))
		if err != nil {
			return a, b, usagef("best: --pareto: %v", err)
		}
		if err := m.Applies(results.SettingOf(d.Trials)); err != nil {
			return a, b, usagef("sweep %s cannot be valued by %s: %v", d.Info.Name, m.Name, err)
		}
		ms[i] = m
	}
	if ms[0].Name == ms[1].Name {
		return a, b, usagef("best: --pareto needs two different measures, got %s twice", ms[0].Name)
	}
	return ms[0], ms[1], nil
}

// paretoJSON is 'sweep best --pareto A,B --json'.
type paretoJSON struct {
	Metrics    [2]string         `json:"metrics"`
	Directions [2]string         `json:"directions"`
	Front      int               `json:"front"`
	Excluded   string            `json:"excluded"`
	Points     []paretoPointJSON `json:"points"`
}

type paretoPointJSON struct {
	Point       int            `json:"point"`
	Params      map[string]any `json:"params"`
	Front       bool           `json:"front"`
	Values      []measureJSON  `json:"values"`
	DominatedBy []int          `json:"dominated_by"`
	Trials      []string       `json:"trials"`
}

type measureJSON struct {
	Metric string        `json:"metric"`
	Mean   report.Number `json:"mean"`
	Std    report.Number `json:"std"`
	N      int           `json:"n"`
}

// bestPareto prints the grid points no other point beats on both a and b.
func bestPareto(env *env, d *framework.SweepData, spec string, asJSON bool) error {
	a, b, err := parseParetoFlag(spec, d)
	if err != nil {
		return err
	}
	p := results.ComputePareto(a, b, d.Trials)
	if asJSON {
		out := paretoJSON{Metrics: [2]string{a.Name, b.Name}, Directions: [2]string{a.Direction(), b.Direction()}, Front: p.Front(),
			Excluded: p.Excluded, Points: []paretoPointJSON{}}
		for _, q := range p.Points {
			out.Points = append(out.Points, paretoPointJSON{Point: q.A.Point, Params: varied(q.A.Plan), Front: q.Front,
				Values: []measureJSON{{a.Name, report.Number(q.A.Mean), report.Number(q.A.Std), q.A.N()},
					{b.Name, report.Number(q.B.Mean), report.Number(q.B.Std), q.B.N()}},
				DominatedBy: append([]int{}, q.DominatedBy...), Trials: q.A.IDs})
		}
		return writeJSON(env.stdout, out)
	}
	w := env.stdout
	fmt.Fprintln(w, p.Headline())
	if p.Excluded != "" {
		fmt.Fprintf(w, "left out: %s; only points whose every repeat completed have both values\n", p.Excluded)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "FRONT\tPOINT\t%s (MEAN ± STD)\t%s (MEAN ± STD)\tDOMINATED BY\tTRIAL\tSETTINGS\n", strings.ToUpper(a.Name), strings.ToUpper(b.Name))
	for _, q := range p.Points {
		front, by := "", "-"
		if q.Front {
			front = "*"
		} else {
			by = pointList(q.DominatedBy, 4)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", front, q.A.Point, results.MeanStdText(&q.A), results.MeanStdText(&q.B), by,
			q.A.IDs[0], results.Describe(q.A.Plan))
	}
	return tw.Flush()
}

// pointList names up to most points: "3, 7, 12 and 2 more".
func pointList(pts []int, most int) string {
	var s []string
	for i, p := range pts {
		if i == most {
			return strings.Join(s, ", ") + fmt.Sprintf(" and %d more", len(pts)-most)
		}
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ", ")
}
