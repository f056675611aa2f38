package report

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/framework/sweep"
	_ "github.com/gradsweep/gradsweep/plugins"
)

const boundaryGoldenDir = "testdata/golden-boundary"

// trainedBoundary trains the one-trial experiment src with the sweep's
// builder and returns its final model's boundary, with the model and
// loss (valid until the next call: they are the replay's).
func trainedBoundary(t *testing.T, src string) (*Boundary, *framework.Model, framework.Loss) {
	t.Helper()
	e, err := experiment.Parse([]byte(src), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		t.Fatal(err)
	}
	var b *Boundary
	var m *framework.Model
	var l framework.Loss
	epochs := p.Specs[0].Training.Epochs
	if _, err := p.Replay(context.Background(), p.Plans[0], framework.Default(), func(epoch int, tr *framework.Trainer, train *framework.Dataset) {
		if epoch == epochs {
			b, m, l = NewBoundary(tr.Model, tr.Loss, train), tr.Model, tr.Loss
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b, m, l
}

var boundaryExperiments = []struct{ name, src string }{
	{"xor", `name: xor
seed: 3
dataset: {synthetic: xor, n: 200, noise: 0.15}
model: [{type: dense, units: 8, init: xavier}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
optimizer: adam
training: {learning_rate: 0.05, batch_size: 20, epochs: 60}
`},
	{"spirals", `name: spirals
seed: 11
dataset: {synthetic: spirals, n: 300, noise: 0.05}
model: [{type: dense, units: 32, init: xavier}, {type: tanh}, {type: dense, units: 32, init: xavier}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
optimizer: rmsprop
training: {learning_rate: 0.03, batch_size: 32, epochs: 200}
`},
}

// TestBoundaryPixelsArePredictions: on the picture of a trained model's
// decision boundary (xor, spirals), the class read back from the pixel at
// a grid cell's centre (the nearest class colour) is the model's own
// prediction there, computed here by a forward pass; cells on the
// boundary itself (a neighbour predicts another class) are skipped. The
// pictures match their golden images.
func TestBoundaryPixelsArePredictions(t *testing.T) {
	const w, h = 760, 570
	for _, c := range boundaryExperiments {
		b, m, loss := trainedBoundary(t, c.src)
		fig := boundaryFigure(c.name, b, w, h, false)
		img, failure := fig.render()
		if failure != "" {
			t.Fatal(failure)
		}
		// the data area, as render lays it out (drawWithLegend without a legend)
		dc := draw.New(vgimg.NewWith(vgimg.UseWH(px(w), px(h)), vgimg.UseDPI(dpi)))
		da := dataArea(draw.Crop(dc, vg.Points(4), -vg.Points(6), vg.Points(4), -vg.Points(4)), fig.plot)
		tx, ty := fig.plot.Transforms(&da)
		in := mat.New(1, 2)
		checked, wrong := 0, 0
		for r := 2; r < b.N-2; r += 3 {
			for col := 2; col < b.N-2; col += 3 {
				k := b.Class[r*b.N+col]
				edge := false
				for dr := -2; dr <= 2; dr++ {
					for dc := -2; dc <= 2; dc++ {
						edge = edge || b.Class[(r+dr)*b.N+col+dc] != k
					}
				}
				if edge {
					continue
				}
				x, y := b.CellCentre(col, r)
				in.Data[0], in.Data[1] = float32(x), float32(y)
				want := loss.Class(m.Forward(in, false).Row(0))
				pxX := int(float64(tx(x)) * dpi / 72)
				pxY := h - 1 - int(float64(ty(y))*dpi/72)
				got := nearestClass(img.At(pxX, pxY), len(b.Classes))
				checked++
				if got != want {
					wrong++
					if wrong < 5 {
						t.Errorf("%s: pixel (%d, %d) at (%.3f, %.3f) reads class %d, the model predicts %d", c.name, pxX, pxY, x, y, got, want)
					}
				}
			}
		}
		if checked < 500 || wrong > 0 {
			t.Errorf("%s: %d cells checked, %d wrong", c.name, checked, wrong)
		}
		putRGBA(img)

		// the picture with its training points, against its golden image
		full, _ := boundaryFigure(c.name, b, w, h, true).render()
		gpath := filepath.Join(boundaryGoldenDir, c.name+".png")
		if *update {
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, full); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(boundaryGoldenDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(gpath, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want := decodePNG(t, gpath)
		n, err := imageDiff(full, want, goldenTol)
		if err != nil {
			t.Fatal(err)
		}
		if total := w * h; n > total/goldenFrac {
			t.Errorf("%s: %d pixels differ from %s; if the change is intended, go test ./report -update", c.name, n, gpath)
		}
	}
}

// nearestClass is the class whose region colour is nearest to c.
func nearestClass(c color.Color, classes int) int32 {
	r, g, b, _ := c.RGBA()
	best, bestD := int32(-1), int64(1<<62)
	for k := range int32(classes) {
		cc := classColor(k)
		d := sq(int64(r>>8)-int64(cc.R)) + sq(int64(g>>8)-int64(cc.G)) + sq(int64(b>>8)-int64(cc.B))
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func sq(v int64) int64 { return v * v }
