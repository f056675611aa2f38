package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// metricSpec is the ranking metric (package results), with a note when it
// differs from the one the sweep asked for or cannot compare its trials.
type metricSpec struct {
	results.Metric
	Note string
}

// pickMetric resolves d.Info.Metric (val_loss by default). When a loss
// metric on the validation split is asked for but no trial has one, it
// falls back to train_loss and says so.
func pickMetric(d *framework.SweepData) metricSpec {
	name := strings.TrimSpace(d.Info.Metric)
	if name == "" {
		name = "val_loss"
	}
	m, err := results.Lookup(name)
	note := ""
	if err != nil {
		note = fmt.Sprintf("unknown metric %q: ranking by val_loss", name)
		m = results.MustLookup("val_loss")
	}
	if m.Name == "val_loss" {
		found := false
		for i := range d.Trials {
			if finite(m.Value(&d.Trials[i])) {
				found = true
				break
			}
		}
		if !found {
			note = strings.TrimPrefix(note+"; no trial has val_loss (no validation split?): ranking by train_loss", "; ")
			m = results.MustLookup("train_loss")
		}
	}
	return metricSpec{Metric: m, Note: note}
}

// trialInfo is a trial with what the report derives from it.
type trialInfo struct {
	T    *framework.TrialData
	File string // base file name (no extension) of its page and pictures

	Metric float64 // ranking metric (NaN if the trial has none)

	LR      float64
	HasLR   bool
	Planned int // epochs the trial was planned for (0 if its settings do not say)
	Batch   int // batch size (the data size for full batch)
	Full    bool
	HasBat  bool
	Opt     string
	Label   string // the varied settings
	Short   string // the varied settings, shorter (for legends)
	DataLen int    // training samples per epoch, if known (0 otherwise)

	EpochPNG, BatchPNG     string   // paths relative to the report root ("" if none)
	RatePNG                string   // the learning rate per update, when a schedule varied it
	FlowPNG                string   // the gradient norm per dense layer (record.layer_stats_every)
	PathPNG                string   // the point's path on a test function (Options.Paths)
	BoundaryPNG            string   // the final model's decision boundary (Options.Boundaries)
	EpochNotes, BatchNotes []string // what their captions must add (figure.notes)
}

func (ti *trialInfo) diverged() bool { return ti.T.Status == framework.Diverged }

// pointInfo is a grid point: the repeats of one setting, ranked by
// results.Rank (its mean, std, class and verdict against the best).
type pointInfo struct {
	results.Point
	Trials  []*trialInfo // by repeat
	Label   string
	Short   string
	Rank    int    // position in results.Rank's order, best first
	Verdict string // against the best point: "best", "tied with best (p=…)", ...
	Best    *trialInfo
	LR      float64
	HasLR   bool
	Batch   int
	Full    bool
	HasBat  bool
	Opt     string
}

// Final says whether the point's value is a final one (its repeats ran to
// the end): pruned points are valued at the epoch they were pruned at,
// which charts of final values must not mix with final values.
func (p *pointInfo) Final() bool { return p.N() > 0 && p.Class != results.PrunedClass }

// analysis is everything derived from the data before drawing.
type analysis struct {
	d       *framework.SweepData
	metric  metricSpec
	trials  []*trialInfo // by Plan.Index
	points  []*pointInfo // ranked, best first
	varied  []string     // varied keys, in order of first appearance
	curve   string       // "val_loss" or "train_loss": the loss curve drawn in overviews
	opts    []string     // optimizers, sorted ("" if none is named)
	hasOpt  bool
	best    *trialInfo // best single trial (nil if none has a metric)
	batches []batchKey // sorted
	lrs     []float64  // sorted
	// lossRef is the typical loss at the start of training: the median of
	// the trials' first finite value of the overview curve (NaN if none).
	lossRef float64
}

// blowUpFactor: a trial whose overview curve rises above blowUpFactor ×
// lossRef blew up, whether or not it formally diverged (a full-batch step
// too large can end at a loss of thousands without a non-finite value).
const blowUpFactor = 10

// blewUp reports whether ti's overview curve rose above blowUpFactor ×
// the sweep's typical starting loss.
func (a *analysis) blewUp(ti *trialInfo) bool {
	if !(a.lossRef > 0) {
		return false
	}
	for _, q := range curveOf(ti.T, a.curve, "epoch") {
		if finite(q.Y) && q.Y > blowUpFactor*a.lossRef {
			return true
		}
	}
	return false
}

// settled reports whether ti is one a mean curve is over: it completed
// (was not pruned, did not diverge or fail) and did not blow up.
func (a *analysis) settled(ti *trialInfo) bool {
	return ti.T.Status == framework.Completed && !a.blewUp(ti)
}

