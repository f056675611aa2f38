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
	"github.com/gradsweep/gradsweep/framework/sweep"
)

// Parameter keys the report knows about.
const (
	keyLR     = "training.learning_rate"
	keyBatch  = "training.batch_size"
	keyEpochs = "training.epochs"
	keyOpt    = "optimizer.type"
)

// metricSpec is the ranking metric: its name, direction and extractor.
type metricSpec struct {
	Name   string // metric used
	Higher bool   // higher is better
	Note   string // why the metric differs from the one requested, if it does
	get    func(t *framework.TrialData) float64
}

func (m metricSpec) better(a, b float64) bool {
	if m.Higher {
		return a > b
	}
	return a < b
}

func (m metricSpec) direction() string {
	if m.Higher {
		return "higher is better"
	}
	return "lower is better"
}

var metricGetters = map[string]struct {
	higher bool
	get    func(t *framework.TrialData) float64
}{
	"val_loss":       {false, func(t *framework.TrialData) float64 { return t.Final.ValLoss }},
	"train_loss":     {false, func(t *framework.TrialData) float64 { return t.Final.TrainLoss }},
	"val_accuracy":   {true, func(t *framework.TrialData) float64 { return t.Final.ValAccuracy }},
	"train_accuracy": {true, func(t *framework.TrialData) float64 { return t.Final.TrainAccuracy }},
	"best_val_loss":  {false, func(t *framework.TrialData) float64 { return t.BestValLoss }},
	"time_to_target": {false, func(t *framework.TrialData) float64 { return t.TimeToTarget }},
}

// pickMetric resolves d.Info.Metric (val_loss by default). When a loss
// metric on the validation split is asked for but no trial has one, it
// falls back to train_loss and says so.
func pickMetric(d *framework.SweepData) metricSpec {
	name := strings.TrimSpace(d.Info.Metric)
	note := ""
	if name == "" {
		name = "val_loss"
	}
	g, ok := metricGetters[name]
	if !ok {
		note = fmt.Sprintf("unknown metric %q: ranking by val_loss", name)
		name = "val_loss"
		g = metricGetters[name]
	}
	if name == "val_loss" || name == "best_val_loss" {
		found := false
		for i := range d.Trials {
			if finite(g.get(&d.Trials[i])) {
				found = true
				break
			}
		}
		if !found {
			if note == "" {
				note = fmt.Sprintf("no trial has %s (no validation split?): ranking by train_loss", name)
			} else {
				note += "; no trial has val_loss: ranking by train_loss"
			}
			name = "train_loss"
			g = metricGetters[name]
		}
	}
	return metricSpec{Name: name, Higher: g.higher, Note: note, get: g.get}
}

// trialInfo is a trial with what the report derives from it.
type trialInfo struct {
	T    *framework.TrialData
	File string // base file name (no extension) of its page and pictures

	Metric float64 // ranking metric (NaN if the trial has none)

	LR      float64
	HasLR   bool
	Batch   int // batch size (the data size for full batch)
	Full    bool
	HasBat  bool
	Opt     string
	Label   string // the varied settings
	Short   string // the varied settings, shorter (for legends)
	DataLen int    // training samples per epoch, if known (0 otherwise)

	EpochPNG, BatchPNG string // paths relative to the report root ("" if none)
}

func (ti *trialInfo) diverged() bool { return ti.T.Status == framework.Diverged }

// pointInfo is a grid point: the repeats of one setting.
type pointInfo struct {
	Point  int
	Trials []*trialInfo // by repeat
	Label  string
	Short  string
	Values []float64 // finite metrics of the repeats
	Mean   float64
	Std    float64 // sample std (NaN with fewer than two values)
	// counts by state
	Diverged, Failed, Pruned int
	Class                    int // 0 stable, 1 some repeats diverged, 2 no result, 3 all diverged
	Rank                     int // position in sweep.Rank's order, best first
	Best                     *trialInfo
	LR                       float64
	HasLR                    bool
	Batch                    int
	Full                     bool
	HasBat                   bool
	Opt                      string
}

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

// shortKey names a dotted key in labels: training.learning_rate is "lr".
func shortKey(k string) string {
	switch k {
	case keyLR:
		return "lr"
	case keyBatch:
		return "batch"
	case keyEpochs:
		return "epochs"
	case keyOpt:
		return "optimizer"
	}
	parts := strings.Split(k, ".")
	last := parts[len(parts)-1]
	if (last == "type" || last == "name") && len(parts) > 1 {
		return parts[len(parts)-2]
	}
	return last
}

// batchOf derives a trial's batch size: the parameter, "full", or the data
// size when the trial did one iteration per epoch.
func batchOf(t *framework.TrialData) (b batchKey, dataLen int, ok bool) {
	if len(t.EpochSeries) > 0 {
		e := t.EpochSeries[0]
		if e.Epoch == 1 || e.Epoch == 0 {
			dataLen = e.Samples
		}
	}
	v, present := t.Plan.Params[keyBatch]
	if s, isStr := v.(string); isStr && strings.EqualFold(strings.TrimSpace(s), "full") {
		return batchKey{Size: dataLen, Full: true}, dataLen, true
	}
	if f, isNum := toFloat(v); present && isNum {
		n := int(f)
		if n <= 0 || (dataLen > 0 && n >= dataLen) {
			if n <= 0 {
				n = dataLen
			}
			return batchKey{Size: n, Full: true}, dataLen, true
		}
		return batchKey{Size: n}, dataLen, true
	}
	return batchKey{}, dataLen, false
}

