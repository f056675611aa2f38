package report

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gradsweep/gradsweep/framework/results"
)

// The "What mattered, and at what cost" section: hyperparameter importance
// (results.ComputeImportance) and the Pareto front of the ranking metric
// against training seconds (results.ComputePareto), the same numbers as
// 'sweep best --importance' and 'sweep best --pareto METRIC,seconds'.
func init() {
	sections = append(sections, struct{ id, title, intro string }{"insight", "What mattered, and at what cost",
		"The share of the ranking metric's variance that each varied setting and each pair of settings explains " +
			"(functional ANOVA, as 'sweep best --importance'), and the settings no other beats on both the metric and " +
			"training time (the Pareto front, as 'sweep best --pareto METRIC,seconds')."})
}

// colDominated is the grey of points off the Pareto front.
var colDominated = color.RGBA{170, 170, 170, 255}

// insightCharts adds the section's pictures and notes through add (the
// charts method's helper): importance.png and pareto.png, or notes saying
// why one is missing.
func (a *analysis) insightCharts(w, h int, add func(section, file, alt, caption string, f *figure, missing string)) {
	imp, err := results.ComputeImportance(a.metric.Metric, a.d.Trials)
	if err != nil {
		add("insight", "", "", "", nil, "Importance: "+err.Error()+".")
	} else {
		caption := "Method: " + imp.MethodText + "."
		if imp.Excluded != "" {
			caption += " Left out: " + imp.Excluded + "; " + results.Treatment + "."
		}
		add("insight", "img/importance.png", "importance of each setting and pair", caption, importanceFigure(imp, w, h), "")
	}
	secs, _ := results.LookupMeasure("seconds")
	p := results.ComputePareto(a.metric.Metric, secs, a.d.Trials)
	caption := "Each dot is a grid point (mean over repeats); coloured dots joined by the line are the front, grey ones are dominated."
	if p.Excluded != "" {
		caption += " Left out: " + p.Excluded + " (only points whose every repeat completed have both values)."
	}
	add("insight", "img/pareto.png", "Pareto front of the metric against seconds", caption, paretoFigure(p, a.shortLabelOf, w, h),
		"Pareto front: no grid point has both a value and a training time.")
}

// termLabel names a term with the report's short keys: "lr × batch".
func termLabel(t results.Term) string {
	if len(t.Keys) == 0 {
		return "3+ settings together"
	}
	var s []string
	for _, k := range t.Keys {
		s = append(s, shortKey(k))
	}
	return strings.Join(s, " × ")
}

// importanceFigure draws the terms' shares as horizontal bars, largest on
// top (at most 12; the rest are summed into one bar).
func importanceFigure(imp *results.Importance, w, h int) *figure {
	const most = 12
	type row struct {
		label string
		share float64
		main  bool
	}
	var rows []row
	rest := 0.0
	for i, t := range imp.Terms {
		if i >= most-1 && len(imp.Terms) > most {
			rest += t.Share
			continue
		}
		rows = append(rows, row{termLabel(t), t.Share, len(t.Keys) == 1})
	}
	if len(imp.Terms) > most {
		rows = append(rows, row{fmt.Sprintf("%d more terms", len(imp.Terms)-most+1), rest, false})
	}
	method := "exact, full grid"
	if imp.Method == results.MethodForest {
		method = "random forest"
	}
	what := imp.Metric.Name
	if imp.Log {
		what = "log " + what
	}
	p := newPlotGrid(true, false, fmt.Sprintf("Share of the variance of %s explained (fANOVA, %s)", what, method), "share of variance", "")
	p.X.Min, p.X.Max = 0, 1.12
	p.X.Tick.Marker = niceTicker{}
	p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.4
	var yt plot.ConstantTicks
	bars := &hbarPlot{}
	for i, r := range rows {
		y := float64(len(rows) - 1 - i)
		yt = append(yt, plot.Tick{Value: y, Label: truncate(r.label, 34)})
		col := seriesColor(0)
		if !r.main {
			col = seriesColor(1)
		}
		bars.bars = append(bars.bars, hbar{y: y, v: r.share, col: col})
	}
	p.Y.Tick.Marker = yt
	p.Add(bars)
	legend := []legendEntry{{"one setting", []plot.Thumbnailer{cellThumb{fill: seriesColor(0)}}},
		{"interaction", []plot.Thumbnailer{cellThumb{fill: seriesColor(1)}}}}
	return &figure{plot: p, legend: legend, w: w, h: h}
}

type hbar struct {
	y, v float64
	col  color.RGBA
}

// hbarPlot draws horizontal bars from 0 with their value written after
// them.
type hbarPlot struct{ bars []hbar }

