package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"
	"sync"

	"git.sr.ht/~sbinet/gg"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Pictures are drawn at 96 dots per inch; sizes are given in pixels.
const dpi = 96

func px(n int) vg.Length { return vg.Length(float64(n) * 72 / dpi) }

type xy struct{ X, Y float64 }

// tab10 is matplotlib's categorical palette.
var tab10 = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// seriesColor is the colour of series i; after ten colours the cycle
// repeats with dashed lines (see seriesDash).
func seriesColor(i int) color.RGBA { return tab10[i%len(tab10)] }

func seriesDash(i int) []vg.Length {
	switch (i / len(tab10)) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return nil
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA { return color.NRGBA{c.R, c.G, c.B, a} }

// viridis maps t in [0,1] to matplotlib's viridis colour map.
func viridis(t float64) color.RGBA {
	anchors := [...][3]float64{
		{68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
		{39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37},
	}
	if !(t >= 0) {
		t = 0
	}
	if t > 1 {
		t = 1
	}
	f := t * float64(len(anchors)-1)
	i := int(f)
	if i >= len(anchors)-1 {
		i = len(anchors) - 2
	}
	u := f - float64(i)
	var c [3]uint8
	for k := range 3 {
		c[k] = uint8(math.Round(anchors[i][k]*(1-u) + anchors[i+1][k]*u))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// fmtSig formats v with n significant digits.
func fmtSig(v float64, n int) string {
	if !finite(v) {
		return fmtNum(v)
	}
	return strconv.FormatFloat(v, 'g', n, 64)
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 65535
}

var (
	colDiverged   = color.RGBA{200, 0, 0, 255}     // crosses marking divergence
	colDivFill    = color.RGBA{190, 190, 190, 255} // heatmap cells where every repeat diverged
	colPrunedFill = color.RGBA{224, 224, 224, 255} // heatmap cells of pruned points (valued at an earlier epoch)
	colGrid       = color.RGBA{225, 225, 225, 255}
	colText       = color.RGBA{40, 40, 40, 255}
)

// newPlot is a plot with the report's look: title, axis labels, a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	return newPlotGrid(true, true, title, xlabel, ylabel)
}

// newPlotGrid is newPlot with a choice of vertical and horizontal grid lines.
func newPlotGrid(vgrid, hgrid bool, title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	sansPlot(p)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	if !vgrid {
		g.Vertical.Color = nil
	}
	if !hgrid {
		g.Horizontal.Color = nil
	}
	if vgrid || hgrid {
		p.Add(g)
	}
	return p
}

// sans switches a font to Liberation Sans (gonum's default is the serif).
func sans(f *font.Font) { f.Typeface, f.Variant = "Liberation", "Sans" }

// sansPlot uses the sans-serif font for every text of p.
func sansPlot(p *plot.Plot) {
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		sans(f)
	}
}

// textStyle is the plot's tick-label style at the given size.
func textStyle(p *plot.Plot, size float64) draw.TextStyle {
	s := p.X.Tick.Label
	s.Font.Size = vg.Points(size)
	s.Color = colText
	s.XAlign, s.YAlign = draw.XCenter, draw.YCenter
	return s
}

// scaleFor decides whether values span enough decades for a log axis.
func scaleFor(vals []float64, ratio float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !finite(v) {
			continue
		}
		if v <= 0 {
			return false
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return hi > lo && hi/lo >= ratio
}

// decade is the span (highest over lowest positive value) above which a
// loss axis is logarithmic: beyond a decade a linear axis flattens the
// smaller curves onto zero.
const decade = 10

// lossScale decides the scale of a loss axis over vals: logarithmic when
// the finite values span more than a decade. Zeros do not prevent it (a
// loss can reach exactly 0): they are drawn at floor, the smallest
// positive value, and zeros says that there were some. Negative values
// keep the axis linear.
func lossScale(vals []float64) (log bool, floor float64, zeros bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		switch {
		case !finite(v):
		case v < 0:
			return false, 0, false
		case v == 0:
			zeros = true
		default:
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if !(hi > lo) || hi/lo <= decade {
		return false, 0, false
	}
	return true, lo, zeros
}

// bounds is the finite (and, for log axes, positive) range of vals.
func bounds(vals []float64, log bool) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !finite(v) || (log && v <= 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi, lo <= hi
}

// setAxis fixes an axis range and scale. Degenerate ranges are widened.
func setAxis(ax *plot.Axis, lo, hi float64, log bool) {
	if !finite(lo) || !finite(hi) || lo > hi {
		lo, hi = 0, 1
		if log {
			lo, hi = 0.1, 10
		}
	}
	if log && lo <= 0 {
		log = false
	}
	if log {
		if hi/lo < 1.2 {
			lo, hi = lo/1.25, hi*1.25
		}
		ax.Scale = plot.LogScale{}
		ax.Tick.Marker = logTicker{}
	} else {
		if hi-lo <= 1e-12*math.Max(1, math.Abs(hi)) {
			d := math.Max(math.Abs(hi)*0.1, 0.5)
			lo, hi = lo-d, hi+d
		}
		ax.Scale = plot.LinearScale{}
		ax.Tick.Marker = niceTicker{}
	}
	ax.Min, ax.Max = lo, hi
}

// niceTicker labels every major tick at steps of 1, 2, 2.5 or 5 × 10^k,
// five to eight of them, with minor ticks half-way.
// With integer set the step is at least 1 (epochs).
type niceTicker struct{ integer bool }

func (nt niceTicker) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || !finite(span) {
		return []plot.Tick{{Value: lo, Label: fmtNum(lo)}}
	}
	mag := math.Pow(10, math.Floor(math.Log10(span/6)))
	step, m := mag, 1.0
	for _, m = range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if span/step <= 7.5 {
			break
		}
	}
	if nt.integer && step < 1 {
		step, m = 1, 1
	}
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if m == 2.5 && step < 10 { // 2.5, 0.25: one more decimal; 25, 250: none
		dec++
	}
	var ticks []plot.Tick
	k0 := math.Ceil(lo/step - 1e-9)
	for k := k0; k*step <= hi+step*1e-9; k++ {
		v := k * step
		label := strconv.FormatFloat(v, 'f', dec, 64)
		if math.Abs(v) < step*1e-9 {
			v, label = 0, strconv.FormatFloat(0, 'f', dec, 64)
		}
		if math.Abs(v) >= 1e6 || (v != 0 && math.Abs(v) < 1e-4) {
			label = strconv.FormatFloat(v, 'g', 3, 64)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		if h := v + step/2; h <= hi && (!nt.integer || step >= 2) {
			ticks = append(ticks, plot.Tick{Value: h})
		}
	}
	if k0*step-step/2 >= lo && (!nt.integer || step >= 2) {
		ticks = append(ticks, plot.Tick{Value: k0*step - step/2})
	}
	return ticks
}

// logTicker labels powers of ten, adding 2× and 5× (or every multiple)
// when the range spans few decades so an axis always has labels.
type logTicker struct{}

func (logTicker) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: fmtNum(lo)}}
	}
	e0 := int(math.Floor(math.Log10(lo)))
	e1 := int(math.Ceil(math.Log10(hi)))
	dec := e1 - e0
	labelled := func(m int) bool { return m == 1 }
	step := 1
	switch {
	case dec <= 1:
		labelled = func(m int) bool { return true }
	case dec <= 3:
		labelled = func(m int) bool { return m == 1 || m == 2 || m == 5 }
	case dec > 8:
		step = (dec + 7) / 8
	}
	var ticks []plot.Tick
	for e := e0; e <= e1; e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled(m) && (m != 1 || (e-e0)%step == 0) {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			if step > 1 && m != 1 {
				continue // too many decades for minor ticks
			}
			ticks = append(ticks, t)
		}
	}
	n := 0
	for _, t := range ticks {
		if t.Label != "" {
			n++
		}
	}
	if n < 2 { // within one power of ten: label the ends
		ticks = append(ticks, plot.Tick{Value: lo, Label: fmtNum(lo)}, plot.Tick{Value: hi, Label: fmtNum(hi)})
	}
	return ticks
}