func analyze(d *framework.SweepData) *analysis {
	a := &analysis{d: d, metric: pickMetric(d)}
	if note := sweep.IncomparableNote(a.metric.Name, d.Trials); note != "" {
		a.metric.Note = strings.TrimPrefix(a.metric.Note+"; "+note, "; ")
	}
	for i := range d.Trials {
		t := &d.Trials[i]
		ti := &trialInfo{T: t, Metric: a.metric.get(t)}
		if !finite(ti.Metric) || t.Status == framework.Diverged || t.Status == framework.Failed {
			ti.Metric = math.NaN()
		}
		if lr, ok := toFloat(t.Plan.Params[keyLR]); ok {
			ti.LR, ti.HasLR = lr, true
		}
		var bk batchKey
		bk, ti.DataLen, ti.HasBat = batchOf(t)
		ti.Batch, ti.Full = bk.Size, bk.Full
		if o, ok := t.Plan.Params[keyOpt]; ok {
			ti.Opt = fmtParam(o)
			a.hasOpt = true
		}
		a.trials = append(a.trials, ti)
	}
	slices.SortStableFunc(a.trials, func(x, y *trialInfo) int {
		return cmp.Or(cmp.Compare(x.T.Plan.Index, y.T.Plan.Index), strings.Compare(x.T.Plan.ID, y.T.Plan.ID))
	})

	// Varied keys in order of first appearance; fall back to keys whose
	// values differ across trials when no trial lists them.
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

	// File names: the ID when it is a safe name, made unique.
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

	// Curve drawn in overviews: validation loss when any trial has one.
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

	// Grid points.
	byPoint := map[int]*pointInfo{}
	var order []int
	for _, ti := range a.trials {
		p := byPoint[ti.T.Plan.Point]
		if p == nil {
			p = &pointInfo{Point: ti.T.Plan.Point, Label: ti.Label, Short: ti.Short, LR: ti.LR, HasLR: ti.HasLR,
				Batch: ti.Batch, Full: ti.Full, HasBat: ti.HasBat, Opt: ti.Opt}
			byPoint[ti.T.Plan.Point] = p
			order = append(order, ti.T.Plan.Point)
		}
		p.Trials = append(p.Trials, ti)
	}
	for _, id := range order {
		p := byPoint[id]
		slices.SortStableFunc(p.Trials, func(x, y *trialInfo) int { return cmp.Compare(x.T.Plan.Repeat, y.T.Plan.Repeat) })
		for _, ti := range p.Trials {
			switch ti.T.Status {
			case framework.Diverged:
				p.Diverged++
			case framework.Failed:
				p.Failed++
			case framework.Pruned:
				p.Pruned++
			}
			if finite(ti.Metric) {
				p.Values = append(p.Values, ti.Metric)
				if p.Best == nil || a.metric.better(ti.Metric, p.Best.Metric) {
					p.Best = ti
				}
			}
		}
		p.Mean, p.Std = meanStd(p.Values)
		switch {
		case len(p.Values) > 0 && p.Diverged == 0:
			p.Class = 0
		case len(p.Values) > 0:
			p.Class = 1
		case p.Diverged == 0:
			p.Class = 2
		default:
			p.Class = 3
		}
		a.points = append(a.points, p)
	}
	// Order and mean ± std come from sweep.Rank, so the report and
	// 'sweep best' always agree.
	for i, r := range sweep.Rank(a.metric.Name, d.Trials) {
		for _, p := range a.points {
			if p.Point == r.Point {
				p.Rank, p.Mean, p.Std = i, r.Mean, r.Std
			}
		}
	}
	slices.SortStableFunc(a.points, a.cmpPoints)
	for _, ti := range a.trials {
		if finite(ti.Metric) && (a.best == nil || a.metric.better(ti.Metric, a.best.Metric)) {
			a.best = ti
		}
	}

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
	return a
}

// cmpPoints orders grid points best first, as sweep.Rank does.
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
		if s, isStr := v.(string); isStr && k != keyBatch {
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
		planned, ok := toFloat(t.Plan.Params[keyEpochs])
		if !ok {
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

func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
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

// aggregate averages the curves of trials epoch by epoch; x is the mean x
// of the trials that have a finite value at that epoch.
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
	for ep := range byEpoch {
		eps = append(eps, ep)
	}
	slices.Sort(eps)
	out := make([]aggPoint, 0, len(eps))
	for _, ep := range eps {
		ac := byEpoch[ep]
		mx, _ := meanStd(ac.xs)
		my, sy := meanStd(ac.ys)
		out = append(out, aggPoint{X: mx, Mean: my, Std: sy, N: len(ac.ys)})
	}
	return out
}