// settledOf keeps the settled trials of ts.
func (a *analysis) settledOf(ts []*trialInfo) []*trialInfo {
	var out []*trialInfo
	for _, ti := range ts {
		if a.settled(ti) {
			out = append(out, ti)
		}
	}
	return out
}

type batchKey struct {
	Size int
	Full bool
}

func (b batchKey) label() string {
	switch {
	case b.Full:
		return "GD (full batch)"
	case b.Size == 1:
		return "SGD (batch 1)"
	default:
		return fmt.Sprintf("mini-batch %d", b.Size)
	}
}

func (b batchKey) short() string {
	if b.Full {
		if b.Size > 0 {
			return fmt.Sprintf("full (%d)", b.Size)
		}
		return "full"
	}
	return strconv.Itoa(b.Size)
}

func cmpBatch(a, b batchKey) int {
	if a.Full != b.Full {
		if a.Full {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.Size, b.Size)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// toFloat converts a parameter value to a number.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, finite(x)
	case float32:
		return float64(x), finite(float64(x))
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && finite(f)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && finite(f)
	}
	return 0, false
}

// fmtParam formats a parameter value for labels and tables.
func fmtParam(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmtNum(x)
	case float32:
		return fmtNum(float64(x))
	}
	return fmt.Sprint(v)
}