// keep reports whether a point can be drawn on the given axes.
func keep(p xy, logX, logY bool) bool {
	return finite(p.X) && finite(p.Y) && (!logX || p.X > 0) && (!logY || p.Y > 0)
}

// linePlot draws a polyline through the drawable points, split where a
// point cannot be drawn, clipped to the data area.
type linePlot struct {
	pts   []xy
	style draw.LineStyle
	logX  bool
	logY  bool
}

func (l *linePlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var seg []vg.Point
	flush := func() {
		if len(seg) > 1 {
			strokeChunked(&c, l.style, c.ClipLinesXY(seg))
		}
		seg = seg[:0]
	}
	for _, pt := range l.pts {
		if !keep(pt, l.logX, l.logY) {
			flush()
			continue
		}
		seg = append(seg, vg.Point{X: trX(pt.X), Y: trY(pt.Y)})
	}
	flush()
}

// strokeChunk bounds the points stroked at once: the rasterizer's cell
// search grows with the cells a path covers, so a long noisy line drawn as
// one path costs quadratic time. Chunks share their end points.
const strokeChunk = 32

func strokeChunked(c *draw.Canvas, style draw.LineStyle, lines [][]vg.Point) {
	for _, ln := range lines {
		for lo := 0; lo < len(ln)-1; lo += strokeChunk {
			hi := min(lo+strokeChunk+1, len(ln))
			c.StrokeLines(style, ln[lo:hi])
		}
	}
}