func (b *hbarPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	s := textStyle(p, 9)
	s.XAlign = draw.XLeft
	for _, br := range b.bars {
		y0, y1 := trY(br.y-0.32), trY(br.y+0.32)
		x0, x1 := trX(0), trX(math.Max(0, math.Min(br.v, p.X.Max)))
		c.FillPolygon(br.col, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		c.FillText(s, vg.Point{X: x1 + vg.Points(4), Y: trY(br.y)}, fmt.Sprintf("%.3f", br.v))
	}
}

// paretoFigure draws every grid point valued by both measures: x the
// second (the cost), y the first; the front in colour, joined in order of
// the cost, dominated points grey. An axis is logarithmic where its values
// span more than a decade; the labels say which way is better.
func paretoFigure(pa *results.Pareto, name func(map[string]any) string, w, h int) *figure {
	if len(pa.Points) == 0 {
		return nil
	}
	var xs, ys []float64
	var front, dominated []xy
	type label struct {
		at   xy
		text string
	}
	var labels []label
	for _, q := range pa.Points {
		pt := xy{q.B.Mean, q.A.Mean}
		xs, ys = append(xs, pt.X), append(ys, pt.Y)
		if q.Front {
			front = append(front, pt)
			labels = append(labels, label{pt, truncate(fmt.Sprintf("#%d %s", q.A.Point, name(q.A.Plan.Params)), 40)})
		} else {
			dominated = append(dominated, pt)
		}
	}
	slices.SortStableFunc(front, func(p, q xy) int {
		if c := cmp.Compare(p.X, q.X); c != 0 {
			return c
		}
		return cmp.Compare(p.Y, q.Y)
	})
	logX, logY := scaleFor(xs, 10), scaleFor(ys, 10)
	p := newPlot(fmt.Sprintf("Pareto front: %s (%s) against %s (%s), means over repeats", pa.A.Name, pa.A.Direction(), pa.B.Name, pa.B.Direction()),
		axisLabel(pa.B, logX), axisLabel(pa.A, logY))
	xlo, xhi, _ := bounds(xs, logX)
	ylo, yhi, _ := bounds(ys, logY)
	pad := func(lo, hi float64, log bool) (float64, float64) {
		if log {
			return lo / 1.3, hi * 1.3
		}
		d := (hi - lo) * 0.08
		return lo - d, hi + d
	}
	xlo, xhi = pad(xlo, xhi, logX)
	ylo, yhi = pad(ylo, yhi, logY)
	setAxis(&p.X, xlo, xhi, logX)
	setAxis(&p.Y, ylo, yhi, logY)
	grey := &markPlot{pts: dominated, glyph: draw.GlyphStyle{Color: colDominated, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}, logX: logX, logY: logY}
	line := &linePlot{pts: front, style: draw.LineStyle{Color: seriesColor(3), Width: vg.Points(1.5)}, logX: logX, logY: logY}
	dots := &markPlot{pts: front, glyph: draw.GlyphStyle{Color: seriesColor(3), Radius: vg.Points(4.5), Shape: draw.CircleGlyph{}}, logX: logX, logY: logY}
	p.Add(grey, line, dots)
	const most = 8 // label at most this many front points
	if len(labels) > most {
		labels = labels[:most]
	}
	p.Add(plotFunc(func(c draw.Canvas, p *plot.Plot) {
		trX, trY := p.Transforms(&c)
		s := textStyle(p, 8)
		s.YAlign = draw.YBottom
		mid := (c.Min.X + c.Max.X) / 2
		for _, l := range labels {
			if !keep(l.at, logX, logY) {
				continue
			}
			at := vg.Point{X: trX(l.at.X) + vg.Points(6), Y: trY(l.at.Y) + vg.Points(3)}
			s.XAlign = draw.XLeft
			if at.X > mid { // right half: write the label to the left of its point
				at.X -= vg.Points(12)
				s.XAlign = draw.XRight
			}
			c.FillText(s, at, l.text)
		}
	}))
	legend := []legendEntry{
		{fmt.Sprintf("front (%d)", len(front)), []plot.Thumbnailer{line, dots}},
		{fmt.Sprintf("dominated (%d)", len(dominated)), []plot.Thumbnailer{grey}},
	}
	return &figure{plot: p, legend: legend, w: w, h: h}
}

// axisLabel names a measure on an axis: "val_loss (log scale)". It is
// kept short: gonum places a vertical axis's label at the middle of the
// values, not of the axis, so a long label on a log axis pushes the plot
// down.
func axisLabel(m results.Metric, log bool) string {
	if log {
		return m.Name + " (log scale)"
	}
	return m.Name
}

// plotFunc is a plotter drawn by a function.
type plotFunc func(c draw.Canvas, p *plot.Plot)

func (f plotFunc) Plot(c draw.Canvas, p *plot.Plot) { f(c, p) }