// fmtNum formats a number compactly (up to 4 significant digits).
func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	if math.IsInf(v, -1) {
		return "−Inf"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// shortKey names a dotted key in labels by its last part, abbreviated:
// training.learning_rate is "lr", optimizer.type is "optimizer"; a layer's
// setting names the layer: model.1.type is "layer 1".
func shortKey(k string) string {
	parts := strings.Split(k, ".")
	last := parts[len(parts)-1]
	if len(parts) == 3 && parts[0] == "model" { // model.1.type is "layer 1", model.0.units "layer 0 units"
		if last == "type" {
			return "layer " + parts[1]
		}
		return "layer " + parts[1] + " " + last
	}
	if (last == "type" || last == "name") && len(parts) > 1 {
		return parts[len(parts)-2]
	}
	if abbr, ok := abbreviations[last]; ok {
		return abbr
	}
	return last
}

// abbreviations shorten setting names in chart labels.
var abbreviations = map[string]string{"learning_rate": "lr", "batch_size": "batch"}

// batchOf derives a trial's batch size from its settings set: the
// parameter, "full", or the data size when the trial did one iteration per
// epoch.
func batchOf(t *framework.TrialData, set framework.TrialSettings) (b batchKey, dataLen int, ok bool) {
	if len(t.EpochSeries) > 0 {
		e := t.EpochSeries[0]
		if e.Epoch == 1 || e.Epoch == 0 {
			dataLen = e.Samples
		}
	}
	if !set.HasBatchSize {
		return batchKey{}, dataLen, false
	}
	n := set.Training.BatchSize // 0: full
	if n <= 0 || (dataLen > 0 && n >= dataLen) {
		if n <= 0 {
			n = dataLen
		}
		return batchKey{Size: n, Full: true}, dataLen, true
	}
	return batchKey{Size: n}, dataLen, true
}

// analyze derives everything the report draws and tabulates from d.
func analyze(d *framework.SweepData) *analysis {
	a := &analysis{d: d, metric: pickMetric(d)}
	if note := results.IncomparableNote(a.metric.Metric, d.Trials); note != "" {
		a.metric.Note = strings.TrimPrefix(a.metric.Note+"; "+note, "; ")
	}
	a.readTrials()
	a.findVaried()
	a.nameFiles()
	a.pickCurve()
	a.rankPoints()
	a.collectAxes()
	return a
}

// readTrials makes a trialInfo of every trial, in plan order.
func (a *analysis) readTrials() {
	d := a.d
	for i := range d.Trials {
		t := &d.Trials[i]
		ti := &trialInfo{T: t, Metric: a.metric.Value(t)}
		if !finite(ti.Metric) || t.Status == framework.Diverged || t.Status == framework.Failed {
			ti.Metric = math.NaN()
		}
		set := t.Plan.Settings()
		ti.Planned = set.Training.Epochs
		if lr := set.Training.LearningRate; lr > 0 {
			ti.LR, ti.HasLR = lr, true
		}
		var bk batchKey
		bk, ti.DataLen, ti.HasBat = batchOf(t, set)
		ti.Batch, ti.Full = bk.Size, bk.Full
		if set.Optimizer != "" {
			ti.Opt = set.Optimizer
			a.hasOpt = true
		}
		a.trials = append(a.trials, ti)
	}
	slices.SortStableFunc(a.trials, func(x, y *trialInfo) int {
		return cmp.Or(cmp.Compare(x.T.Plan.Index, y.T.Plan.Index), strings.Compare(x.T.Plan.ID, y.T.Plan.ID))
	})
}

// findVaried lists the varied keys in order of first appearance; it falls
// back to keys whose values differ across trials when no trial lists them.
func (a *analysis) findVaried() {
	seen := map[string]bool{}
	for _, ti := range a.trials {
		for _, k := range ti.T.Plan.Varied {
			if !seen[k] {
				seen[k] = true
				a.varied = append(a.varied, k)
			}
		}
	}
	if len(a.varied) == 0 && len(a.trials) > 1 {
		keys := map[string]bool{}
		for _, ti := range a.trials {
			for k := range ti.T.Plan.Params {
				keys[k] = true
			}
		}
		for _, k := range sortedKeys(keys) {
			first := fmt.Sprint(a.trials[0].T.Plan.Params[k])
			for _, ti := range a.trials[1:] {
				if fmt.Sprint(ti.T.Plan.Params[k]) != first {
					a.varied = append(a.varied, k)
					break
				}
			}
		}
	}
}

// nameFiles gives every trial its file name (the ID when it is a safe
// name, made unique) and its labels.
func (a *analysis) nameFiles() {
	used := map[string]bool{}
	for _, ti := range a.trials {
		name := safeName(ti.T.Plan.ID)
		if name == "" {
			name = fmt.Sprintf("trial-%d", ti.T.Plan.Index)
		}
		if used[strings.ToLower(name)] {
			name = fmt.Sprintf("%s-%d", name, ti.T.Plan.Index)
			for k := 2; used[strings.ToLower(name)]; k++ {
				name = fmt.Sprintf("%s-%d-%d", safeName(ti.T.Plan.ID), ti.T.Plan.Index, k)
			}
		}
		used[strings.ToLower(name)] = true
		ti.File = name
		ti.Label = a.labelOf(ti.T.Plan.Params)
		ti.Short = a.shortLabelOf(ti.T.Plan.Params)
	}
}

// pickCurve chooses the curve drawn in overviews: the validation loss when
// any trial has one.
func (a *analysis) pickCurve() {
	a.curve = "train_loss"
	for _, ti := range a.trials {
		for _, e := range ti.T.EpochSeries {
			if finite(e.ValLoss) {
				a.curve = "val_loss"
				break
			}
		}
		if a.curve == "val_loss" {
			break
		}
	}
	var first []float64
	for _, ti := range a.trials {
		for _, q := range curveOf(ti.T, a.curve, "epoch") {
			if finite(q.Y) {
				first = append(first, q.Y)
				break
			}
		}
	}
	a.lossRef = median(first)
}

// median of v (NaN for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rankPoints groups the trials into grid points, ranked as 'sweep best'
// ranks them, and finds the best single trial.
func (a *analysis) rankPoints() {
	byPoint := map[int][]*trialInfo{}
	for _, ti := range a.trials {
		byPoint[ti.T.Plan.Point] = append(byPoint[ti.T.Plan.Point], ti)
	}
	for i, r := range results.Rank(a.metric.Metric, a.d.Trials) {
		ts := byPoint[r.Point]
		slices.SortStableFunc(ts, func(x, y *trialInfo) int { return cmp.Compare(x.T.Plan.Repeat, y.T.Plan.Repeat) })
		first := ts[0]
		p := &pointInfo{Point: r, Trials: ts, Label: first.Label, Short: first.Short, Rank: i, Verdict: r.Verdict(i),
			LR: first.LR, HasLR: first.HasLR, Batch: first.Batch, Full: first.Full, HasBat: first.HasBat, Opt: first.Opt}
		for _, ti := range ts {
			if finite(ti.Metric) && (p.Best == nil || a.metric.Better(ti.Metric, p.Best.Metric)) {
				p.Best = ti
			}
		}
		a.points = append(a.points, p)
	}
	for _, ti := range a.trials {
		if finite(ti.Metric) && (a.best == nil || a.metric.Better(ti.Metric, a.best.Metric)) {
			a.best = ti
		}
	}
}

// collectAxes lists the batch sizes, learning rates and optimizers that
// occur, sorted.
func (a *analysis) collectAxes() {
	bs := map[batchKey]bool{}
	lrs := map[float64]bool{}
	ops := map[string]bool{}
	for _, ti := range a.trials {
		if ti.HasBat {
			bs[batchKey{ti.Batch, ti.Full}] = true
		}
		if ti.HasLR {
			lrs[ti.LR] = true
		}
		ops[ti.Opt] = true
	}
	for k := range bs {
		a.batches = append(a.batches, k)
	}
	slices.SortFunc(a.batches, cmpBatch)
	for k := range lrs {
		a.lrs = append(a.lrs, k)
	}
	slices.Sort(a.lrs)
	a.opts = sortedKeys(ops)
}

// cmpPoints orders grid points best first, as results.Rank does.
func (a *analysis) cmpPoints(x, y *pointInfo) int { return cmp.Compare(x.Rank, y.Rank) }

// labelOf names a setting by its varied parameters.
func (a *analysis) labelOf(params map[string]any) string {
	var parts []string
	for _, k := range a.varied {
		v, ok := params[k]
		if !ok {
			continue
		}
		parts = append(parts, shortKey(k)+"="+fmtParam(v))
	}
	return strings.Join(parts, ", ")
}

// shortLabelOf is labelOf without key names for strings (an optimizer
// shows as "adam", not "optimizer=adam").
func (a *analysis) shortLabelOf(params map[string]any) string {
	var parts []string
	for _, k := range a.varied {
		v, ok := params[k]
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr && shortKey(k) != "batch" {
			parts = append(parts, s)
			continue
		}
		parts = append(parts, shortKey(k)+"="+fmtParam(v))
	}
	return strings.Join(parts, ", ")
}

// savedIterations estimates the iterations pruning avoided: (planned −
// done epochs) × iterations per epoch over pruned trials. unknown counts
// pruned trials whose plan does not say how many epochs they had.
func (a *analysis) savedIterations() (saved int64, unknown int) {
	for _, ti := range a.trials {
		t := ti.T
		if t.Status != framework.Pruned {
			continue
		}
		planned := ti.Planned
		if planned <= 0 {
			unknown++
			continue
		}
		ipe := 0
		switch {
		case t.Epochs > 0 && t.Iterations > 0:
			ipe = t.Iterations / t.Epochs
		case len(t.EpochSeries) > 0 && t.EpochSeries[0].Iteration > 0:
			ipe = t.EpochSeries[0].Iteration
		}
		if left := int64(planned) - int64(t.Epochs); left > 0 && ipe > 0 {
			saved += left * int64(ipe)
		} else if ipe == 0 {
			unknown++
		}
	}
	return saved, unknown
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// safeName keeps letters, digits, '-', '_' and '.' (not leading) of s,
// replacing the rest with '_', at most 80 bytes.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 80 {
			break
		}
	}
	return strings.TrimRight(b.String(), ".")
}