func (l *linePlot) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// bandPlot fills between lo and hi (mean ± std) where both are drawable.
type bandPlot struct {
	x, lo, hi []float64
	fill      color.Color
	logX      bool
	logY      bool
}

func (b *bandPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var up, down []vg.Point
	flush := func() {
		if len(up) > 1 {
			poly := append(append([]vg.Point{}, up...), reversed(down)...)
			c.FillPolygon(b.fill, c.ClipPolygonXY(poly))
		}
		up, down = up[:0], down[:0]
	}
	for i := range b.x {
		lo, hi := b.lo[i], b.hi[i]
		if b.logY && lo <= 0 && hi > 0 {
			lo = p.Y.Min // clamp the lower edge to the axis on a log scale
		}
		if !keep(xy{b.x[i], lo}, b.logX, b.logY) || !keep(xy{b.x[i], hi}, b.logX, b.logY) {
			flush()
			continue
		}
		up = append(up, vg.Point{X: trX(b.x[i]), Y: trY(hi)})
		down = append(down, vg.Point{X: trX(b.x[i]), Y: trY(lo)})
	}
	flush()
}

func (b *bandPlot) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	r.Min.Y += (r.Max.Y - r.Min.Y) * 0.2
	r.Max.Y -= (r.Max.Y - r.Min.Y) * 0.2
	c.FillPolygon(b.fill, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

func reversed(p []vg.Point) []vg.Point {
	out := make([]vg.Point, len(p))
	for i, v := range p {
		out[len(p)-1-i] = v
	}
	return out
}

// markPlot draws glyphs; points outside the axis range are pinned to its
// edge so a diverged trial's marker stays visible.
type markPlot struct {
	pts   []xy
	glyph draw.GlyphStyle
	logX  bool
	logY  bool
	dy    vg.Length // vertical offset of every glyph
}

func (m *markPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, pt := range m.pts {
		if !keep(pt, m.logX, m.logY) {
			continue
		}
		pt.X = math.Min(math.Max(pt.X, p.X.Min), p.X.Max)
		pt.Y = math.Min(math.Max(pt.Y, p.Y.Min), p.Y.Max)
		c.DrawGlyphNoClip(m.glyph, vg.Point{X: trX(pt.X), Y: trY(pt.Y) + m.dy})
	}
}

func (m *markPlot) Thumbnail(c *draw.Canvas) { c.DrawGlyphNoClip(m.glyph, c.Center()) }

// crossStyle is the × that marks where a diverged trial ended.
func crossStyle(col color.Color) draw.GlyphStyle {
	return draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: thickCross{}}
}

