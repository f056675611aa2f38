package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// curveSeries is one line of a curve chart.
type curveSeries struct {
	label    string // legend text ("" for no entry)
	pts      []xy
	col      color.RGBA
	alpha    uint8 // 0 means opaque
	width    float64
	dash     []vg.Length
	lo, hi   []float64 // optional band (same length as pts)
	diverged bool      // mark the last drawable point with ×
	escaped  bool      // blew up: mark where it leaves the range with ▲ at the top edge
	pruned   bool      // mark the last drawable point with a ring
	noRange  bool      // do not let this series set the y range
	dots     bool      // draw a small circle at every point
	backdrop bool      // context only (a single trial behind its group's mean): a legend may cover it
}

// curveChart draws loss-like curves. The y range comes from the series
// that set it (trials that neither diverged nor blew up), so a blow-up is
// clipped and marked at the edge instead of flattening everything else.
// The y axis is logarithmic when those values span more than a decade
// (zeros are then drawn at the smallest positive value, and the figure's
// notes say so); logXRatio > 0 makes x logarithmic when it spans that
// ratio.
func curveChart(title, xl, yl string, series []curveSeries, logXRatio float64, w, h int, extra []legendEntry) *figure {
	var xs, ys, allY []float64
	for _, s := range series {
		for _, p := range s.pts {
			if finite(p.X) && finite(p.Y) {
				xs = append(xs, p.X)
				allY = append(allY, p.Y)
				if !s.noRange {
					ys = append(ys, p.Y)
				}
			}
		}
	}
	if len(xs) == 0 {
		return nil
	}
	if len(ys) == 0 {
		ys = allY
	}
	logX := logXRatio > 0 && scaleFor(xs, logXRatio)
	logY, floor, zeros := lossScale(ys)
	fig := &figure{w: w, h: h}
	if logY && zeros {
		series = clampZeros(series, floor)
		ys = append(ys, floor)
		fig.notes = append(fig.notes, fmt.Sprintf("Losses of exactly 0 are drawn at %s, the smallest positive value (a log axis has no 0).", fmtSig(floor, 3)))
	}
	p := newPlot(title, xl, yl)
	xlo, xhi, _ := bounds(xs, logX)
	ylo, yhi, ok := bounds(ys, logY)
	if !ok {
		logY = false
		ylo, yhi, _ = bounds(ys, false)
	}
	setAxis(&p.X, xlo, xhi, logX)
	setAxis(&p.Y, ylo, yhi, logY)
	if xl == "epoch" {
		p.X.Tick.Marker = niceTicker{integer: true}
	}
	if logY {
		p.Y.Label.Text += " (log scale)"
	}
	if logX {
		p.X.Label.Text += " (log scale)"
	}
	for _, s := range series {
		if s.lo == nil {
			continue
		}
		xsB := make([]float64, len(s.pts))
		for i, pt := range s.pts {
			xsB[i] = pt.X
		}
		p.Add(&bandPlot{x: xsB, lo: s.lo, hi: s.hi, fill: withAlpha(s.col, 50), logX: logX, logY: logY})
	}
	var entries []legendEntry
	for _, s := range series {
		l, thumbs := addCurve(p, s, logX, logY)
		if !s.backdrop {
			fig.avoid = append(fig.avoid, l.pts)
		}
		if s.label != "" {
			entries = append(entries, legendEntry{s.label, thumbs})
		}
	}
	entries = append(entries, extra...)
	entries = append(entries, curveMarks(p, series, logX, logY)...)
	fig.plot, fig.legend = p, entries
	return fig
}

// addCurve adds one series' line (and dots) to p and returns the line
// and its legend thumbnails.
func addCurve(p *plot.Plot, s curveSeries, logX, logY bool) (*linePlot, []plot.Thumbnailer) {
	wd := s.width
	if wd == 0 {
		wd = 1.5
	}
	var col color.Color = s.col
	if s.alpha != 0 {
		col = withAlpha(s.col, s.alpha)
	}
	l := &linePlot{pts: s.pts, style: draw.LineStyle{Color: col, Width: vg.Points(wd), Dashes: s.dash}, logX: logX, logY: logY}
	p.Add(l)
	var thumbs []plot.Thumbnailer
	if s.lo != nil {
		thumbs = append(thumbs, &bandPlot{fill: withAlpha(s.col, 50)})
	}
	thumbs = append(thumbs, l)
	if s.dots {
		m := &markPlot{pts: s.pts, glyph: draw.GlyphStyle{Color: col, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}, logX: logX, logY: logY}
		p.Add(m)
		thumbs = append(thumbs, m)
	}
	return l, thumbs
}

// curveMarks marks how series ended: × at the last finite value of a
// diverged trial, ▲ at the top edge where a trial that blew up leaves the
// range, a ring at the last value of a pruned trial. It returns the legend
// entries explaining the marks used.
func curveMarks(p *plot.Plot, series []curveSeries, logX, logY bool) []legendEntry {
	var div, esc, pruned bool
	for _, s := range series {
		switch {
		case s.diverged:
			if q, ok := lastDrawable(s.pts, logX, logY); ok {
				p.Add(&markPlot{pts: []xy{q}, glyph: crossStyle(s.col), logX: logX, logY: logY})
				div = true
			}
		case s.escaped:
			for _, q := range s.pts {
				if keep(q, logX, logY) && q.Y > p.Y.Max {
					p.Add(&markPlot{pts: []xy{q}, glyph: escapedStyle(s.col), logX: logX, logY: logY})
					esc = true
					break
				}
			}
		case s.pruned:
			if q, ok := lastDrawable(s.pts, logX, logY); ok {
				p.Add(&markPlot{pts: []xy{q}, glyph: prunedStyle(s.col), logX: logX, logY: logY})
				pruned = true
			}
		}
	}
	var out []legendEntry
	grey := color.RGBA{60, 60, 60, 255}
	if div {
		out = append(out, legendEntry{"diverged (× at last finite value)", []plot.Thumbnailer{divergedMark()}})
	}
	if esc {
		out = append(out, legendEntry{"blew up: triangle where it leaves the range", []plot.Thumbnailer{&markPlot{glyph: escapedStyle(grey)}}})
	}
	if pruned {
		out = append(out, legendEntry{"pruned (ring at its last epoch)", []plot.Thumbnailer{&markPlot{glyph: prunedStyle(grey)}}})
	}
	return out
}

// lastDrawable is the last point of pts that the axes can show.
func lastDrawable(pts []xy, logX, logY bool) (xy, bool) {
	for i := len(pts) - 1; i >= 0; i-- {
		if keep(pts[i], logX, logY) {
			return pts[i], true
		}
	}
	return xy{}, false
}

