// Package report turns the stored data of a sweep into a self-contained
// report folder: an index.html (summary, best settings, a sortable table
// of all trials, every picture), one page per trial, PNG pictures drawn
// with gonum.org/v1/plot, and trials.csv / trials.json.
//
// The report depends on the data alone (framework.SweepData, as read back
// from the store); it opens from file:// without network access. Output is
// deterministic: the same data and options give the same bytes.
package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gradsweep/gradsweep/framework"
)

// DefaultSmoothWindow is the moving-average window, in recorded batch
// losses, that the sweep command's reports draw on the per-trial
// batch-loss pictures.
const DefaultSmoothWindow = 15

// Options tune a report. The zero value is ready to use.
type Options struct {
	// SmoothWindow > 1 overlays a centred moving average of that many
	// recorded batch losses (every recorded iteration, see
	// record.batch_loss_every) on the per-iteration batch-loss pictures;
	// 0 or 1 draws the raw batch loss only.
	SmoothWindow int
	// SavedIterations, when set, is the compute saved by pruning as the
	// sweep reported it (iterations); otherwise it is estimated from the
	// data as Σ (planned − done epochs) × iterations per epoch over pruned
	// trials.
	SavedIterations *int64
	// Width and Height of the overview pictures in pixels (default 960×540).
	Width, Height int
	// TrialWidth and TrialHeight of the per-trial pictures (default 760×400).
	TrialWidth, TrialHeight int
	// Workers bounds the pictures drawn in parallel (default GOMAXPROCS).
	Workers int
	// RepeatPoints is how many of the best grid points the repeats picture
	// shows (default 6).
	RepeatPoints int
	// Paths are the routes of the trials of a sweep on the function data
	// source, by trial ID (framework.TrialPlan.ID): with them the report
	// draws the optimizer paths on the test function (a section of the
	// index and a picture on each trial page). The store does not hold
	// them; see Path.
	Paths map[string]*Path
	// Boundaries are the decision boundaries of classification trials on
	// two input features, by trial ID: with them the report draws each
	// one on its trial's page, and the best trial of each optimizer side
	// by side. The store does not hold models; see Boundary.
	Boundaries map[string]*Boundary
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 960, 540
	}
	if o.TrialWidth <= 0 || o.TrialHeight <= 0 {
		o.TrialWidth, o.TrialHeight = 760, 400
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.RepeatPoints <= 0 {
		o.RepeatPoints = 6
	}
	return o
}

// chart is one overview picture of the index page.
type chart struct {
	section string
	file    string // relative to the report root, slash-separated
	alt     string
	caption string
	fig     *figure
}

// section order and introductions on the index page.
var sections = []struct{ id, title, intro string }{
	{"curves", "Loss curves", "Thin lines are single trials. Bold lines are the mean of each group over its completed, stable trials only (n/m in the legend), drawn at the epochs where every one of them has a value, so a trial leaving the average never looks like learning. Diverged trials (× at the last finite value), trials that blew up (a triangle where they leave the range: above 10× the sweep's typical first-epoch loss) and pruned trials (ring) are drawn thin and left out of the means. The loss axis is set by the stable trials, and logarithmic when they span more than a decade."},
	{"gd", "GD vs SGD vs mini-batch", "For each batch size, its best setting (mean ± 1 std over the repeats that completed stably) against epochs, weight updates and wall-clock time, all under one optimizer: SGD updates once per sample, full-batch gradient descent once per epoch."},
	{"heatmap", "Learning rate × batch size", "Final ranking metric, mean over repeats. Grey cells with a red × are settings where every repeat diverged (past the stability boundary); a small × marks settings where some repeats diverged."},
	{"optimizers", "Optimizers and learning rate", "The best grid point of each optimizer (when there are several), and the metric against learning rate."},
	{"boundary", "Decision boundaries", "For classification on two input features: the class the final model predicts over the region of the training data. The store keeps no models: the trials drawn are trained again from their stored settings, which gives the run's weights to the bit (same seed), checked against the stored final loss."},
	{"landscape", "Optimizer paths", "For a sweep on the function data source (a point trained on a 2-D test function, one gradient step per epoch): the paths of the point over the function's contour lines, log-spaced levels of f − min f over the view, light where f is high. The store keeps the losses, not the points: the paths come from training each trial again from its stored settings, which gives the run's weights to the bit (same seed), checked against the stored final loss."},
}