// prunedStyle marks a pruned point: a hollow ring, in the colour of its
// series.
func prunedStyle(col color.Color) draw.GlyphStyle {
	return draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.RingGlyph{}}
}

// thickCross is an × drawn with a 2pt line.
type thickCross struct{}

func (thickCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(2)}
	r := sty.Radius
	c.StrokeLine2(ls, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(ls, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}

// divergedMark is the legend entry explaining the × markers.
func divergedMark() plot.Thumbnailer {
	return &markPlot{glyph: crossStyle(color.RGBA{60, 60, 60, 255})}
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// maxLegend bounds the entries of a legend; the rest are summarised.
const maxLegend = 22

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// figure is one picture: a plot with its legend drawn beside it (never on
// top of the data), or a custom drawing.
type figure struct {
	plot   *plot.Plot
	legend []legendEntry
	w, h   int
	draw   func(c draw.Canvas) // replaces plot and legend when set
	// avoid are the drawn lines (data coordinates) that a legend placed
	// inside the data area must not cover.
	avoid [][]xy
	// notes are sentences the picture's caption must add (such as how
	// zeros were drawn on a log axis).
	notes []string
}

// render draws the figure. A panic in drawing becomes a picture saying
// the chart could not be drawn, so a bad value never stops a report.
func (f *figure) render() (img *image.RGBA, failure string) {
	defer func() {
		if r := recover(); r != nil {
			failure = fmt.Sprint(r)
			img = placeholder(f.w, f.h, "chart could not be drawn: "+failure)
		}
	}()
	// Draw straight into a pooled image: vgimg's own constructor copies
	// the image it makes, and the garbage of two megabytes a picture was
	// a good part of a report's time.
	img = getRGBA(f.w, f.h)
	gc := gg.NewContextForRGBA(img)
	gc.SetLineCapButt()
	gc.InvertY()
	c := vgimg.NewWith(vgimg.UseImageWithContext(img, gc), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	if f.draw != nil {
		f.draw(dc)
	} else {
		drawWithLegend(dc, f.plot, f.legend, f.avoid)
	}
	return img, ""
}

func toRGBA(m image.Image) *image.RGBA {
	if r, ok := m.(*image.RGBA); ok {
		return r
	}
	b := m.Bounds()
	r := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r.Set(x, y, m.At(x, y))
		}
	}
	return r
}

func newLegend(entries []legendEntry, maxRunes int) plot.Legend {
	lg := plot.NewLegend()
	sans(&lg.TextStyle.Font)
	lg.TextStyle.Font.Size = vg.Points(9.5)
	lg.Left, lg.Top = true, true
	lg.ThumbnailWidth = vg.Points(22)
	lg.Padding = vg.Points(1.5)
	n := len(entries)
	if n > maxLegend {
		n = maxLegend - 1
	}
	for _, e := range entries[:n] {
		lg.Add(truncate(e.label, maxRunes), e.thumbs...)
	}
	if len(entries) > n {
		lg.Add(fmt.Sprintf("… %d more", len(entries)-n))
	}
	return lg
}

// drawWithLegend draws p with its legend inside the data area, in the
// corner where it covers least of the lines in avoid; when the legend is
// too large for that or every corner would hide data, it goes in a column
// on the right, at most 40% of the width (labels are shortened to fit).
func drawWithLegend(c draw.Canvas, p *plot.Plot, entries []legendEntry, avoid [][]xy) {
	c = draw.Crop(c, vg.Points(4), -vg.Points(6), vg.Points(4), -vg.Points(4))
	if len(entries) == 0 {
		drawPlot(c, p)
		return
	}
	if legendInside(c, p, entries, avoid) {
		return
	}
	maxW := (c.Max.X - c.Min.X) * 0.4
	var lg plot.Legend
	var lw vg.Length
	for runes := 60; ; runes -= 3 {
		lg = newLegend(entries, runes)
		r := lg.Rectangle(c)
		lw = r.Max.X - r.Min.X + vg.Points(14)
		if lw <= maxW || runes <= 12 {
			break
		}
	}
	drawPlot(draw.Crop(c, 0, -lw, 0, 0), p)
	top := vg.Length(0)
	if p.Title.Text != "" {
		top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + vg.Points(4)
	}
	lc := draw.Crop(c, (c.Max.X-c.Min.X)-lw+vg.Points(10), 0, 0, -top)
	lg.Draw(lc)
}

// legendInside draws p on all of c with its legend in a corner of the
// data area, on a white box, if one corner covers at most 1% of the
// sampled points of avoid; it reports whether it did.
func legendInside(c draw.Canvas, p *plot.Plot, entries []legendEntry, avoid [][]xy) bool {
	lg := newLegend(entries, 60)
	da := dataArea(c, p)
	sz := lg.Rectangle(da).Size()
	pad := vg.Points(6)
	w, h := sz.X+2*pad, sz.Y+2*pad
	dw, dh := da.Max.X-da.Min.X, da.Max.Y-da.Min.Y
	if w > dw*0.48 || h > dh*0.62 {
		return false
	}
	trX, trY := p.Transforms(&da)
	logX, logY := isLog(p.X), isLog(p.Y)
	var pts []vg.Point
	for _, line := range avoid {
		var prev *vg.Point
		for _, q := range line {
			if !keep(q, logX, logY) {
				prev = nil
				continue
			}
			cur := vg.Point{X: trX(q.X), Y: trY(q.Y)}
			if prev != nil {
				for k := 1; k <= 24; k++ { // sample the segment, not only its ends
					f := vg.Length(k) / 24
					pts = append(pts, vg.Point{X: prev.X + (cur.X-prev.X)*f, Y: prev.Y + (cur.Y-prev.Y)*f})
				}
			} else {
				pts = append(pts, cur)
			}
			prev = &cur
		}
	}
	corners := []vg.Rectangle{
		{Min: vg.Point{X: da.Max.X - w, Y: da.Max.Y - h}, Max: da.Max},                             // top right
		{Min: vg.Point{X: da.Min.X, Y: da.Max.Y - h}, Max: vg.Point{X: da.Min.X + w, Y: da.Max.Y}}, // top left
		{Min: vg.Point{X: da.Max.X - w, Y: da.Min.Y}, Max: vg.Point{X: da.Max.X, Y: da.Min.Y + h}}, // bottom right
		{Min: da.Min, Max: vg.Point{X: da.Min.X + w, Y: da.Min.Y + h}},                             // bottom left
	}
	best, bestN := -1, len(pts)/100+1
	for i, r := range corners {
		n := 0
		for _, q := range pts {
			if q.X >= r.Min.X && q.X <= r.Max.X && q.Y >= r.Min.Y && q.Y <= r.Max.Y {
				n++
			}
		}
		if n < bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		return false
	}
	drawPlot(c, p)
	r := corners[best]
	box := []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
	c.FillPolygon(color.NRGBA{255, 255, 255, 235}, box)
	c.StrokeLines(draw.LineStyle{Color: colGrid, Width: vg.Points(0.75)}, append(box, box[0]))
	lg.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: r.Min.X + pad, Y: r.Min.Y + pad},
		Max: vg.Point{X: r.Max.X - pad, Y: r.Max.Y - pad}}})
	return true
}