// clampZeros returns series with every y of exactly 0 (points and bands)
// raised to floor, for a log axis.
func clampZeros(series []curveSeries, floor float64) []curveSeries {
	up := func(v float64) float64 {
		if v == 0 {
			return floor
		}
		return v
	}
	out := slices.Clone(series)
	for i := range out {
		s := &out[i]
		pts := make([]xy, len(s.pts))
		for k, q := range s.pts {
			pts[k] = xy{q.X, up(q.Y)}
		}
		s.pts = pts
		if s.lo != nil {
			lo := make([]float64, len(s.lo))
			for k, v := range s.lo {
				lo[k] = up(v)
			}
			s.lo = lo
		}
	}
	return out
}

func curveLabel(kind string) string {
	if kind == "val_loss" {
		return "validation loss"
	}
	return "training loss"
}

// trialEpochFigure: train and validation loss per epoch of one trial.
func (a *analysis) trialEpochFigure(ti *trialInfo, w, h int) *figure {
	t := ti.T
	dots := len(t.EpochSeries) <= 40
	tr := curveSeries{label: "train loss", pts: curveOf(t, "train_loss", "epoch"), col: tab10[0], width: 1.8, dots: dots, diverged: ti.diverged()}
	va := curveSeries{label: "validation loss", pts: curveOf(t, "val_loss", "epoch"), col: tab10[1], width: 1.8,
		dash: []vg.Length{vg.Points(5), vg.Points(2.5)}, dots: dots, diverged: ti.diverged()}
	var series []curveSeries
	for _, s := range []curveSeries{tr, va} {
		for _, p := range s.pts {
			if finite(p.Y) {
				series = append(series, s)
				break
			}
		}
	}
	if len(series) == 0 {
		return nil
	}
	return curveChart(trialTitle(ti, "loss per epoch"), "epoch", "loss", series, 0, w, h, nil)
}

func trialTitle(ti *trialInfo, what string) string {
	s := truncate(ti.T.Plan.ID, 40) + ": " + what
	if ti.T.Status != "" && ti.T.Status != framework.Completed {
		s += " — " + string(ti.T.Status)
	}
	if ti.Label != "" {
		s += "\n" + truncate(ti.Label, 80)
	}
	return s
}

// maxPlotPoints bounds the points drawn per batch-loss series.
const maxPlotPoints = 1200

// trialBatchFigure: per-iteration batch loss, with a centred moving
// average of window recorded points when window > 1. Long series are
// reduced to the min and max of each bucket so the noise band keeps its
// width. For a diverged trial the recorded losses before the blow-up set
// the range and are drawn as "loss before divergence" (the store keeps a
// diverged trial's last updates); the diverging update is a × at the top
// edge.
func (a *analysis) trialBatchFigure(ti *trialInfo, window, w, h int) *figure {
	t := ti.T
	divAt := 0
	if ti.diverged() && t.DivergedIteration > 0 {
		divAt = t.DivergedIteration
	}
	var raw []xy
	for _, s := range t.BatchLoss {
		if finite(s.Loss) && (divAt == 0 || s.Iteration < divAt) {
			raw = append(raw, xy{float64(s.Iteration), s.Loss})
		}
	}
	if divAt > 1 && finite(t.LastFiniteLoss) && (len(raw) == 0 || raw[len(raw)-1].X < float64(divAt-1)) {
		raw = append(raw, xy{float64(divAt - 1), t.LastFiniteLoss})
	}
	if len(raw) == 0 {
		return nil
	}
	series := []curveSeries{{label: "batch loss", pts: envelope(raw, maxPlotPoints), col: tab10[0], alpha: 110, width: 0.7}}
	smoothed := window > 1 && len(raw) > 2
	if smoothed {
		series = append(series, curveSeries{label: fmt.Sprintf("moving average (%d points)", window),
			pts: thin(movingAverage(raw, window), maxPlotPoints), col: tab10[1], width: 2})
	}
	var extra []legendEntry
	if divAt > 0 {
		// The last recorded updates before the blow-up, in full.
		k := len(raw)
		for k > 0 && len(raw)-k < divergedTail && raw[k-1].X >= float64(divAt-2*divergedTail) {
			k--
		}
		tail := raw[k:]
		// Dots only where the tail is wide enough to tell them apart.
		dots := tail[len(tail)-1].X-tail[0].X >= 0.1*(raw[len(raw)-1].X-raw[0].X)
		series = append(series, curveSeries{label: "loss before divergence", pts: tail, col: colDiverged, width: 1.2, dots: dots})
		extra = append(extra, legendEntry{fmt.Sprintf("× at top: diverged at iteration %d", divAt), []plot.Thumbnailer{divergedMark()}})
	}
	f := curveChart(trialTitle(ti, "batch loss per iteration"), "iteration (weight update)", "batch loss", series, 0, w, h, extra)
	if f != nil && smoothed {
		f.notes = append(f.notes, fmt.Sprintf("In orange, a centred moving average of %d recorded losses.", window))
	}
	if f != nil && divAt > 0 {
		if float64(divAt) > f.plot.X.Max {
			f.plot.X.Max = float64(divAt)
		}
		f.plot.Add(&markPlot{pts: []xy{{float64(divAt), f.plot.Y.Max}}, glyph: crossStyle(colDiverged)})
	}
	return f
}

// trialRateFigure draws a trial's learning rate per recorded update, when
// a schedule varied it (nil when it stayed constant or was not recorded):
// beside the batch loss, it shows what a warmup, a decay or a plateau cut
// did to the step size.
func (a *analysis) trialRateFigure(ti *trialInfo, w, h int) *figure {
	var pts []xy
	varies := false
	for _, s := range ti.T.BatchLoss {
		if finite(s.LearningRate) && s.LearningRate > 0 {
			varies = varies || (len(pts) > 0 && s.LearningRate != pts[0].Y)
			pts = append(pts, xy{float64(s.Iteration), s.LearningRate})
		}
	}
	if !varies {
		return nil
	}
	series := []curveSeries{{label: "learning rate", pts: thin(pts, maxPlotPoints), col: tab10[2], width: 1.5}}
	return curveChart(trialTitle(ti, "learning rate per iteration"), "iteration (weight update)", "learning rate", series, 0, w, h/2, nil)
}

// trialFlowFigure draws the gradient flow (record.layer_stats_every): the
// gradient norm ‖∇W‖ of each dense layer per measured update, one line
// per layer, on a log axis when the norms span more than a decade (they
// do when the gradient vanishes). nil when the trial has no layer stats.
func (a *analysis) trialFlowFigure(ti *trialInfo, w, h int) *figure {
	byLayer := map[int][]xy{}
	var layers []int
	for _, l := range ti.T.Layers {
		if _, ok := byLayer[l.Layer]; !ok {
			layers = append(layers, l.Layer)
		}
		byLayer[l.Layer] = append(byLayer[l.Layer], xy{float64(l.Iteration), l.GradNorm})
	}
	if len(layers) == 0 {
		return nil
	}
	slices.Sort(layers)
	series := make([]curveSeries, len(layers))
	for k, l := range layers {
		series[k] = curveSeries{label: fmt.Sprintf("layer %d", l), pts: thin(byLayer[l], maxPlotPoints), col: seriesColor(k), width: 1.5}
	}
	return curveChart(trialTitle(ti, "gradient flow: ‖dL/dW‖ per dense layer"), "iteration (weight update)", "gradient norm ‖dL/dW‖", series, 0, w, h, nil)
}

