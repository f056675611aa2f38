package report

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Path is the route of a trial's point on a 2-D test function (the
// function data source): the point before training and after each epoch
// (one gradient step), and the function it descends. The run stores the
// losses, not the points; the sweep command gets the points by training
// the trials again from their stored settings (trials are deterministic:
// the same seed gives bit-identical weights, see sweep.Prepared.Replay).
type Path struct {
	Function string                     // the function and its options, e.g. "quadratic (condition 10)"
	F        func(x, y float64) float64 // the function
	Points   [][2]float64
}

// MaxPathPoints bounds the points of a path kept for drawing (the first
// and last always): a path of a million epochs is thinned to it.
const MaxPathPoints = 2000

// ThinPath keeps at most MaxPathPoints of pts, evenly spaced, with the
// first and the last.
func ThinPath(pts [][2]float64) [][2]float64 {
	n := len(pts)
	if n <= MaxPathPoints {
		return pts
	}
	out := make([][2]float64, 0, MaxPathPoints)
	for i := range MaxPathPoints - 1 {
		out = append(out, pts[i*(n-1)/(MaxPathPoints-1)])
	}
	return append(out, pts[n-1])
}

// contourCells is the resolution of the grid a contour plot evaluates
// the function on, and contourLevels the number of its levels.
const (
	contourCells  = 120
	contourLevels = 14
)

// pathSeries is one path to draw.
type pathSeries struct {
	label string
	pts   [][2]float64
	col   color.RGBA
	faint bool // a diverged trial: drawn thin and light
}

// view is the region a landscape picture shows: around every start and
// every point where f is at most 10 × the highest f at a start (a path
// that escapes leaves the picture, clipped), with a margin.
func view(f func(x, y float64) float64, paths []pathSeries) (x0, x1, y0, y1 float64) {
	fmax := math.Inf(-1)
	for _, s := range paths {
		if len(s.pts) > 0 {
			fmax = math.Max(fmax, f(s.pts[0][0], s.pts[0][1]))
		}
	}
	lim := 10 * math.Abs(fmax)
	x0, y0, x1, y1 = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range paths {
		for i, p := range s.pts {
			if !finite(p[0]) || !finite(p[1]) || math.Abs(p[0]) > 1e6 || math.Abs(p[1]) > 1e6 {
				continue
			}
			if v := f(p[0], p[1]); i > 0 && !(v <= lim) {
				continue
			}
			x0, x1, y0, y1 = math.Min(x0, p[0]), math.Max(x1, p[0]), math.Min(y0, p[1]), math.Max(y1, p[1])
		}
	}
	if !(x1 >= x0) {
		return -1, 1, -1, 1
	}
	cx, cy := (x0+x1)/2, (y0+y1)/2
	hw, hh := math.Max((x1-x0)/2*1.15, 0.5), math.Max((y1-y0)/2*1.15, 0.5)
	return cx - hw, cx + hw, cy - hh, cy + hh
}

// fnGrid is f sampled on a regular grid (plotter.GridXYZ), shifted by
// its minimum so that its values are ≥ 0 and log-spaced levels apply.
type fnGrid struct {
	x0, y0, dx, dy float64
	z              []float64 // row-major, rows along y
	n              int
}

func newFnGrid(f func(x, y float64) float64, x0, x1, y0, y1 float64) *fnGrid {
	n := contourCells
	g := &fnGrid{x0: x0, y0: y0, dx: (x1 - x0) / float64(n-1), dy: (y1 - y0) / float64(n-1), n: n, z: make([]float64, n*n)}
	lo := math.Inf(1)
	for r := range n {
		for c := range n {
			v := f(g.X(c), g.Y(r))
			g.z[r*n+c] = v
			if finite(v) {
				lo = math.Min(lo, v)
			}
		}
	}
	for i, v := range g.z {
		g.z[i] = v - lo
	}
	return g
}