// Write makes a report of d in dir (created if needed; files of an
// earlier report there are replaced, pictures and trial pages it does not
// write again are removed, other files are left alone; nothing outside dir
// is touched, even through symbolic links planted in it):
//
//	index.html           summary, best settings, all trials, pictures
//	trials.csv           one row per trial (WriteTrialsCSV, as sweep export)
//	trials.json          every trial with its epoch series (WriteTrialsJSON)
//	img/*.png            overview pictures
//	trials/<id>.html     one page per trial
//	trials/<id>-*.png    its loss per epoch and batch loss per iteration
//
// NaN and infinite values never stop a report: they are left out of the
// pictures (diverged trials are drawn up to their last finite value) and
// shown as empty cells in the tables.
func Write(dir string, d *framework.SweepData, opt Options) error {
	if d == nil {
		return errors.New("report: no sweep data")
	}
	opt = opt.withDefaults()
	a := analyze(d)
	if err := prepareDirs(dir); err != nil {
		return err
	}

	charts, notes := a.charts(opt)
	var jobs []pictureJob
	for _, c := range charts {
		jobs = append(jobs, pictureJob{c.file, c.fig})
	}
	for _, ti := range a.trials {
		if f := a.trialEpochFigure(ti, opt.TrialWidth, opt.TrialHeight); f != nil {
			ti.EpochPNG, ti.EpochNotes = "trials/"+ti.File+"-epochs.png", f.notes
			jobs = append(jobs, pictureJob{ti.EpochPNG, f})
		}
		if f := a.trialBatchFigure(ti, opt.SmoothWindow, opt.TrialWidth, opt.TrialHeight); f != nil {
			ti.BatchPNG, ti.BatchNotes = "trials/"+ti.File+"-batches.png", f.notes
			jobs = append(jobs, pictureJob{ti.BatchPNG, f})
		}
		if f := a.trialRateFigure(ti, opt.TrialWidth, opt.TrialHeight); f != nil {
			ti.RatePNG = "trials/" + ti.File + "-lr.png"
			jobs = append(jobs, pictureJob{ti.RatePNG, f})
		}
		if f := a.trialFlowFigure(ti, opt.TrialWidth, opt.TrialHeight); f != nil {
			ti.FlowPNG = "trials/" + ti.File + "-flow.png"
			jobs = append(jobs, pictureJob{ti.FlowPNG, f})
		}
		if b := opt.Boundaries[ti.T.Plan.ID]; b != nil {
			ti.BoundaryPNG = "trials/" + ti.File + "-boundary.png"
			jobs = append(jobs, pictureJob{ti.BoundaryPNG, boundaryFigure(trialTitle(ti, "decision boundary"), b, opt.TrialWidth, opt.TrialWidth*3/4, true)})
		}
		if f := a.trialPathFigure(ti, opt.Paths, opt.TrialWidth, opt.TrialWidth*3/4); f != nil {
			ti.PathPNG = "trials/" + ti.File + "-path.png"
			jobs = append(jobs, pictureJob{ti.PathPNG, f})
		}
	}
	failed, err := drawPictures(dir, jobs, opt.Workers)
	if err != nil {
		return err
	}
	if err := writeIndex(dir, a, opt, charts, notes, failed); err != nil {
		return err
	}
	for i, ti := range a.trials {
		var prev, next *trialInfo
		if i > 0 {
			prev = a.trials[i-1]
		}
		if i+1 < len(a.trials) {
			next = a.trials[i+1]
		}
		if err := writeTrialPage(dir, a, ti, prev, next); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, "trials.csv"), WriteTrialsCSV, a.d.Trials); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "trials.json"), WriteTrialsJSON, a.d.Trials); err != nil {
		return err
	}
	written := map[string]bool{}
	for _, j := range jobs {
		written[j.path] = true
	}
	for _, ti := range a.trials {
		written["trials/"+ti.File+".html"] = true
	}
	return removeStale(dir, written)
}

// pictureJob is one picture to draw and where to write it (relative to
// the report root, slash-separated).
type pictureJob struct {
	path string
	fig  *figure
}