// divergedTail is how many of a diverged trial's last updates the store
// keeps whatever its thinning (README: record.batch_loss_every).
const divergedTail = 32

// movingAverage is the centred mean of window points around each point
// (shrinking at the ends).
func movingAverage(pts []xy, window int) []xy {
	n := len(pts)
	prefix := make([]float64, n+1)
	for i, p := range pts {
		prefix[i+1] = prefix[i] + p.Y
	}
	out := make([]xy, n)
	half := window / 2
	for i := range pts {
		lo := max(0, i-half)
		hi := min(n, i+half+1)
		out[i] = xy{pts[i].X, (prefix[hi] - prefix[lo]) / float64(hi-lo)}
	}
	return out
}

// envelope keeps, for each of about max/2 buckets, the lowest and highest
// point in x order.
func envelope(pts []xy, limit int) []xy {
	if len(pts) <= limit {
		return pts
	}
	size := (len(pts) + limit/2 - 1) / (limit / 2)
	out := make([]xy, 0, limit+2)
	for lo := 0; lo < len(pts); lo += size {
		hi := min(lo+size, len(pts))
		mi, ma := lo, lo
		for i := lo; i < hi; i++ {
			if pts[i].Y < pts[mi].Y {
				mi = i
			}
			if pts[i].Y > pts[ma].Y {
				ma = i
			}
		}
		if mi > ma {
			mi, ma = ma, mi
		}
		out = append(out, pts[mi])
		if ma != mi {
			out = append(out, pts[ma])
		}
	}
	return out
}

// thin keeps every k-th point (and the last).
func thin(pts []xy, limit int) []xy {
	if len(pts) <= limit {
		return pts
	}
	k := (len(pts) + limit - 1) / limit
	out := make([]xy, 0, limit+1)
	for i := 0; i < len(pts); i += k {
		out = append(out, pts[i])
	}
	if (len(pts)-1)%k != 0 {
		out = append(out, pts[len(pts)-1])
	}
	return out
}

// group is a set of trials sharing one value of a parameter.
type group struct {
	label  string
	trials []*trialInfo
}

// groupsBy splits trials by learning rate ("lr"), batch size ("batch") or
// optimizer ("optimizer"), in the parameter's natural order.
func (a *analysis) groupsBy(by string) []group {
	var out []group
	switch by {
	case "lr":
		for _, lr := range a.lrs {
			g := group{label: "lr=" + fmtNum(lr)}
			for _, ti := range a.trials {
				if ti.HasLR && ti.LR == lr {
					g.trials = append(g.trials, ti)
				}
			}
			out = append(out, g)
		}
	case "batch":
		for _, b := range a.batches {
			g := group{label: b.label()}
			for _, ti := range a.trials {
				if ti.HasBat && (batchKey{ti.Batch, ti.Full}) == b {
					g.trials = append(g.trials, ti)
				}
			}
			out = append(out, g)
		}
	case "optimizer":
		if !a.hasOpt {
			return nil
		}
		for _, o := range a.opts {
			g := group{label: o}
			if o == "" {
				g.label = "(unnamed)"
			}
			for _, ti := range a.trials {
				if ti.Opt == o {
					g.trials = append(g.trials, ti)
				}
			}
			out = append(out, g)
		}
	}
	return out
}

// thinSeries is one trial's curve drawn thinly in its group's colour,
// marked by how it ended; trials that diverged or blew up do not set the
// y range.
func (a *analysis) thinSeries(ti *trialInfo, x string, col color.RGBA, dash []vg.Length) curveSeries {
	s := curveSeries{pts: curveOf(ti.T, a.curve, x), col: col, alpha: 70, width: 0.7, dash: dash, backdrop: true}
	switch {
	case ti.diverged():
		s.diverged, s.noRange = true, true
	case a.blewUp(ti):
		s.escaped, s.noRange = true, true
	case ti.T.Status == framework.Pruned:
		s.pruned = true
	}
	return s
}