func (g *fnGrid) Dims() (c, r int)   { return g.n, g.n }
func (g *fnGrid) Z(c, r int) float64 { return g.z[r*g.n+c] }
func (g *fnGrid) X(c int) float64    { return g.x0 + float64(c)*g.dx }
func (g *fnGrid) Y(r int) float64    { return g.y0 + float64(r)*g.dy }

// logLevels are contourLevels levels of g, log-spaced from 10⁻⁴ of its
// largest value (or its smallest positive one, if larger) to its largest.
func (g *fnGrid) logLevels() []float64 {
	hi, lo := 0.0, math.Inf(1)
	for _, v := range g.z {
		if finite(v) {
			hi = math.Max(hi, v)
			if v > 0 {
				lo = math.Min(lo, v)
			}
		}
	}
	if !(hi > 0) {
		return nil
	}
	lo = math.Max(lo, hi*1e-4)
	out := make([]float64, contourLevels)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, (float64(i)+0.5)/contourLevels)
	}
	return out
}

// landscapePlot is a contour plot of f (log-spaced levels, light to dark
// as f falls) with the paths, each from its start (○) to its end (■).
// The view covers the paths of shared (or paths, if nil), so that panels
// side by side show the same region.
func landscapePlot(title string, f func(x, y float64) float64, paths, shared []pathSeries) (*plot.Plot, []legendEntry) {
	p := newPlotGrid(false, false, title, "x", "y")
	if shared == nil {
		shared = paths
	}
	x0, x1, y0, y1 := view(f, shared)
	g := newFnGrid(f, x0, x1, y0, y1)
	if levels := g.logLevels(); levels != nil {
		c := plotter.NewContour(g, levels, nil)
		c.LineStyles = nil
		for i := range levels {
			col := viridis(0.15 + 0.8*float64(i)/float64(len(levels)))
			c.LineStyles = append(c.LineStyles, draw.LineStyle{Color: withAlpha(col, 150), Width: vg.Points(0.6)})
		}
		p.Add(c)
	}
	var legend []legendEntry
	for _, s := range paths {
		if len(s.pts) == 0 {
			continue
		}
		xys := make(plotter.XYs, 0, len(s.pts))
		for _, q := range s.pts {
			if finite(q[0]) && finite(q[1]) {
				xys = append(xys, plotter.XY{X: q[0], Y: q[1]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, _ := plotter.NewLine(xys)
		l.LineStyle = draw.LineStyle{Color: s.col, Width: vg.Points(1.2)}
		if s.faint {
			l.LineStyle = draw.LineStyle{Color: withAlpha(s.col, 70), Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
		}
		p.Add(l)
		if len(xys) <= 60 { // the iterates themselves, while they can be told apart
			sc, _ := plotter.NewScatter(xys)
			sc.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(1.3), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		start, _ := plotter.NewScatter(xys[:1])
		start.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(3.5), Shape: draw.RingGlyph{}}
		end, _ := plotter.NewScatter(xys[len(xys)-1:])
		end.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(3), Shape: draw.BoxGlyph{}}
		p.Add(start, end)
		if s.label != "" {
			legend = append(legend, legendEntry{label: s.label, thumbs: []plot.Thumbnailer{l}})
		}
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, y0, y1
	return p, legend
}

// landscapes groups the trials that have a path by their function, in the
// order of the functions' first trials.
func (a *analysis) landscapes(paths map[string]*Path) (names []string, by map[string][]*trialInfo) {
	by = map[string][]*trialInfo{}
	for _, ti := range a.trials {
		p := paths[ti.T.Plan.ID]
		if p == nil || len(p.Points) == 0 {
			continue
		}
		if by[p.Function] == nil {
			names = append(names, p.Function)
		}
		by[p.Function] = append(by[p.Function], ti)
	}
	return names, by
}

// optColor is the colour of an optimizer in the landscape pictures.
func (a *analysis) optColor(opt string) color.RGBA {
	return seriesColor(max(0, slices.Index(a.opts, opt)))
}

// landscapeCharts adds, per test function, the contour plot with every
// trial's path (coloured by optimizer), the best trial of each optimizer
// in its own panel, and for the quadratic the measured convergence rate
// over learning rate × momentum.
func (a *analysis) landscapeCharts(paths map[string]*Path, w, h int, add func(section, file, alt, caption string, f *figure, missing string)) {
	names, by := a.landscapes(paths)
	for i, name := range names {
		ts := by[name]
		f := paths[ts[0].T.Plan.ID].F
		var series []pathSeries
		seen := map[string]bool{}
		for _, ti := range ts {
			label := ""
			if !seen[ti.Opt] {
				label, seen[ti.Opt] = orDefault(ti.Opt, "path"), true
			}
			series = append(series, pathSeries{label: label, pts: paths[ti.T.Plan.ID].Points, col: a.optColor(ti.Opt), faint: ti.diverged()})
		}
		p, legend := landscapePlot(name+": every setting's path", f, series, nil)
		add("landscape", fmt.Sprintf("img/landscape-%d.png", i+1), name+": optimizer paths",
			fmt.Sprintf("%s: the path of every trial (%d), coloured by optimizer, from its start (○) to its end (■); diverged trials dashed and light.", name, len(ts)),
			&figure{plot: p, legend: legend, w: w, h: h}, "")
		if fig := a.bestPathsFigure(name, f, ts, paths, w); fig != nil {
			add("landscape", fmt.Sprintf("img/landscape-%d-best.png", i+1), name+": the best path of each optimizer",
				"The best trial of each optimizer (by the ranking metric), its learning rate in the title.", fig, "")
		}
		if fig := a.phaseFigure(name, ts, w, h); fig != nil {
			add("landscape", fmt.Sprintf("img/landscape-%d-rate.png", i+1), name+": convergence rate over learning rate × momentum",
				"The measured convergence rate ρ per step (f falling like ρ²ᵏ; report.ConvergenceRate on the train_loss series, the median over repeats), over learning rate × momentum: distill's phase diagram. Grey with × is ρ ≥ 1 or a diverged trial.", fig, "")
		}
	}
}

// bestPathsFigure draws the best trial of each optimizer on its own
// copy of the landscape, side by side.
func (a *analysis) bestPathsFigure(name string, f func(x, y float64) float64, ts []*trialInfo, paths map[string]*Path, w int) *figure {
	best := map[string]*trialInfo{}
	var opts []string
	for _, p := range a.points { // ranked, best first
		ti := p.Best
		if ti == nil || paths[ti.T.Plan.ID] == nil || paths[ti.T.Plan.ID].Function != name || best[ti.Opt] != nil {
			continue
		}
		best[ti.Opt] = ti
		opts = append(opts, ti.Opt)
	}
	if len(opts) < 2 {
		return nil
	}
	slices.SortFunc(opts, func(x, y string) int { return cmp.Compare(slices.Index(a.opts, x), slices.Index(a.opts, y)) })
	series := make([]pathSeries, len(opts))
	for i, o := range opts {
		series[i] = pathSeries{pts: paths[best[o].T.Plan.ID].Points, col: a.optColor(o)}
	}
	plots := make([]*plot.Plot, len(opts))
	for i, o := range opts {
		ti := best[o]
		title := orDefault(o, "(unnamed)")
		if ti.HasLR {
			title += ", lr " + fmtNum(ti.LR)
		}
		plots[i], _ = landscapePlot(title, f, series[i:i+1], series)
	}
	return tiles(plots, w)
}

// tiles draws plots side by side, three to a row, each w·3/10 high.
func tiles(plots []*plot.Plot, w int) *figure {
	cols := min(3, len(plots))
	rows := (len(plots) + cols - 1) / cols
	return &figure{w: w, h: w * 3 / 10 * rows, draw: func(c draw.Canvas) {
		tw := (c.Max.X - c.Min.X) / vg.Length(cols)
		th := (c.Max.Y - c.Min.Y) / vg.Length(rows)
		for i, p := range plots {
			x := c.Min.X + vg.Length(i%cols)*tw
			y := c.Max.Y - vg.Length(i/cols+1)*th
			tile := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y}, Max: vg.Point{X: x + tw, Y: y + th}}}
			drawPlot(draw.Crop(tile, 4, -4, 4, -4), p)
		}
	}}
}

// phaseFigure is the quadratic's phase diagram: the measured convergence
// rate over the learning rates × momentums of the grid (nil unless the
// function is a quadratic and both vary).
func (a *analysis) phaseFigure(name string, ts []*trialInfo, w, h int) *figure {
	if len(name) < 9 || name[:9] != "quadratic" {
		return nil
	}
	type cell struct{ lr, mu float64 }
	rates := map[cell][]float64{}
	var lrs, mus []float64
	for _, ti := range ts {
		mu, ok := toFloat(ti.T.Plan.Params["optimizer.momentum"])
		if !ok || !ti.HasLR {
			continue
		}
		var f []float64
		for _, e := range ti.T.EpochSeries {
			f = append(f, e.TrainLoss)
		}
		r := ConvergenceRate(f)
		if ti.diverged() {
			r = math.Inf(1)
		}
		k := cell{ti.LR, mu}
		if rates[k] == nil {
			lrs, mus = append(lrs, ti.LR), append(mus, mu)
		}
		rates[k] = append(rates[k], r)
	}
	slices.Sort(lrs)
	slices.Sort(mus)
	lrs, mus = slices.Compact(lrs), slices.Compact(mus)
	if len(lrs) < 2 || len(mus) < 2 {
		return nil
	}
	p := newPlotGrid(false, false, name+": convergence rate ρ", "learning rate", "momentum μ")
	p.Add(&phasePlot{lrs: lrs, mus: mus, rate: func(i, j int) (float64, bool) {
		v, ok := rates[cell{lrs[i], mus[j]}]
		if !ok {
			return 0, false
		}
		return median(v), true
	}})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(len(lrs))-0.5, -0.5, float64(len(mus))-0.5
	p.X.Tick.Marker = indexTicks(lrs)
	p.Y.Tick.Marker = indexTicks(mus)
	return &figure{plot: p, w: w, h: h}
}

// indexTicks labels the positions 0, 1, … with vals.
func indexTicks(vals []float64) plot.ConstantTicks {
	var t plot.ConstantTicks
	for i, v := range vals {
		t = append(t, plot.Tick{Value: float64(i), Label: fmtNum(v)})
	}
	return t
}

// phasePlot draws one cell per (learning rate, momentum): its colour is
// the rate (viridis over [0, 1], dark is fast), its text the value; grey
// with × where ρ ≥ 1 (no convergence) or the trial diverged.
type phasePlot struct {
	lrs, mus []float64
	rate     func(i, j int) (float64, bool)
}

func (h *phasePlot) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	sty := textStyle(p, 8)
	for i := range h.lrs {
		for j := range h.mus {
			r, ok := h.rate(i, j)
			if !ok {
				continue
			}
			x0, x1 := tx(float64(i)-0.5), tx(float64(i)+0.5)
			y0, y1 := ty(float64(j)-0.5), ty(float64(j)+0.5)
			rect := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
			fill := color.Color(color.RGBA{200, 200, 200, 255})
			text := "×"
			if finite(r) && r < 1 {
				fill, text = viridis(r), fmtSig(r, 3)
			}
			c.FillPolygon(fill, rect)
			sty.Color = color.Black
			if luminance(fill) < 0.45 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, text)
		}
	}
}

// trialPathFigure is a trial's own path on its landscape (nil without one).
func (a *analysis) trialPathFigure(ti *trialInfo, paths map[string]*Path, w, h int) *figure {
	path := paths[ti.T.Plan.ID]
	if path == nil || len(path.Points) == 0 {
		return nil
	}
	p, _ := landscapePlot(trialTitle(ti, "path on "+path.Function), path.F, []pathSeries{{pts: path.Points, col: a.optColor(ti.Opt)}}, nil)
	return &figure{plot: p, w: w, h: h}
}
