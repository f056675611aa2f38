package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png from the current output")

const goldenDir = "testdata/golden"

// goldenOptions are the options of the golden report.
var goldenOptions = Options{SmoothWindow: 8}

// decodePNG reads a PNG file.
func decodePNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// grayVariance is the variance of the luminance of img (0 for a blank
// picture).
func grayVariance(img image.Image) float64 {
	b := img.Bounds()
	var sum, sum2, n float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sum2 += l * l
			n++
		}
	}
	m := sum / n
	return sum2/n - m*m
}

// pngFiles lists the PNGs of a report, relative and slash-separated.
func pngFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".png") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// imageDiff compares two pictures: a pixel differs when a channel differs
// by more than tol; it returns how many pixels differ.
func imageDiff(a, b image.Image, tol int) (differ int, err error) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 0, fmt.Errorf("size %v, want %v", a.Bounds().Size(), b.Bounds().Size())
	}
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			d := max(absDiff(r1, r2), absDiff(g1, g2), absDiff(b1, b2)) >> 8
			if d > tol {
				differ++
			}
		}
	}
	return differ, nil
}

func absDiff(a, b uint32) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// Golden comparison: a pixel counts as changed when a channel moves by
// more than goldenTol (antialiasing and rounding differences between
// platforms move edge pixels by a few levels); a picture fails when more
// than 1 in goldenFrac pixels changed (a moved line, a changed label).
const (
	goldenTol  = 40
	goldenFrac = 20000
)

func goldenName(rel string) string { return strings.ReplaceAll(rel, "/", "__") }

// goldenSet is the pictures kept as golden images: every overview picture
// and both pictures of a diverged (t012), a pruned (t022) and the best
// trial (t030).
func goldenSet(all []string) []string {
	var out []string
	for _, p := range all {
		if strings.HasPrefix(p, "img/") {
			out = append(out, p)
		}
		for _, id := range []string{"t012", "t022", "t030"} {
			if strings.HasPrefix(p, "trials/"+id+"-") {
				out = append(out, p)
			}
		}
	}
	return out
}