// meanLabel says what a group's mean line averages: "lr=0.1: mean of 7/9
// (2 diverged)".
func (a *analysis) meanLabel(name string, all, settled []*trialInfo, drawn bool) string {
	div, blew, pruned, other := 0, 0, 0, 0
	for _, ti := range all {
		switch {
		case a.settled(ti):
		case ti.diverged():
			div++
		case ti.T.Status == framework.Pruned:
			pruned++
		case a.blewUp(ti):
			blew++
		default:
			other++
		}
	}
	var left []string
	for _, c := range []struct {
		n    int
		what string
	}{{div, "diverged"}, {blew, "blew up"}, {pruned, "pruned"}, {other, "unfinished"}} {
		if c.n > 0 {
			left = append(left, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if !drawn {
		return fmt.Sprintf("%s: no mean (%s)", name, orDefault(strings.Join(left, ", "), "no completed trial"))
	}
	label := fmt.Sprintf("%s: mean of %d/%d", name, len(settled), len(all))
	if len(left) > 0 {
		label += " (" + strings.Join(left, ", ") + ")"
	}
	return label
}

// overlayFigure draws every trial's loss curve thinly in its group's
// colour, and each group's mean boldly: the mean over its settled trials
// only (completed, not blown up), at epochs where all of them have a
// value.
func (a *analysis) overlayFigure(by, title string, w, h int) *figure {
	groups := a.groupsBy(by)
	if len(groups) < 2 {
		return nil
	}
	var series []curveSeries
	for gi, g := range groups {
		for _, ti := range g.trials {
			series = append(series, a.thinSeries(ti, "epoch", seriesColor(gi), seriesDash(gi)))
		}
	}
	for gi, g := range groups {
		settled := a.settledOf(g.trials)
		agg := aggregate(settled, a.curve, "epoch")
		pts := make([]xy, len(agg))
		for i, ap := range agg {
			pts[i] = xy{ap.X, ap.Mean}
		}
		series = append(series, curveSeries{label: a.meanLabel(g.label, g.trials, settled, len(agg) > 0), pts: pts,
			col: seriesColor(gi), width: 2.4, dash: seriesDash(gi)})
	}
	return curveChart(title, "epoch", curveLabel(a.curve), series, 0, w, h,
		[]legendEntry{{"thin: single trials; bold: mean of n/m", nil}, {"completed, stable trials", nil}})
}

// repeatsFigure: for the best grid points, the mean curve over the
// repeats that completed stably, with a ±1 std band.
func (a *analysis) repeatsFigure(k, w, h int) *figure {
	var series []curveSeries
	for _, p := range a.points {
		if len(series) == k {
			break
		}
		ts := a.settledOf(p.Trials)
		if len(ts) == 0 {
			continue
		}
		agg := aggregate(ts, a.curve, "epoch")
		if len(agg) == 0 {
			continue
		}
		i := len(series)
		s := curveSeries{label: fmt.Sprintf("%s (%d/%d)", orDefault(p.Short, fmt.Sprintf("point %d", p.Point.Point)), len(ts), len(p.Trials)),
			col: seriesColor(i), width: 2, dash: seriesDash(i)}
		s.pts, s.lo, s.hi = band(agg)
		series = append(series, s)
	}
	if len(series) == 0 {
		return nil
	}
	return curveChart(fmt.Sprintf("Repeats: mean ± 1 std of %s (best %d grid points)", curveLabel(a.curve), len(series)),
		"epoch", curveLabel(a.curve), series, 0, w, h, []legendEntry{{"(n/m: completed, stable repeats / repeats)", nil}})
}

// band is the mean line and ±1 std band of aggregated points (a std that
// is not finite, as with one value, counts as 0).
func band(agg []aggPoint) (pts []xy, lo, hi []float64) {
	for _, ap := range agg {
		pts = append(pts, xy{ap.X, ap.Mean})
		sd := ap.Std
		if !finite(sd) {
			sd = 0
		}
		lo = append(lo, ap.Mean-sd)
		hi = append(hi, ap.Mean+sd)
	}
	return pts, lo, hi
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// gdOptimizer is the one optimizer the GD vs SGD charts compare batch
// sizes under, so that they compare like with like: the one with the most
// batch sizes, then the most grid points, then the best ranked point.
// only is true when the sweep has no other.
func (a *analysis) gdOptimizer() (opt string, only bool) {
	if len(a.opts) < 2 {
		if len(a.opts) == 1 {
			return a.opts[0], true
		}
		return "", true
	}
	type score struct{ batches, points, rank int }
	scores := map[string]*score{}
	seen := map[string]map[batchKey]bool{}
	for _, p := range a.points {
		if !p.HasBat {
			continue
		}
		sc := scores[p.Opt]
		if sc == nil {
			sc = &score{rank: p.Rank}
			scores[p.Opt] = sc
			seen[p.Opt] = map[batchKey]bool{}
		}
		sc.points++
		if b := (batchKey{p.Batch, p.Full}); !seen[p.Opt][b] {
			seen[p.Opt][b] = true
			sc.batches++
		}
	}
	var best *score
	for _, o := range a.opts {
		sc := scores[o]
		if sc != nil && (best == nil || sc.batches > best.batches || sc.batches == best.batches &&
			(sc.points > best.points || sc.points == best.points && sc.rank < best.rank)) {
			opt, best = o, sc
		}
	}
	return opt, false
}

// gdPoints is, for each batch size, the best grid point of optimizer opt
// using it.
func (a *analysis) gdPoints(opt string) []*pointInfo {
	var out []*pointInfo
	for _, b := range a.batches {
		for _, p := range a.points { // ranked: the first match is the best
			if p.HasBat && p.Opt == opt && (batchKey{p.Batch, p.Full}) == b {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// gdFigure compares full-batch GD, SGD and mini-batch under one optimizer
// (gdOptimizer): each batch size's best setting, mean ± std over its
// settled repeats, against epochs, iterations or seconds (the median
// over repeats). It is nil when fewer than two batch sizes compare.
func (a *analysis) gdFigure(x string, w, h int) *figure {
	opt, only := a.gdOptimizer()
	pts := a.gdPoints(opt)
	if len(pts) < 2 {
		return nil
	}
	var series []curveSeries
	for i, p := range pts {
		label := batchKey{p.Batch, p.Full}.label()
		if p.HasLR {
			label += ": lr=" + fmtNum(p.LR)
		}
		s := curveSeries{col: seriesColor(i), width: 2, dash: seriesDash(i)}
		settled := a.settledOf(p.Trials)
		agg := aggregate(settled, a.curve, x)
		s.dots = len(agg) <= 30
		s.pts, s.lo, s.hi = band(agg)
		switch {
		case len(agg) == 0 && p.Class == results.PrunedClass:
			label += fmt.Sprintf(" (all pruned by epoch %d)", p.PrunedAt)
		case len(agg) == 0:
			label += " (no repeat completed stably)"
		case len(settled) < len(p.Trials):
			label += fmt.Sprintf(" (%d/%d repeats)", len(settled), len(p.Trials))
		}
		s.label = label
		series = append(series, s)
	}
	xl, against, ratio := "epoch", "epochs", 0.0
	switch x {
	case "iteration":
		xl, against, ratio = "iterations (weight updates)", "iterations", 100
	case "seconds":
		xl, against, ratio = "wall-clock seconds (median over repeats)", "wall-clock time", 100
	}
	title := fmt.Sprintf("GD vs SGD vs mini-batch: %s against %s", curveLabel(a.curve), against)
	if a.hasOpt {
		what := "optimizer " + orDefault(opt, "(unnamed)")
		if !only {
			what += " only (the other optimizers are left out)"
		}
		title += "\n" + what
	}
	return curveChart(title, xl, curveLabel(a.curve), series, ratio, w, h,
		[]legendEntry{{"best setting per batch size,", nil}, {"mean ± 1 std over completed repeats", nil}})
}

// colorScale maps metric values to viridis, on a log scale for losses
// spanning a decade or more.
type colorScale struct {
	lo, hi float64
	log    bool
}

func newColorScale(vals []float64, higher bool) (colorScale, bool) {
	lo, hi, ok := bounds(vals, false)
	if !ok {
		return colorScale{}, false
	}
	s := colorScale{lo: lo, hi: hi, log: !higher && scaleFor(vals, 10)}
	if s.log {
		if hi/lo < 1.2 {
			s.lo, s.hi = lo/1.25, hi*1.25
		}
	} else if hi-lo <= 1e-12*math.Max(1, math.Abs(hi)) {
		d := math.Max(math.Abs(hi)*0.1, 0.5)
		s.lo, s.hi = lo-d, hi+d
	}
	return s, true
}

func (s colorScale) t(v float64) float64 {
	if s.log {
		return (math.Log(v) - math.Log(s.lo)) / (math.Log(s.hi) - math.Log(s.lo))
	}
	return (v - s.lo) / (s.hi - s.lo)
}

func (s colorScale) color(v float64) color.RGBA { return viridis(s.t(v)) }

// heatCell is the best grid point at one learning rate × batch size.
type heatCell struct {
	p *pointInfo
	n int // grid points at this cell
}

// heatmapGrid collects the cells for one optimizer (all when opt is nil).
func (a *analysis) heatmapGrid(opt *string) (cells [][]heatCell, multi bool) {
	cells = make([][]heatCell, len(a.batches))
	for r := range cells {
		cells[r] = make([]heatCell, len(a.lrs))
	}
	for _, p := range a.points {
		if !p.HasLR || !p.HasBat || (opt != nil && p.Opt != *opt) {
			continue
		}
		r := slices.IndexFunc(a.batches, func(b batchKey) bool { return b == batchKey{p.Batch, p.Full} })
		c := slices.Index(a.lrs, p.LR)
		if r < 0 || c < 0 {
			continue
		}
		cell := &cells[r][c]
		cell.n++
		if cell.n > 1 {
			multi = true
		}
		if cell.p == nil || a.cmpPoints(p, cell.p) < 0 {
			cell.p = p
		}
	}
	return cells, multi
}

// heatmapScale is the colour scale shared by all heatmaps.
func (a *analysis) heatmapScale() (colorScale, bool) {
	var vals []float64
	for _, p := range a.points {
		if p.HasLR && p.HasBat && p.Final() {
			vals = append(vals, p.Mean)
		}
	}
	return newColorScale(vals, a.metric.HigherIsBetter)
}

// heatPlot draws the cells of a heatmap on categorical axes.
type heatPlot struct {
	cells  [][]heatCell
	scale  colorScale
	scaled bool
	best   [2]int // row, col of the outlined cell (-1: none)
	// tied holds the grid points the repeats cannot tell from the
	// outlined best (tiedWith); their cells are outlined dashed.
	tied map[int]bool
}

// marksTied says whether cell (r, c) is outlined as tied with the chart's
// best: another point, which the tie test could not tell from it.
func (h *heatPlot) marksTied(r, c int) bool {
	pt := h.cells[r][c].p
	return h.best != [2]int{r, c} && pt != nil && pt.Final() && h.tied[pt.Point.Point]
}

// tiedWith returns the grid points (by point index) that the repeats
// cannot tell from best, the best point of a heatmap (Welch's t-test as
// 'sweep best', and not merely too few repeats to test). When best is the
// sweep's best, that is the sweep's own verdict; otherwise (a heatmap of
// one optimizer whose best is not the sweep's) the points of that
// optimizer are ranked again among themselves, so the chart's best is
// tested against its own neighbours.
func (a *analysis) tiedWith(best *pointInfo, opt *string) map[int]bool {
	tied := map[int]bool{}
	if best == nil {
		return tied
	}
	ranked := make([]results.Point, 0, len(a.points))
	if best.Rank == 0 || opt == nil {
		for _, p := range a.points {
			ranked = append(ranked, p.Point)
		}
	} else {
		var trials []framework.TrialData
		for _, ti := range a.trials {
			if ti.Opt == *opt {
				trials = append(trials, *ti.T)
			}
		}
		ranked = results.Rank(a.metric.Metric, trials)
	}
	if len(ranked) == 0 || ranked[0].Point != best.Point.Point {
		return tied // the chart's best is not the ranking's: nothing was tested against it
	}
	for _, r := range ranked[1:] {
		if r.Tied && !math.IsNaN(r.P) {
			tied[r.Point] = true
		}
	}
	return tied
}

// anyTied says whether a cell is marked tied with the best.
func (h *heatPlot) anyTied() bool {
	for r, row := range h.cells {
		for c := range row {
			if h.marksTied(r, c) {
				return true
			}
		}
	}
	return false
}

// tiedDashes is the dash pattern of a cell tied with the best.
var tiedDashes = []vg.Length{vg.Points(4), vg.Points(2.5)}

func (h *heatPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	gap := vg.Points(1)
	for r, row := range h.cells {
		for col, cell := range row {
			x0, x1 := trX(float64(col)-0.5)+gap, trX(float64(col)+0.5)-gap
			y0, y1 := trY(float64(r)-0.5)+gap, trY(float64(r)+0.5)-gap
			rect := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
			cw, ch := x1-x0, y1-y0
			ctr := vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}
			var fill color.Color = color.White
			var lines []string
			pt := cell.p
			switch {
			case pt == nil: // no grid point here: the experiment's exclude dropped it
				lines = []string{"excluded"}
			case pt.Class == results.PrunedClass:
				// Valued at an earlier epoch than the others: no colour of the scale.
				fill = colPrunedFill
				lines = []string{"pruned", fmt.Sprintf("@ epoch %d", pt.PrunedAt)}
			case pt.Final() && h.scaled:
				fill = h.scale.color(pt.Mean)
				lines = []string{fmtSig(pt.Mean, 3)}
				if finite(pt.Std) {
					lines = append(lines, "±"+fmtSig(pt.Std, 2))
				}
				if pt.Diverged > 0 {
					lines = append(lines, fmt.Sprintf("%d/%d diverged", pt.Diverged, len(pt.Trials)))
				}
			case pt.Class == results.Broken:
				fill = colDivFill
			default:
				lines = []string{"no result"}
			}
			c.FillPolygon(fill, rect)
			if fill == color.White {
				c.StrokeLines(draw.LineStyle{Color: colGrid, Width: vg.Points(1)}, append(rect, rect[0]))
			}
			if pt != nil && pt.Class == results.Broken {
				// Every repeat diverged: a red × across the cell.
				ls := draw.LineStyle{Color: colDiverged, Width: vg.Points(2.5)}
				ix, iy := cw*0.25, ch*0.2
				c.StrokeLine2(ls, x0+ix, y0+iy, x1-ix, y1-iy)
				c.StrokeLine2(ls, x0+ix, y1-iy, x1-ix, y0+iy)
			} else if pt != nil && pt.Diverged > 0 {
				// Some repeats diverged: a small × in the corner.
				crossStyle(colDiverged).Shape.DrawGlyph(&c, draw.GlyphStyle{Color: colDiverged, Radius: vg.Points(4)},
					vg.Point{X: x1 - vg.Points(8), Y: y1 - vg.Points(8)})
			}
			if r == h.best[0] && col == h.best[1] {
				c.StrokeLines(draw.LineStyle{Color: color.Black, Width: vg.Points(3)}, append(rect, rect[0]))
			} else if h.marksTied(r, col) {
				var edge color.Color = color.Black
				if luminance(fill) < 0.5 {
					edge = color.White
				}
				in := vg.Points(2.5)
				inner := []vg.Point{{X: x0 + in, Y: y0 + in}, {X: x1 - in, Y: y0 + in}, {X: x1 - in, Y: y1 - in}, {X: x0 + in, Y: y1 - in}}
				c.StrokeLines(draw.LineStyle{Color: edge, Width: vg.Points(1.6), Dashes: tiedDashes}, append(inner, inner[0]))
			}
			h.cellText(&c, p, lines, fill, ctr, cw, ch)
		}
	}
}

// cellText writes lines centred in a cell, shrinking the font to fit and
// dropping lines that do not.
func (h *heatPlot) cellText(c *draw.Canvas, p *plot.Plot, lines []string, fill color.Color, ctr vg.Point, cw, ch vg.Length) {
	if len(lines) == 0 {
		return
	}
	col := color.Color(color.Black)
	if luminance(fill) < 0.5 {
		col = color.White
	}
	size := 10.0
	for ; size >= 6; size -= 0.5 {
		s := textStyle(p, size)
		fits := vg.Length(len(lines))*vg.Points(size*1.25) <= ch*0.9
		for _, l := range lines {
			if s.Rectangle(l).Size().X > cw*0.92 {
				fits = false
			}
		}
		if fits {
			break
		}
		if size <= 6 && len(lines) > 1 {
			lines = lines[:len(lines)-1]
			size = 10.5
		}
	}
	if size < 6 {
		return
	}
	s := textStyle(p, size)
	s.Color = col
	lh := vg.Points(size * 1.25)
	y := ctr.Y + lh*vg.Length(len(lines)-1)/2
	for _, l := range lines {
		c.FillText(s, vg.Point{X: ctr.X, Y: y}, l)
		y -= lh
	}
}

// colorBar draws the colour scale as a vertical bar.
type colorBar struct{ scale colorScale }

func (b *colorBar) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	const n = 96
	for k := range n {
		f0, f1 := float64(k)/n, float64(k+1)/n
		v0, v1 := b.at(f0), b.at(f1)
		y0, y1 := trY(v0), trY(v1)
		if k < n-1 {
			y1 += vg.Points(0.75) // overlap: no seams between slices
		}
		rect := []vg.Point{{X: trX(0), Y: y0}, {X: trX(1), Y: y0}, {X: trX(1), Y: y1}, {X: trX(0), Y: y1}}
		c.FillPolygon(viridis((f0+f1)/2), rect)
	}
}

func (b *colorBar) at(f float64) float64 {
	s := b.scale
	if s.log {
		return math.Exp(math.Log(s.lo) + f*(math.Log(s.hi)-math.Log(s.lo)))
	}
	return s.lo + f*(s.hi-s.lo)
}

// cellThumb draws a legend square for heatmap cells.
type cellThumb struct {
	fill                    color.Color
	cross, small, out, tied bool
}

func (t cellThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	side := r.Max.Y - r.Min.Y
	x0 := r.Min.X + (r.Max.X-r.Min.X-side)/2
	rect := []vg.Point{{X: x0, Y: r.Min.Y}, {X: x0 + side, Y: r.Min.Y}, {X: x0 + side, Y: r.Max.Y}, {X: x0, Y: r.Max.Y}}
	c.FillPolygon(t.fill, rect)
	border := draw.LineStyle{Color: color.RGBA{150, 150, 150, 255}, Width: vg.Points(0.5)}
	if t.out {
		border = draw.LineStyle{Color: color.Black, Width: vg.Points(2)}
	}
	if t.tied {
		border = draw.LineStyle{Color: color.Black, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	}
	c.StrokeLines(border, append(rect, rect[0]))
	ls := draw.LineStyle{Color: colDiverged, Width: vg.Points(1.8)}
	if t.cross {
		in := side * 0.18
		c.StrokeLine2(ls, x0+in, r.Min.Y+in, x0+side-in, r.Max.Y-in)
		c.StrokeLine2(ls, x0+in, r.Max.Y-in, x0+side-in, r.Min.Y+in)
	}
	if t.small {
		ctr := vg.Point{X: x0 + side*0.7, Y: r.Min.Y + side*0.7}
		thickCross{}.DrawGlyph(c, draw.GlyphStyle{Color: colDiverged, Radius: side * 0.16}, ctr)
	}
}

// heatmapPlot lays out the heatmap of one optimizer (all when opt is nil):
// its cells, the best one, and whether cells tied with it are marked;
// multi says a cell holds several grid points, anyPruned that one is
// pruned.
func (a *analysis) heatmapPlot(opt *string) (hp *heatPlot, multi, anyPruned bool) {
	cells, multi := a.heatmapGrid(opt)
	scale, scaled := a.heatmapScale()
	hp = &heatPlot{cells: cells, scale: scale, scaled: scaled, best: [2]int{-1, -1}}
	var bestP *pointInfo
	for r, row := range cells {
		for c, cell := range row {
			anyPruned = anyPruned || (cell.p != nil && cell.p.Class == results.PrunedClass)
			if cell.p != nil && cell.p.N() > 0 && cell.p.Class <= results.Unstable && (bestP == nil || a.cmpPoints(cell.p, bestP) < 0) {
				bestP, hp.best = cell.p, [2]int{r, c}
			}
		}
	}
	hp.tied = a.tiedWith(bestP, opt)
	return hp, multi, anyPruned
}

// heatmapFigure: the final ranking metric (mean over repeats) over
// learning rate × batch size for one optimizer (or all when opt is nil).
func (a *analysis) heatmapFigure(opt *string, w, h int) *figure {
	if len(a.lrs) == 0 || len(a.batches) == 0 {
		return nil
	}
	hp, multi, anyPruned := a.heatmapPlot(opt)
	scale, scaled, tied := hp.scale, hp.scaled, hp.anyTied()
	title := fmt.Sprintf("Final %s (mean over repeats, %s)", a.metric.Name, a.metric.Direction())
	if opt != nil && a.hasOpt {
		title = fmt.Sprintf("%s: final %s (mean over repeats, %s)", orDefault(*opt, "(unnamed)"), a.metric.Name, a.metric.Direction())
	}
	if multi {
		title += "\nbest over the other varied settings in each cell"
	}
	return &figure{w: w, h: h, draw: func(c draw.Canvas) {
		c = draw.Crop(c, vg.Points(4), -vg.Points(6), vg.Points(4), -vg.Points(4))
		colW := px(190)
		p := newPlotGrid(false, false, title, "learning rate (log-spaced categories)", "batch size")
		p.Title.TextStyle.Font.Size = vg.Points(11.5)
		p.X.Padding, p.Y.Padding = 0, 0
		var xt, yt plot.ConstantTicks
		for i, lr := range a.lrs {
			xt = append(xt, plot.Tick{Value: float64(i), Label: fmtNum(lr)})
		}
		for i, b := range a.batches {
			label := b.short()
			if b.Full {
				label += " GD"
			} else if b.Size == 1 {
				label += " SGD"
			}
			yt = append(yt, plot.Tick{Value: float64(i), Label: label})
		}
		p.X.Min, p.X.Max = -0.5, float64(len(a.lrs))-0.5
		p.Y.Min, p.Y.Max = -0.5, float64(len(a.batches))-0.5
		p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
		p.Add(hp)
		p.Draw(draw.Crop(c, 0, -colW, 0, 0))

		top := p.Title.TextStyle.Rectangle(title).Size().Y + p.Title.Padding + vg.Points(6)
		col := draw.Crop(c, (c.Max.X-c.Min.X)-colW+vg.Points(12), 0, 0, -top)
		colH := col.Max.Y - col.Min.Y
		if scaled {
			cb := plot.New()
			sansPlot(cb)
			cb.HideX()
			cb.Y.Label.Text = a.metric.Name
			cb.Y.Label.TextStyle.Font.Size = vg.Points(10)
			cb.Y.Tick.Label.Font.Size = vg.Points(9)
			cb.Y.Padding = 0
			cb.X.Min, cb.X.Max = 0, 1
			setAxis(&cb.Y, scale.lo, scale.hi, scale.log)
			cb.Add(&colorBar{scale: scale})
			cb.Draw(draw.Crop(col, 0, -(col.Max.X-col.Min.X)*0.45, colH*0.42, 0))
		}
		entries := []legendEntry{
			{"every repeat diverged", []plot.Thumbnailer{cellThumb{fill: colDivFill, cross: true}}},
			{"some repeats diverged", []plot.Thumbnailer{cellThumb{fill: viridis(0.6), small: true}}},
			{"excluded, or no result", []plot.Thumbnailer{cellThumb{fill: color.White}}},
			{"best in this chart", []plot.Thumbnailer{cellThumb{fill: viridis(0.9), out: true}}},
		}
		if tied {
			entries = append(entries, legendEntry{"tied with the best", []plot.Thumbnailer{cellThumb{fill: viridis(0.9), tied: true}}},
				legendEntry{"(Welch's t-test, p ≥ 0.05)", nil})
		}
		if anyPruned {
			entries = append(entries, legendEntry{"pruned: no final value", []plot.Thumbnailer{cellThumb{fill: colPrunedFill}}})
		}
		lg := newLegend(entries, 30)
		lg.ThumbnailWidth = vg.Points(14)
		lg.Padding = vg.Points(4)
		lg.Draw(draw.Crop(col, 0, 0, 0, -colH*0.62))
	}}
}

// optimizerBestFigure: the best grid point's metric per optimizer.
func (a *analysis) optimizerBestFigure(w, h int) *figure {
	if !a.hasOpt {
		return nil
	}
	bp := &barPlot{}
	var names []string
	for i, o := range a.opts {
		names = append(names, orDefault(o, "(unnamed)"))
		var best *pointInfo
		for _, p := range a.points {
			if p.Opt == o {
				best = p
				break
			}
		}
		bar := bar{col: seriesColor(i), val: math.NaN(), std: math.NaN()}
		if best != nil && best.Final() {
			bar.val, bar.std = best.Mean, best.Std
			bar.text = []string{fmtSig(best.Mean, 4) + pmSig(best.Std), truncate(best.Short, 34)}
		} else if best != nil && best.Class == results.PrunedClass {
			bar.text = []string{fmt.Sprintf("all pruned (by epoch %d)", best.PrunedAt)}
		} else if best != nil && best.Class == results.Broken {
			bar.text = []string{"all diverged"}
			bar.div = true
		} else {
			bar.text = []string{"no result"}
		}
		bp.bars = append(bp.bars, bar)
	}
	hi := 0.0
	for _, b := range bp.bars {
		if finite(b.val) {
			top := b.val
			if finite(b.std) {
				top += b.std
			}
			hi = math.Max(hi, top)
		}
	}
	if hi <= 0 {
		hi = 1
	}
	p := newPlotGrid(false, true, fmt.Sprintf("Best %s per optimizer (%s)", a.metric.Name, a.metric.Direction()), "optimizer",
		a.metric.Name+" of the best grid point (mean ± std)")
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Min, p.Y.Max = 0, hi*1.22
	p.Y.Tick.Marker = niceTicker{}
	p.X.Padding = 0
	var xt plot.ConstantTicks
	for i, n := range names {
		xt = append(xt, plot.Tick{Value: float64(i), Label: truncate(n, 24)})
	}
	p.X.Tick.Marker = xt
	p.Add(bp)
	return &figure{plot: p, w: w, h: h}
}

func pmSig(std float64) string {
	if !finite(std) {
		return ""
	}
	return " ± " + fmtSig(std, 2)
}

type bar struct {
	col      color.RGBA
	val, std float64
	text     []string
	div      bool
}

type barPlot struct{ bars []bar }

func (b *barPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(b.bars)
	const width = 0.6
	for i, br := range b.bars {
		x0, x1 := trX(float64(i)-width/2), trX(float64(i)+width/2)
		ytext := trY(p.Y.Min) + vg.Points(14)
		if finite(br.val) {
			y0, y1 := trY(p.Y.Min), trY(math.Max(p.Y.Min, math.Min(br.val, p.Y.Max)))
			c.FillPolygon(br.col, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			ytext = y1 + vg.Points(10)
			if finite(br.std) && br.std > 0 {
				ls := draw.LineStyle{Color: color.Black, Width: vg.Points(1.2)}
				xm := (x0 + x1) / 2
				lo := trY(math.Max(p.Y.Min, br.val-br.std))
				hi := trY(math.Min(p.Y.Max, br.val+br.std))
				c.StrokeLine2(ls, xm, lo, xm, hi)
				c.StrokeLine2(ls, xm-vg.Points(4), lo, xm+vg.Points(4), lo)
				c.StrokeLine2(ls, xm-vg.Points(4), hi, xm+vg.Points(4), hi)
				ytext = hi + vg.Points(10)
			}
		}
		if br.div {
			crossStyle(colDiverged).Shape.DrawGlyph(&c, draw.GlyphStyle{Color: colDiverged, Radius: vg.Points(6)},
				vg.Point{X: (x0 + x1) / 2, Y: trY(p.Y.Min) + vg.Points(10)})
			ytext += vg.Points(14)
		}
		size := 9.0
		if n > 6 {
			size = 7.5
		}
		s := textStyle(p, size)
		y := ytext + vg.Points(size*1.3)*vg.Length(len(br.text)-1)
		for _, l := range br.text {
			c.FillText(s, vg.Point{X: (x0 + x1) / 2, Y: y}, l)
			y -= vg.Points(size * 1.3)
		}
	}
}

// optimizerLRFigure: metric against learning rate, one line per
// optimizer, each point the best setting at that learning rate (mean ±
// std over repeats). Where some trials at a learning rate diverged, the
// point says how many ("5/6 diverged": its mean is over the others);
// where every one did, an × sits at the top edge.
func (a *analysis) optimizerLRFigure(w, h int) *figure {
	if len(a.lrs) < 2 {
		return nil
	}
	lines, ys := a.lrLines()
	if len(ys) == 0 {
		return nil
	}
	logX := scaleFor(a.lrs, 10)
	logY := false
	if !a.metric.HigherIsBetter {
		logY, _, _ = lossScale(ys)
	}
	p := newPlot(fmt.Sprintf("%s against learning rate (best setting per point, mean ± std)", a.metric.Name), "learning rate", a.metric.Name)
	for _, ax := range []struct {
		axis *plot.Axis
		vals []float64
		log  bool
	}{{&p.X, a.lrs, logX}, {&p.Y, ys, logY}} {
		lo, hi, _ := bounds(ax.vals, ax.log)
		setAxis(ax.axis, lo, hi, ax.log)
		if ax.log {
			ax.axis.Label.Text += " (log scale)"
		}
	}
	fig := &figure{plot: p, w: w, h: h}
	stack := map[float64]int{} // marks already at the top edge at a learning rate
	atTop := func(lr float64) vg.Length {
		n := stack[lr]
		stack[lr]++
		fig.avoid = append(fig.avoid, []xy{{lr, p.Y.Max}}) // a legend must not hide it
		return -vg.Points(11 * float64(n))
	}
	var entries []legendEntry
	anyDiv, anyPart, anyPruned := false, false, false
	for oi, ln := range lines {
		col := seriesColor(oi)
		var pts []xy
		eb := &errPlot{col: col, logX: logX, logY: logY}
		notes := &notePlot{col: colDiverged, logX: logX, logY: logY}
		for _, lp := range ln {
			switch {
			case lp.p.Class == results.PrunedClass:
				anyPruned = true
				p.Add(&markPlot{pts: []xy{{lp.lr, p.Y.Max}}, glyph: prunedStyle(col), logX: logX, logY: logY, dy: atTop(lp.lr)})
			case lp.p.Final():
				pts = append(pts, xy{lp.lr, lp.p.Mean})
				if finite(lp.p.Std) {
					eb.x = append(eb.x, lp.lr)
					eb.lo = append(eb.lo, lp.p.Mean-lp.p.Std)
					eb.hi = append(eb.hi, lp.p.Mean+lp.p.Std)
				}
				if lp.div > 0 {
					anyPart = true
					notes.pts = append(notes.pts, xy{lp.lr, lp.p.Mean})
					notes.texts = append(notes.texts, fmt.Sprintf("%d/%d diverged", lp.div, lp.n))
				}
			case lp.p.Class == results.Broken:
				anyDiv = true
				p.Add(&markPlot{pts: []xy{{lp.lr, p.Y.Max}}, glyph: crossStyle(col), logX: logX, logY: logY, dy: atTop(lp.lr)})
			}
		}
		l := &linePlot{pts: pts, style: draw.LineStyle{Color: col, Width: vg.Points(2), Dashes: seriesDash(oi)}, logX: logX, logY: logY}
		m := &markPlot{pts: pts, glyph: draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}, logX: logX, logY: logY}
		p.Add(eb, l, m, notes)
		fig.avoid = append(fig.avoid, pts)
		name := orDefault(a.opts[oi], "(unnamed)")
		if !a.hasOpt {
			name = "all trials"
		}
		entries = append(entries, legendEntry{name, []plot.Thumbnailer{l, m}})
	}
	fig.legend = append(entries, lrMarksLegend(anyPart, anyDiv, anyPruned)...)
	return fig
}

// lrMarksLegend explains the marks of optimizerLRFigure that it used.
func lrMarksLegend(part, div, pruned bool) []legendEntry {
	var out []legendEntry
	if part {
		out = append(out, legendEntry{"k/n diverged: of the trials at that lr;", nil},
			legendEntry{"the point is the mean of the rest", nil})
	}
	if div {
		out = append(out, legendEntry{"× at the top edge: every trial", []plot.Thumbnailer{divergedMark()}},
			legendEntry{"at that lr diverged", nil})
	}
	if pruned {
		out = append(out, legendEntry{"ring at the top edge: pruned", []plot.Thumbnailer{&markPlot{glyph: prunedStyle(color.RGBA{90, 90, 90, 255})}}})
	}
	return out
}

// lrPoint is the best setting of one optimizer at one learning rate, with
// how many of that optimizer's trials at that rate diverged.
type lrPoint struct {
	lr     float64
	p      *pointInfo
	div, n int
}

// lrLines are, per optimizer (in a.opts order), its lrPoints by learning
// rate, and the final values they show.
func (a *analysis) lrLines() (lines [][]lrPoint, ys []float64) {
	lines = make([][]lrPoint, len(a.opts))
	for oi, o := range a.opts {
		for _, lr := range a.lrs {
			var best *pointInfo
			for _, p := range a.points { // ranked: the first match is the best
				if p.Opt == o && p.HasLR && p.LR == lr {
					best = p
					break
				}
			}
			if best == nil {
				continue
			}
			lp := lrPoint{lr: lr, p: best}
			for _, ti := range a.trials {
				if ti.Opt == o && ti.HasLR && ti.LR == lr {
					lp.n++
					if ti.diverged() {
						lp.div++
					}
				}
			}
			if best.Final() {
				ys = append(ys, best.Mean)
			}
			lines[oi] = append(lines[oi], lp)
		}
	}
	return lines, ys
}

// notePlot writes a short text above each of its points.
type notePlot struct {
	pts        []xy
	texts      []string
	col        color.Color
	logX, logY bool
}

func (n *notePlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	s := textStyle(p, 8.5)
	s.Color = n.col
	s.YAlign = draw.YBottom
	for i, pt := range n.pts {
		if !keep(pt, n.logX, n.logY) {
			continue
		}
		pt.Y = math.Min(math.Max(pt.Y, p.Y.Min), p.Y.Max)
		at := vg.Point{X: trX(pt.X), Y: trY(pt.Y) + vg.Points(6)}
		st := s
		switch half := st.Rectangle(n.texts[i]).Size().X / 2; {
		case at.X+half > c.Max.X: // keep the text inside the picture
			st.XAlign, at.X = draw.XRight, c.Max.X
		case at.X-half < c.Min.X:
			st.XAlign, at.X = draw.XLeft, c.Min.X
		}
		c.FillText(st, at, n.texts[i])
	}
}

// errPlot draws vertical error bars.
type errPlot struct {
	x, lo, hi  []float64
	col        color.Color
	logX, logY bool
}

func (e *errPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ls := draw.LineStyle{Color: e.col, Width: vg.Points(1)}
	for i := range e.x {
		lo, hi := e.lo[i], e.hi[i]
		if e.logY && lo <= 0 {
			lo = p.Y.Min
		}
		if !keep(xy{e.x[i], lo}, e.logX, e.logY) || !keep(xy{e.x[i], hi}, e.logX, e.logY) {
			continue
		}
		x := trX(e.x[i])
		seg := c.ClipLinesXY([]vg.Point{{X: x, Y: trY(lo)}, {X: x, Y: trY(hi)}})
		c.StrokeLines(ls, seg...)
	}
}