// drawPlot draws p on c. On a logarithmic y axis gonum reserves room for
// the y label as if it sat at the arithmetic middle of the range (high up
// on a log axis), which pushes the data area down by up to a third of
// the picture; there the label is drawn here, beside the data area, and
// the plot without it.
func drawPlot(c draw.Canvas, p *plot.Plot) {
	label := p.Y.Label.Text
	if label == "" || !isLog(p.Y) {
		p.Draw(c)
		return
	}
	da := dataArea(c, p)
	p.Y.Label.Text = ""
	p.Draw(plotArea(c, p, label))
	p.Y.Label.Text = label
	sty := p.Y.Label.TextStyle
	sty.Rotation += math.Pi / 2
	x := c.Min.X + sty.Height(label) - sty.FontExtents().Descent
	c.FillText(sty, vg.Point{X: x, Y: (da.Min.Y + da.Max.Y) / 2}, label)
}

// plotArea is the part of c that drawPlot gives p itself: all of c but
// the room of a y label drawn beside it on a log axis.
func plotArea(c draw.Canvas, p *plot.Plot, label string) draw.Canvas {
	if label == "" || !isLog(p.Y) {
		return c
	}
	return draw.Crop(c, p.Y.Label.TextStyle.Height(label)+p.Y.Label.Padding, 0, 0, 0)
}