// curve returns a trial's loss curve of the given kind against the chosen
// x: "epoch", "iteration" or "seconds". Points are kept even when not
// finite; the drawing code skips them.
func curveOf(t *framework.TrialData, kind, x string) []xy {
	out := make([]xy, 0, len(t.EpochSeries))
	for _, e := range t.EpochSeries {
		var p xy
		switch x {
		case "iteration":
			p.X = float64(e.Iteration)
		case "seconds":
			p.X = e.Seconds
		default:
			p.X = float64(e.Epoch)
		}
		if kind == "val_loss" {
			p.Y = e.ValLoss
		} else {
			p.Y = e.TrainLoss
		}
		out = append(out, p)
	}
	return out
}

// aggPoint is the mean and std of a curve at one epoch over trials.
type aggPoint struct {
	X, Mean, Std float64
	N            int
}

// aggregate averages the curves of trials epoch by epoch, only at epochs
// where every one of them has a finite value, so the population of a mean
// never changes along its line (a trial leaving would look like
// learning). x is the median x of the trials at that epoch: the median,
// not the mean, so one repeat's slow start-up does not shift a line of
// seconds.
func aggregate(trials []*trialInfo, kind, x string) []aggPoint {
	type acc struct{ xs, ys []float64 }
	byEpoch := map[int]*acc{}
	for _, ti := range trials {
		c := curveOf(ti.T, kind, x)
		for i, p := range c {
			if !finite(p.X) || !finite(p.Y) {
				continue
			}
			ep := ti.T.EpochSeries[i].Epoch
			ac := byEpoch[ep]
			if ac == nil {
				ac = &acc{}
				byEpoch[ep] = ac
			}
			ac.xs = append(ac.xs, p.X)
			ac.ys = append(ac.ys, p.Y)
		}
	}
	eps := make([]int, 0, len(byEpoch))
	for ep, ac := range byEpoch {
		if len(ac.ys) == len(trials) {
			eps = append(eps, ep)
		}
	}
	slices.Sort(eps)
	out := make([]aggPoint, 0, len(eps))
	for _, ep := range eps {
		ac := byEpoch[ep]
		my, sy := results.MeanStd(ac.ys)
		out = append(out, aggPoint{X: median(ac.xs), Mean: my, Std: sy, N: len(ac.ys)})
	}
	return out
}