func writeReport(t testing.TB, d *framework.SweepData, opt Options) string {
	t.Helper()
	dir := t.TempDir()
	if err := Write(dir, d, opt); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGoldenPictures(t *testing.T) {
	d := goldenSweep()
	dir := writeReport(t, d, goldenOptions)
	all := pngFiles(t, dir)

	// Every picture decodes, has its size and is not blank.
	for _, rel := range all {
		img := decodePNG(t, filepath.Join(dir, rel))
		want := image.Pt(960, 540)
		if strings.HasPrefix(rel, "trials/") {
			want = image.Pt(760, 400)
		}
		if got := img.Bounds().Size(); got != want {
			t.Errorf("%s: size %v, want %v", rel, got, want)
		}
		if v := grayVariance(img); v < 150 {
			t.Errorf("%s: looks blank (luminance variance %.1f)", rel, v)
		}
	}
	wantImg := []string{"img/curves-by-batch.png", "img/curves-by-lr.png", "img/curves-by-optimizer.png",
		"img/gd-sgd-epochs.png", "img/gd-sgd-iterations.png", "img/gd-sgd-seconds.png", "img/heatmap-1-adam.png",
		"img/heatmap-2-sgd.png", "img/optimizer-best.png", "img/optimizer-lr.png", "img/repeats.png",
		"img/importance.png", "img/pareto.png"}
	for _, w := range wantImg {
		if !slices.Contains(all, w) {
			t.Errorf("missing %s", w)
		}
	}
	// 36 trials, each with an epoch and a batch-loss picture.
	if n := len(all) - len(wantImg); n != 72 {
		t.Errorf("%d trial pictures, want 72", n)
	}

	set := goldenSet(all)
	if len(set) != len(wantImg)+6 {
		t.Fatalf("golden set %v", set)
	}
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(goldenDir, "*.png"))
		for _, o := range old {
			os.Remove(o)
		}
		for _, rel := range set {
			// Stored at best compression: the pixels are what count.
			var buf bytes.Buffer
			enc := png.Encoder{CompressionLevel: png.BestCompression}
			if err := enc.Encode(&buf, decodePNG(t, filepath.Join(dir, rel))); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(goldenDir, goldenName(rel)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d golden pictures", len(set))
		return
	}
	stored, _ := filepath.Glob(filepath.Join(goldenDir, "*.png"))
	if len(stored) != len(set) {
		t.Errorf("%d golden pictures stored, %d made (regenerate with go test ./report -update)", len(stored), len(set))
	}
	for _, rel := range set {
		gpath := filepath.Join(goldenDir, goldenName(rel))
		if _, err := os.Stat(gpath); err != nil {
			t.Errorf("%s: no golden picture %s (go test ./report -update)", rel, gpath)
			continue
		}
		got, want := decodePNG(t, filepath.Join(dir, rel)), decodePNG(t, gpath)
		n, err := imageDiff(got, want, goldenTol)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		total := got.Bounds().Dx() * got.Bounds().Dy()
		if n > total/goldenFrac {
			t.Errorf("%s: %d pixels differ from %s (allowed %d); if the change is intended, go test ./report -update",
				rel, n, gpath, total/goldenFrac)
		}
	}
}

// TestGoldenCatchesChange checks that the golden comparison is not so
// tolerant that a changed plot passes: a 5% change of one trial's loss
// curve, and a changed colour scale, must fail.
func TestGoldenCatchesChange(t *testing.T) {
	base := writeReport(t, goldenSweep(), goldenOptions)

	d := goldenSweep()
	for i := range d.Trials[30].EpochSeries {
		d.Trials[30].EpochSeries[i].ValLoss *= 1.05
	}
	changed := writeReport(t, d, goldenOptions)
	for _, rel := range []string{"trials/t030-epochs.png", "img/curves-by-lr.png"} {
		a, b := decodePNG(t, filepath.Join(base, rel)), decodePNG(t, filepath.Join(changed, rel))
		n, err := imageDiff(a, b, goldenTol)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d pixels changed", rel, n)
		if total := a.Bounds().Dx() * a.Bounds().Dy(); n <= total/goldenFrac {
			t.Errorf("%s: a 5%% change of one curve moved only %d pixels (tolerance %d)", rel, n, total/goldenFrac)
		}
	}
	// Unchanged pictures compare equal.
	a, b := decodePNG(t, filepath.Join(base, "trials/t000-epochs.png")), decodePNG(t, filepath.Join(changed, "trials/t000-epochs.png"))
	if n, _ := imageDiff(a, b, 0); n != 0 {
		t.Errorf("unchanged picture differs in %d pixels", n)
	}
}

func TestDeterministic(t *testing.T) {
	a := writeReport(t, goldenSweep(), Options{SmoothWindow: 5, Workers: 1})
	b := writeReport(t, goldenSweep(), Options{SmoothWindow: 5, Workers: 4})
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndexContents(t *testing.T) {
	d := goldenSweep()
	dir := writeReport(t, d, goldenOptions)
	html := readFile(t, filepath.Join(dir, "index.html"))
	for _, want := range []string{
		"completed 32 · pruned 1 · diverged 3", // counts by state
		"compute saved by pruning</th><td>4 iterations",
		`id="best-trial" href="trials/t030.html">t030</a>`,
		"lr=1, batch=1, optimizer=adam", // a setting in the best-settings table
		`<pre id="config">name: golden`, // the experiment file
		`href="trials.csv"`, `href="trials.json"`,
		`src="img/heatmap-1-adam.png"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// No absolute or network URLs.
	for _, bad := range []string{"http://", "https://", `src="/`, `href="/`} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	// Diverged points rank last.
	best := strings.Index(html, `id="best-settings"`)
	div := strings.LastIndex(html, "lr=1, batch=1, optimizer=sgd")
	stable := strings.LastIndex(html, "lr=0.01, batch=1, optimizer=sgd")
	if best < 0 || div < stable {
		t.Errorf("the diverged setting is not ranked after the stable ones")
	}
	page := readFile(t, filepath.Join(dir, "trials", "t012.html"))
	for _, want := range []string{"diverged at iteration", `src="t012-epochs.png"`, `src="t012-batches.png"`, `href="../index.html"`} {
		if !strings.Contains(page, want) {
			t.Errorf("t012.html lacks %q", want)
		}
	}

	// Saved iterations as given.
	saved := int64(12345)
	dir = writeReport(t, d, Options{SavedIterations: &saved})
	if html := readFile(t, filepath.Join(dir, "index.html")); !strings.Contains(html, "12 345 iterations") {
		t.Error("Options.SavedIterations is not reported")
	}
}

func TestEscaping(t *testing.T) {
	d := goldenSweep()
	d.Info.Name = "<script>alert(1)</script>"
	d.Info.Config = "name: x\n</pre><script>alert(2)</script>"
	d.Trials[0].Error = `<img src=x onerror="alert(3)">`
	d.Trials[0].Plan.Params["optimizer.type"] = `"><b>bold</b>`
	d.Trials[1].Plan.ID = `../../etc/passwd`
	dir := writeReport(t, d, Options{})
	html := readFile(t, filepath.Join(dir, "index.html"))
	for _, bad := range []string{"<script>alert", "<b>bold</b>", "onerror=\"alert"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains unescaped %q", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the sweep name is not shown escaped")
	}
	name := safeName(d.Trials[1].Plan.ID)
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		t.Errorf("unsafe file name %q", name)
	}
	if _, err := os.Stat(filepath.Join(dir, "trials", name+".html")); err != nil {
		t.Errorf("trial page of an unsafe id: %v", err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "trials", "*.html"))
	if len(pages) != len(d.Trials) {
		t.Errorf("%d trial pages, want %d", len(pages), len(d.Trials))
	}
	page := readFile(t, filepath.Join(dir, "trials", "t000.html"))
	if strings.Contains(page, "<img src=x") || strings.Contains(page, "<script>alert") {
		t.Error("trial page contains unescaped data")
	}
}

func TestCSVAndJSON(t *testing.T) {
	d := goldenSweep()
	d.Trials[3].Final.ValLoss = math.Inf(1)
	dir := writeReport(t, d, Options{})
	f, err := os.Open(filepath.Join(dir, "trials.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(d.Trials) {
		t.Fatalf("%d CSV rows, want %d", len(recs), 1+len(d.Trials))
	}
	col := slices.Index(recs[0], "final.val_loss")
	if ta := slices.Index(recs[0], "final.train_accuracy"); ta < 0 || recs[1][ta] != "" {
		t.Errorf("NaN train accuracy not written as an empty cell")
	}
	if got := recs[4][col]; got != "+Inf" {
		t.Errorf("infinite val loss written as %q", got)
	}

	var j []struct {
		ID    string
		State string
		Final struct {
			TrainAccuracy *float64 `json:"train_accuracy"`
			ValLoss       any      `json:"val_loss"`
		} `json:"final"`
		Params  map[string]any
		Metrics struct {
			ValLoss []map[string]any `json:"val_loss"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "trials.json"))), &j); err != nil {
		t.Fatal(err)
	}
	if len(j) != len(d.Trials) {
		t.Fatalf("trials.json: %d trials, want %d", len(j), len(d.Trials))
	}
	if j[0].Final.TrainAccuracy != nil {
		t.Error("NaN is not null in trials.json")
	}
	if j[3].Final.ValLoss != "+Inf" {
		t.Errorf("infinite val loss in trials.json: %v", j[3].Final.ValLoss)
	}
	if j[12].State != "diverged" || len(j[0].Metrics.ValLoss) != 8 || j[0].Params["optimizer.type"] != "sgd" {
		t.Errorf("trials.json content: %+v", j[12])
	}
}

// TestHostileData: NaN, Inf, missing settings, empty series, odd states
// and an empty sweep make a report without error, and pictures decode.
func TestHostileData(t *testing.T) {
	d := goldenSweep()
	nan, inf := math.NaN(), math.Inf(1)
	d.Trials[0].EpochSeries[2].TrainLoss = nan
	d.Trials[0].EpochSeries[3].ValLoss = inf
	d.Trials[1].EpochSeries = nil
	d.Trials[1].BatchLoss = nil
	d.Trials[2].BatchLoss[5].Loss = math.Inf(-1)
	d.Trials[2].BatchLoss[6].Loss = nan
	d.Trials[4].Status = framework.Failed
	d.Trials[4].Error = "boom"
	d.Trials[5].Status = framework.Running
	d.Trials[6].Plan.Params = nil
	d.Trials[7].Seconds = nan
	d.Trials[8].EpochSeries[0].Seconds = inf
	d.Trials[9].Plan.Params["training.learning_rate"] = "fast"
	d.Trials[10].Plan.Params["training.learning_rate"] = nan
	for i := range d.Trials[11].EpochSeries {
		d.Trials[11].EpochSeries[i].TrainLoss = -1 // not drawable on a log axis
		d.Trials[11].EpochSeries[i].ValLoss = 0
	}
	d.Trials[14].Plan.Params["training.batch_size"] = "full"
	d.Trials[15].Plan.Params["training.batch_size"] = int64(8)
	d.Trials[16].Plan.Params["extra"] = map[string]any{"x": nan}
	cases := map[string]*framework.SweepData{
		"hostile": d,
		"empty":   {Info: framework.SweepInfo{Name: "empty"}},
		"single":  {Info: framework.SweepInfo{Name: "one"}, Trials: goldenSweep().Trials[:1]},
		"all diverged": func() *framework.SweepData {
			g := goldenSweep()
			for i := range g.Trials {
				g.Trials[i].Status = framework.Diverged
			}
			return g
		}(),
		"all NaN": func() *framework.SweepData {
			g := goldenSweep()
			for i := range g.Trials {
				for k := range g.Trials[i].EpochSeries {
					g.Trials[i].EpochSeries[k] = framework.EpochStats{Epoch: k + 1, TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan, Seconds: nan}
				}
				for k := range g.Trials[i].BatchLoss {
					g.Trials[i].BatchLoss[k].Loss = nan
				}
				g.Trials[i].Final = framework.EpochStats{TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan}
			}
			return g
		}(),
		"accuracy metric": func() *framework.SweepData {
			g := goldenSweep()
			g.Info.Metric = "val_accuracy"
			return g
		}(),
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeReport(t, d, Options{SmoothWindow: 3})
			for _, rel := range pngFiles(t, dir) {
				decodePNG(t, filepath.Join(dir, rel))
			}
			html := readFile(t, filepath.Join(dir, "index.html"))
			if strings.Contains(html, "could not be drawn") {
				t.Error("a chart failed to draw")
			}
		})
	}
	if err := Write(t.TempDir(), nil, Options{}); err == nil {
		t.Error("Write(nil) did not fail")
	}
}

func TestRanking(t *testing.T) {
	d := goldenSweep()
	a := analyze(d)
	if a.metric.Name != "val_loss" || a.metric.HigherIsBetter {
		t.Fatalf("metric %+v", a.metric)
	}
	// Best first; diverged points last.
	last := a.points[len(a.points)-1]
	if last.Class != results.Broken || last.Label != "lr=1, batch=1, optimizer=sgd" {
		t.Errorf("last point %q class %d", last.Label, last.Class)
	}
	for i := 1; i < len(a.points); i++ {
		p, q := a.points[i-1], a.points[i]
		if p.Class == q.Class && len(p.Values) > 0 && len(q.Values) > 0 && p.Mean > q.Mean {
			t.Errorf("points %d and %d out of order", p.Point.Point, q.Point.Point)
		}
	}
	if saved, unknown := a.savedIterations(); saved != 4 || unknown != 0 {
		t.Errorf("saved %d (unknown %d), want 4: the pruned full-batch trial stopped at epoch 4 of 8", saved, unknown)
	}
	// Higher-better metric.
	d.Info.Metric = "val_accuracy"
	a = analyze(d)
	if !a.metric.HigherIsBetter || a.points[0].Mean < a.points[1].Mean {
		t.Errorf("val_accuracy is not ranked higher-better")
	}
	// Batch sizes: 1 is SGD, the data size is GD.
	want := []string{"SGD (batch 1)", "mini-batch 8", "GD (full batch)"}
	for i, b := range a.batches {
		if b.label() != want[i] {
			t.Errorf("batch %d labelled %q, want %q", i, b.label(), want[i])
		}
	}
}

// TestRenderPanic: a drawing that panics becomes a picture saying so.
func TestRenderPanic(t *testing.T) {
	f := &figure{w: 300, h: 200, draw: func(draw.Canvas) { panic("bad value") }}
	img, failure := f.render()
	if failure != "bad value" || img.Bounds().Dx() != 300 || img.Bounds().Dy() != 200 {
		t.Errorf("render of a panicking figure: %q, %v", failure, img.Bounds())
	}
	if v := grayVariance(img); v == 0 {
		t.Error("the placeholder is blank")
	}
}

func TestTicks(t *testing.T) {
	labels := func(ts []plot.Tick) (out []string) {
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got := labels(niceTicker{}.Ticks(0, 1)); !slices.Equal(got, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}) {
		t.Errorf("linear ticks 0..1: %v", got)
	}
	if got := labels(niceTicker{integer: true}.Ticks(1, 4)); !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Errorf("epoch ticks 1..4: %v", got)
	}
	if got := labels(logTicker{}.Ticks(0.001, 1)); !slices.Contains(got, "0.001") || !slices.Contains(got, "1") {
		t.Errorf("log ticks 0.001..1: %v", got)
	}
	if got := labels(logTicker{}.Ticks(0.2, 0.4)); len(got) < 2 {
		t.Errorf("log ticks within a decade: %v", got)
	}
}

// Symbolic links planted in the output folder (a file, or the img and
// trials folders, pointing outside) are replaced, never written through:
// the files outside are untouched.
func TestWriteNeverLeavesDir(t *testing.T) {
	outside, dir := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim.html")
	for _, sub := range []string{"img", "trials"} {
		if err := os.Mkdir(filepath.Join(outside, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keep := map[string]string{
		victim:                               "keep me",
		filepath.Join(outside, "victim.csv"): "keep me too",
		filepath.Join(outside, "img", "curves-by-lr.png"):     "not a png",
		filepath.Join(outside, "trials", "unrelated.html"):    "stale-looking but outside",
		filepath.Join(outside, "trials", "unrelated-old.png"): "outside",
	}
	for p, text := range keep {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"index.html": victim,
		"trials.csv": filepath.Join(outside, "victim.csv"),
		"img":        filepath.Join(outside, "img"),
		"trials":     filepath.Join(outside, "trials"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(dir, goldenSweep(), Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	for p, text := range keep {
		if b, err := os.ReadFile(p); err != nil || string(b) != text {
			t.Errorf("%s outside the report changed (%d bytes now), %v", p, len(b), err)
		}
	}
	for name := range links {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("%s: still a link or missing (%v)", name, err)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "index.html")), "<html") {
		t.Error("index.html was not written")
	}
}

// A report written again removes the pages and pictures of trials that no
// longer exist, and leaves files it does not write alone.
func TestWriteRemovesStalePages(t *testing.T) {
	dir := writeReport(t, goldenSweep(), Options{Workers: 2})
	stale := []string{"trials/gone.html", "trials/gone-epochs.png", "img/old-chart.png"}
	other := []string{"notes.txt", "trials/notes.txt", "img/readme.md"}
	for _, rel := range append(append([]string{}, stale...), other...) {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := pngFiles(t, dir)
	if err := Write(dir, goldenSweep(), Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range stale {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s was kept (%v)", rel, err)
		}
	}
	for _, rel := range other {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			t.Errorf("%s, not a report file, was removed: %v", rel, err)
		}
	}
	if after := pngFiles(t, dir); len(after) != len(before)-2 {
		t.Errorf("%d pictures after rewriting, want %d", len(after), len(before)-2)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "trials"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// A trial whose schedule varied its learning rate gets a learning-rate
// chart on its page, drawn from the recorded rates; a trial at a constant
// rate, or one stored before rates were recorded, gets none.
func TestLearningRateChart(t *testing.T) {
	d := goldenSweep()
	for i := range d.Trials[0].BatchLoss {
		d.Trials[0].BatchLoss[i].LearningRate = 0.1 * math.Pow(0.9, float64(i/5))
	}
	for i := range d.Trials[1].BatchLoss {
		d.Trials[1].BatchLoss[i].LearningRate = 0.1
	}
	dir := t.TempDir()
	if err := Write(dir, d, goldenOptions); err != nil {
		t.Fatal(err)
	}
	a := analyze(d)
	files := map[string]bool{}
	for _, ti := range a.trials {
		files[ti.T.Plan.ID] = a.trialRateFigure(ti, 600, 300) != nil
	}
	if !files[d.Trials[0].Plan.ID] || files[d.Trials[1].Plan.ID] || files[d.Trials[2].Plan.ID] {
		t.Fatalf("rate charts: %v; want one for the scheduled trial only", files)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "trials", "*-lr.png"))
	if len(pngs) != 1 {
		t.Fatalf("%d learning-rate pictures, want 1", len(pngs))
	}
	if v := grayVariance(decodePNG(t, pngs[0])); v < 1 {
		t.Errorf("the learning-rate picture is blank (variance %v)", v)
	}
	page, err := os.ReadFile(filepath.Join(dir, "trials", a.trials[slices.IndexFunc(a.trials, func(ti *trialInfo) bool { return ti.T.Plan.ID == d.Trials[0].Plan.ID })].File+".html"))
	if err != nil || !strings.Contains(string(page), "-lr.png") {
		t.Errorf("the trial page does not show the learning-rate chart (%v)", err)
	}
}

// A trial with layer statistics gets a gradient-flow chart on its page:
// one line per dense layer, on a log axis when the norms span decades;
// trials without get none.
func TestGradientFlowChart(t *testing.T) {
	d := goldenSweep()
	for _, it := range []int{1, 16, 32} {
		for k, l := range []int{0, 2, 4} {
			d.Trials[0].Layers = append(d.Trials[0].Layers, framework.LayerPoint{Iteration: it,
				LayerStats: framework.LayerStats{Layer: l, GradNorm: math.Pow(10, float64(2*k-4)) / float64(it), WeightNorm: 1, UpdateRatio: 1e-3, DeadFraction: math.NaN()}})
		}
	}
	dir := t.TempDir()
	if err := Write(dir, d, goldenOptions); err != nil {
		t.Fatal(err)
	}
	a := analyze(d)
	var withFlow []string
	for _, ti := range a.trials {
		f := a.trialFlowFigure(ti, 600, 300)
		if f == nil {
			continue
		}
		withFlow = append(withFlow, ti.T.Plan.ID)
		if !isLog(f.plot.Y) || len(f.legend) != 3 {
			t.Errorf("flow chart: log y %v, %d legend entries; want log, 3 layers", isLog(f.plot.Y), len(f.legend))
		}
		page, err := os.ReadFile(filepath.Join(dir, "trials", ti.File+".html"))
		if err != nil || !strings.Contains(string(page), ti.File+"-flow.png") {
			t.Errorf("the trial page does not show the gradient-flow chart (%v)", err)
		}
	}
	if !slices.Equal(withFlow, []string{d.Trials[0].Plan.ID}) {
		t.Fatalf("flow charts for %v; want the trial with layer stats only", withFlow)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "trials", "*-flow.png"))
	if len(pngs) != 1 {
		t.Fatalf("%d gradient-flow pictures, want 1", len(pngs))
	}
	if v := grayVariance(decodePNG(t, pngs[0])); v < 1 {
		t.Errorf("the gradient-flow picture is blank (variance %v)", v)
	}
}

// Chart labels name a layer's setting by the layer, not by a bare index
// ("1=sigmoid" read as a number).
func TestShortKeyNamesLayers(t *testing.T) {
	for k, want := range map[string]string{"model.1.type": "layer 1", "model.0.units": "layer 0 units",
		"training.learning_rate": "lr", "optimizer.type": "optimizer", "training.batch_size": "batch", "loss.delta": "delta"} {
		if got := shortKey(k); got != want {
			t.Errorf("shortKey(%q) = %q, want %q", k, got, want)
		}
	}
}