// dataArea is the data area of p when drawPlot draws it on c.
func dataArea(c draw.Canvas, p *plot.Plot) draw.Canvas {
	label := p.Y.Label.Text
	if label == "" || !isLog(p.Y) {
		return p.DataCanvas(c)
	}
	p.Y.Label.Text = ""
	defer func() { p.Y.Label.Text = label }()
	return p.DataCanvas(plotArea(c, p, label))
}

// isLog reports whether an axis has a logarithmic scale.
func isLog(ax plot.Axis) bool {
	_, ok := ax.Scale.(plot.LogScale)
	return ok
}

// placeholder is a picture holding a message, for charts without data.
func placeholder(w, h int, msg string) *image.RGBA {
	c := vgimg.NewWith(vgimg.UseWH(px(w), px(h)), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	p := plot.New()
	sansPlot(p)
	s := textStyle(p, 12)
	dc.SetColor(color.RGBA{245, 245, 245, 255})
	dc.Fill(dc.Rectangle.Path())
	for i, line := range strings.Split(msg, "\n") {
		pt := dc.Center()
		pt.Y -= vg.Points(16 * float64(i))
		dc.FillText(s, pt, truncate(line, 110))
	}
	return toRGBA(c.Image())
}

// Pools of pictures (by size) and of the encoder's buffers, reused
// across the pictures of a report.
var (
	rgbaPools sync.Map // image.Point → *sync.Pool of *image.RGBA
	bufPool   = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	pngEnc    = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &encoderPool{}}
)

// encoderPool lets image/png reuse its encoder state across pictures.
type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

func getRGBA(w, h int) *image.RGBA {
	p, _ := rgbaPools.LoadOrStore(image.Pt(w, h), &sync.Pool{})
	if m, ok := p.(*sync.Pool).Get().(*image.RGBA); ok {
		return m // vgimg paints the background over all of it
	}
	return image.NewRGBA(image.Rect(0, 0, w, h))
}

func putRGBA(m *image.RGBA) {
	if p, ok := rgbaPools.Load(m.Rect.Size()); ok {
		p.(*sync.Pool).Put(m)
	}
}

// writePNG encodes img to path with image/png (an opaque picture is
// written as 8-bit RGB).
func writePNG(path string, img *image.RGBA) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := pngEnc.Encode(buf, img); err != nil {
		return err
	}
	return replaceFile(path, buf.Bytes())
}

// escapedStyle marks where a trial that blew up leaves the range: a
// triangle pinned at the top edge.
func escapedStyle(col color.Color) draw.GlyphStyle {
	return draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.TriangleGlyph{}}
}
