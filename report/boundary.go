package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// Boundary is a classification trial's final model over its two input
// features: the class it predicts on a grid covering the training data,
// and the training samples with the model's prediction for each. The
// store does not hold models; the sweep command trains the trial again
// from its stored settings (same seed: the run's weights to the bit, see
// sweep.Prepared.Replay) and calls NewBoundary.
type Boundary struct {
	X0, X1, Y0, Y1 float64 // the region drawn
	N              int     // grid cells per side
	// Class is the predicted class of each cell's centre, row by row from
	// Y0 up, each row from X0 right: cell (c, r) is centred at
	// (X0 + (c+½)(X1−X0)/N, Y0 + (r+½)(Y1−Y0)/N).
	Class    []int32
	Points   [][2]float64 // training samples (at most MaxBoundaryPoints, evenly spaced)
	Labels   []int32      // their classes
	Pred     []int32      // the model's prediction for each
	Classes  []string
	Features [2]string
}

// Boundary limits: the grid's cells per side and the training samples
// drawn.
const (
	BoundaryCells     = 150
	MaxBoundaryPoints = 2000
)

// CellCentre is the centre of grid cell (c, r).
func (b *Boundary) CellCentre(c, r int) (x, y float64) {
	return b.X0 + (float64(c)+0.5)*(b.X1-b.X0)/float64(b.N), b.Y0 + (float64(r)+0.5)*(b.Y1-b.Y0)/float64(b.N)
}

// NewBoundary evaluates model m, read as classes by loss (Loss.Class), on
// a BoundaryCells² grid covering train (its two features, with a 10%
// margin) and on train's samples. train must be a classification set of
// two features. The model is run in evaluation mode, in chunks of one
// grid row.
func NewBoundary(m *framework.Model, loss framework.Loss, train *framework.Dataset) *Boundary {
	n := train.Len()
	b := &Boundary{N: BoundaryCells, Classes: train.Classes}
	if len(train.Features) == 2 {
		b.Features = [2]string{train.Features[0], train.Features[1]}
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range n {
		r := train.X.Row(i)
		x0, x1 = math.Min(x0, float64(r[0])), math.Max(x1, float64(r[0]))
		y0, y1 = math.Min(y0, float64(r[1])), math.Max(y1, float64(r[1]))
	}
	mx, my := math.Max((x1-x0)*0.1, 0.1), math.Max((y1-y0)*0.1, 0.1)
	b.X0, b.X1, b.Y0, b.Y1 = x0-mx, x1+mx, y0-my, y1+my
	row := mat.New(b.N, 2)
	for r := range b.N {
		for c := range b.N {
			x, y := b.CellCentre(c, r)
			row.Data[2*c], row.Data[2*c+1] = float32(x), float32(y)
		}
		out := m.Forward(row, false)
		for c := range b.N {
			b.Class = append(b.Class, loss.Class(out.Row(c)))
		}
	}
	step := max(1, (n+MaxBoundaryPoints-1)/MaxBoundaryPoints)
	one := mat.New(1, 2)
	for i := 0; i < n; i += step {
		r := train.X.Row(i)
		copy(one.Data, r)
		b.Points = append(b.Points, [2]float64{float64(r[0]), float64(r[1])})
		b.Labels = append(b.Labels, train.Labels[i])
		b.Pred = append(b.Pred, loss.Class(m.Forward(one, false).Row(0)))
	}
	return b
}

// classColor is the light colour of the region of class k, and
// classPoint the colour of its samples.
func classColor(k int32) color.RGBA {
	c := seriesColor(int(k))
	mix := func(v uint8) uint8 { return uint8(255 - (255-int(v))*45/100) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

func classPoint(k int32) color.RGBA { return seriesColor(int(k)) }

// boundaryPlot fills each grid cell with its class's light colour.
type boundaryPlot struct{ b *Boundary }

func (bp boundaryPlot) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	b := bp.b
	for r := range b.N {
		for col := range b.N {
			x0, y0 := b.X0+float64(col)*(b.X1-b.X0)/float64(b.N), b.Y0+float64(r)*(b.Y1-b.Y0)/float64(b.N)
			x1, y1 := b.X0+float64(col+1)*(b.X1-b.X0)/float64(b.N), b.Y0+float64(r+1)*(b.Y1-b.Y0)/float64(b.N)
			// a hair of overlap, so no seam of background shows between cells
			rect := []vg.Point{{X: tx(x0) - 0.2, Y: ty(y0) - 0.2}, {X: tx(x1) + 0.2, Y: ty(y0) - 0.2}, {X: tx(x1) + 0.2, Y: ty(y1) + 0.2}, {X: tx(x0) - 0.2, Y: ty(y1) + 0.2}}
			c.FillPolygon(classColor(b.Class[r*b.N+col]), rect)
		}
	}
}

// boundaryFigure draws b: the predicted class over the region, the
// training samples in their class's colour, and the misclassified ones
// ringed in black with a cross.
func boundaryFigure(title string, b *Boundary, w, h int, withPoints bool) *figure {
	p := newPlotGrid(false, false, title, orDefault(b.Features[0], "x1"), orDefault(b.Features[1], "x2"))
	p.Add(boundaryPlot{b})
	var legend []legendEntry
	if withPoints {
		byClass := map[int32]plotter.XYs{}
		var wrong plotter.XYs
		for i, q := range b.Points {
			byClass[b.Labels[i]] = append(byClass[b.Labels[i]], plotter.XY{X: q[0], Y: q[1]})
			if b.Pred[i] != b.Labels[i] {
				wrong = append(wrong, plotter.XY{X: q[0], Y: q[1]})
			}
		}
		for k := range int32(len(b.Classes)) {
			if len(byClass[k]) == 0 {
				continue
			}
			s, _ := plotter.NewScatter(byClass[k])
			s.GlyphStyle = draw.GlyphStyle{Color: classPoint(k), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(s)
			legend = append(legend, legendEntry{label: "class " + b.Classes[k], thumbs: []plot.Thumbnailer{s}})
		}
		if len(wrong) > 0 {
			s, _ := plotter.NewScatter(wrong)
			s.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3.2), Shape: draw.CrossGlyph{}}
			p.Add(s)
			legend = append(legend, legendEntry{label: "misclassified", thumbs: []plot.Thumbnailer{s}})
		}
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = b.X0, b.X1, b.Y0, b.Y1
	return &figure{plot: p, legend: legend, w: w, h: h}
}

// boundaryCharts adds the best trial of each optimizer's decision
// boundary, side by side (one panel when there is one optimizer).
func (a *analysis) boundaryCharts(bs map[string]*Boundary, w int, add func(section, file, alt, caption string, f *figure, missing string)) {
	seen := map[string]bool{}
	var plots []*plot.Plot
	for _, p := range a.points { // ranked, best first
		ti := p.Best
		if ti == nil || bs[ti.T.Plan.ID] == nil || seen[ti.Opt] {
			continue
		}
		seen[ti.Opt] = true
		title := orDefault(ti.Opt, "best trial")
		if ti.HasLR {
			title += ", lr " + fmtNum(ti.LR)
		}
		plots = append(plots, boundaryFigure(title, bs[ti.T.Plan.ID], 0, 0, true).plot)
	}
	if len(plots) == 0 {
		return
	}
	add("boundary", "img/boundary-best.png", "decision boundary of the best trial of each optimizer",
		"The best trial of each optimizer (by the ranking metric): the class its model predicts over the region of the training data, the training samples in their class's colour, misclassified ones crossed.", tiles(plots, w), "")
}
