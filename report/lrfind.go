package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gradsweep/gradsweep/framework/lrfind"
)

// LRFindFile is the name of the range test's picture in its folder.
const LRFindFile = "lrfind.png"

// WriteLRFind draws a learning-rate range test into dir/lrfind.png (dir
// is created if needed) and returns the file's path: the batch loss (light)
// and its smoothed curve (bold) against the rate on a log axis, the band of
// the smoothed loss over seeds when there are several, and both
// suggestions marked with a vertical line and their value.
func WriteLRFind(dir string, res *lrfind.Result, title string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f := lrfindFigure(res, title, 900, 520)
	img, failure := f.render()
	defer putRGBA(img)
	if failure != "" {
		return "", fmt.Errorf("drawing %s: %s", LRFindFile, failure)
	}
	path := filepath.Join(dir, LRFindFile)
	return path, writePNG(path, img)
}

// lrfindFigure is the range test's chart. The y range is the smoothed
// loss's (the raw losses' noise and final blow-up are clipped at its
// edges).
func lrfindFigure(res *lrfind.Result, title string, w, h int) *figure {
	pts := func(ys []float64) []xy {
		out := make([]xy, len(ys))
		for i, y := range ys {
			out[i] = xy{res.LearningRates[i], y}
		}
		return out
	}
	rawLabel, smLabel := "batch loss", fmt.Sprintf("smoothed (EMA β = %g, bias-corrected)", lrfind.Beta)
	if n := len(res.Runs); n > 1 {
		rawLabel = fmt.Sprintf("batch loss, mean of %d seeds", n)
		smLabel = fmt.Sprintf("smoothed, mean of %d seeds (band: min–max)", n)
	}
	series := []curveSeries{
		{label: rawLabel, pts: pts(res.Losses), col: seriesColor(0), alpha: 90, width: 1, noRange: true},
		{label: smLabel, pts: pts(res.Smoothed), col: seriesColor(0), width: 2.5, lo: res.BandMin, hi: res.BandMax},
	}
	fig := curveChart(title, "learning rate", "loss", series, 1, w, h, nil)
	if fig == nil {
		return &figure{w: w, h: h, draw: func(c draw.Canvas) {}}
	}
	lrfindYRange(fig.plot, res)
	s := res.Suggestion
	marks := []struct {
		rate        float64
		text, label string
		col         color.RGBA
	}{
		{s.Steepest, "steepest " + fmtSig(s.Steepest, 2), "steepest descent of the smoothed loss: " + fmtSig(s.Steepest, 3), seriesColor(1)},
		{s.MinOver10, "min/10 " + fmtSig(s.MinOver10, 2), "rate of its minimum (" + fmtSig(s.MinRate, 3) + ") / 10: " + fmtSig(s.MinOver10, 3), seriesColor(2)},
	}
	for i, m := range marks {
		if !(m.rate > 0) {
			continue
		}
		style := draw.LineStyle{Color: m.col, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
		at := smoothedAt(res, m.rate)
		// the lower rate's label goes left of its line, the higher's right
		left := m.rate < marks[1-i].rate || (m.rate == marks[1-i].rate && i == 1)
		fig.plot.Add(plotFunc(func(c draw.Canvas, p *plot.Plot) {
			trX, trY := p.Transforms(&c)
			x := trX(m.rate)
			if x < c.Min.X || x > c.Max.X {
				return
			}
			c.StrokeLine2(style, x, c.Min.Y, x, c.Max.Y)
			if finite(at) && at >= p.Y.Min && at <= p.Y.Max {
				c.DrawGlyphNoClip(draw.GlyphStyle{Color: m.col, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}, vg.Point{X: x, Y: trY(at)})
			}
			ts := textStyle(p, 9)
			ts.Color = m.col
			ts.YAlign = draw.YTop
			width := ts.Rectangle(m.text).Size().X + vg.Points(8)
			pos := vg.Point{X: x + vg.Points(4), Y: c.Max.Y - vg.Points(4)}
			ts.XAlign = draw.XLeft
			if (left && x-width >= c.Min.X) || x+width > c.Max.X {
				ts.XAlign, pos.X = draw.XRight, x-vg.Points(4)
			}
			c.FillText(ts, pos, m.text)
		}))
		fig.legend = append(fig.legend, legendEntry{m.label, []plot.Thumbnailer{&linePlot{style: style}}})
	}
	if s.MinRate > 0 {
		ring := &markPlot{pts: []xy{{s.MinRate, smoothedAt(res, s.MinRate)}}, logX: true, logY: isLog(fig.plot.Y),
			glyph: draw.GlyphStyle{Color: colText, Radius: vg.Points(5), Shape: draw.RingGlyph{}}}
		fig.plot.Add(ring)
		fig.legend = append(fig.legend, legendEntry{"minimum of the smoothed loss", []plot.Thumbnailer{ring}})
	}
	return fig
}

// lrfindYRange sets the loss axis to what a reader needs: from the lowest
// loss (raw, smoothed or the band's) up to the highest smoothed loss (or
// band edge) below StopFactor × the smoothed minimum, so the final
// blow-up, however large, leaves the top edge instead of flattening the
// rest. The axis is logarithmic when that range spans more than a decade.
func lrfindYRange(p *plot.Plot, res *lrfind.Result) {
	lo, hi := math.Inf(1), math.Inf(-1)
	least := math.Inf(1)
	for _, v := range res.Smoothed {
		least = math.Min(least, v)
	}
	for i, v := range res.Smoothed {
		if finite(v) && v <= lrfind.StopFactor*least {
			hi = math.Max(hi, v)
		}
		for _, u := range []float64{v, res.Losses[i]} {
			if finite(u) {
				lo = math.Min(lo, u)
			}
		}
	}
	for i := range res.BandMin { // the band over seeds, drawn whole below the blow-up
		lo = math.Min(lo, res.BandMin[i])
		if v := res.BandMax[i]; v <= lrfind.StopFactor*least {
			hi = math.Max(hi, v)
		}
	}
	if !(lo <= hi) {
		return
	}
	logY, _, _ := lossScale([]float64{lo, hi})
	logY = logY && lo > 0
	setAxis(&p.Y, lo, hi*1.05, logY)
	p.Y.Label.Text = "loss"
	if logY {
		p.Y.Label.Text += " (log scale)"
	}
}

// smoothedAt is the smoothed loss at the update whose rate is nearest to
// rate on the log axis.
func smoothedAt(res *lrfind.Result, rate float64) float64 {
	best, d := math.NaN(), math.Inf(1)
	for i, r := range res.LearningRates {
		if dd := math.Abs(math.Log(r / rate)); dd < d {
			best, d = res.Smoothed[i], dd
		}
	}
	return best
}