// drawPictures draws and writes the pictures on up to workers goroutines;
// each is independent, so the output does not depend on the schedule. It
// returns the pictures that could not be drawn (sorted, with why; a
// placeholder was written instead) and the first write error.
func drawPictures(dir string, jobs []pictureJob, workers int) (failed []string, err error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan pictureJob)
	)
	for range min(workers, max(1, len(jobs))) {
		wg.Go(func() {
			for j := range next {
				img, failure := j.fig.render()
				err := writePNG(filepath.Join(dir, filepath.FromSlash(j.path)), img)
				putRGBA(img)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("report: %w", err)
				}
				if failure != "" {
					failed = append(failed, j.path+": "+failure)
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	slices.Sort(failed)
	return failed, first
}

// The report's subfolders and the kinds of file it writes in them: the
// only files removeStale may delete.
var reportFiles = []struct{ sub, ext string }{
	{"img", ".png"},
	{"trials", ".png"},
	{"trials", ".html"},
}

// prepareDirs creates dir and its img and trials subfolders. A subfolder
// that is a symbolic link is replaced by a real folder (the link is
// removed; what it points to is not touched), so the report never writes
// outside dir.
func prepareDirs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, sub := range []string{"img", "trials"} {
		p := filepath.Join(dir, sub)
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		case err == nil && !fi.IsDir():
			return fmt.Errorf("report: %s is not a folder", p)
		case err == nil:
			continue
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("report: %w", err)
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// replaceFile writes data to path without following a link: it writes a
// temporary file in path's folder and renames it over path. The rename
// replaces whatever path was (a planted symbolic link included) and never
// touches what a link pointed to; a reader sees the old file or the new
// one, never half of one.
func replaceFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removeStale deletes the pictures and trial pages of an earlier report
// in dir that this one did not write (trials that no longer exist, charts
// the data no longer supports). written holds the slash-separated paths,
// relative to dir, of the files written. Only the kinds of file the report
// writes (reportFiles) are removed; anything else is left alone.
func removeStale(dir string, written map[string]bool) error {
	for _, rf := range reportFiles {
		entries, err := os.ReadDir(filepath.Join(dir, rf.sub))
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		for _, e := range entries {
			rel := rf.sub + "/" + e.Name()
			if e.IsDir() || filepath.Ext(e.Name()) != rf.ext || written[rel] {
				continue
			}
			if err := os.Remove(filepath.Join(dir, rf.sub, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("report: %w", err)
			}
		}
	}
	return nil
}

// charts lists the overview pictures that the data supports, and notes
// saying why some expected ones are missing. A chart that does not apply
// (a GD vs SGD comparison with one batch size, a heatmap with one row or
// column, an optimizer chart with one optimizer) is left out, with no
// section.
func (a *analysis) charts(opt Options) (out []chart, notes map[string][]string) {
	notes = map[string][]string{}
	w, h := opt.Width, opt.Height
	add := func(section, file, alt, caption string, f *figure, missing string) {
		if f == nil {
			if missing != "" {
				notes[section] = append(notes[section], missing)
			}
			return
		}
		if len(f.notes) > 0 {
			caption = strings.TrimSpace(caption + " " + strings.Join(f.notes, " "))
		}
		out = append(out, chart{section, file, alt, caption, f})
	}
	cl := curveLabel(a.curve)
	add("curves", "img/curves-by-lr.png", cl+" by learning rate", "Grouped by learning rate.",
		a.overlayFigure("lr", cl+" by learning rate", w, h), "Learning rate: fewer than two values, no grouping.")
	add("curves", "img/curves-by-batch.png", cl+" by batch size", "Grouped by batch size.",
		a.overlayFigure("batch", cl+" by batch size", w, h), "Batch size: fewer than two values, no grouping.")
	if len(a.opts) > 1 {
		add("curves", "img/curves-by-optimizer.png", cl+" by optimizer", "Grouped by optimizer.",
			a.overlayFigure("optimizer", cl+" by optimizer", w, h), "")
	}
	add("curves", "img/repeats.png", "repeats: mean and std band", "Repeats of the best grid points (same settings, different seeds): mean over the repeats that completed stably, with a ±1 std band.",
		a.repeatsFigure(opt.RepeatPoints, w, h), "")

	gdOpt, only := a.gdOptimizer()
	gdWhich := ""
	if a.hasOpt && !only {
		gdWhich = " Optimizer " + orDefault(gdOpt, "(unnamed)") + " only (the one with the most batch sizes), so the lines differ in batch size and learning rate, not optimizer."
	}
	add("gd", "img/gd-sgd-epochs.png", "GD vs SGD vs mini-batch against epochs", "Against epochs (passes over the data)."+gdWhich,
		a.gdFigure("epoch", w, h), "")
	add("gd", "img/gd-sgd-iterations.png", "GD vs SGD vs mini-batch against iterations", "Against iterations (weight updates)."+gdWhich,
		a.gdFigure("iteration", w, h), "")
	add("gd", "img/gd-sgd-seconds.png", "GD vs SGD vs mini-batch against seconds", "Against wall-clock seconds of training: each point is at the median over repeats of the seconds to that epoch, so one repeat's slow start-up does not shift a line."+gdWhich,
		a.gdFigure("seconds", w, h), "")

	if len(a.lrs) > 1 && len(a.batches) > 1 {
		if a.hasOpt && len(a.opts) > 1 {
			for i, o := range a.opts {
				add("heatmap", fmt.Sprintf("img/heatmap-%d-%s.png", i+1, safeName(orDefault(o, "unnamed"))),
					"heatmap of "+o, "Optimizer "+orDefault(o, "(unnamed)")+" (all heatmaps share one colour scale).",
					a.heatmapFigure(&o, w, h), "")
			}
		} else {
			add("heatmap", "img/heatmap.png", "heatmap of the ranking metric", "", a.heatmapFigure(nil, w, h), "")
		}
	}

	if len(a.opts) > 1 {
		add("optimizers", "img/optimizer-best.png", "best metric per optimizer", "Best grid point of each optimizer (bar: mean, whisker: ±1 std over repeats).",
			a.optimizerBestFigure(w, h), "")
	}
	add("optimizers", "img/optimizer-lr.png", "metric against learning rate", "At each learning rate the best setting of each optimizer; where some trials at a learning rate diverged, the point says how many.",
		a.optimizerLRFigure(w, h), "")
	a.insightCharts(w, h, add)
	a.boundaryCharts(opt.Boundaries, w, add)
	a.landscapeCharts(opt.Paths, w, h, add)
	return out, notes
}
