package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// Hyperparameter importance by functional ANOVA (fANOVA: F. Hutter, H.
// Hoos and K. Leyton-Brown, "An Efficient Approach for Assessing
// Hyperparameter Importance", ICML 2014; as in Optuna's
// FanovaImportanceEvaluator). The metric, as a function of the varied
// settings, is split into a constant, one main effect per setting, one
// interaction per pair of settings and the interactions of three or more;
// each term's share is the part of the metric's variance it explains, under
// the uniform measure over the settings' values. The shares sum to 1.

// Importance methods.
const (
	// MethodExact: the completed grid points form a full grid (every
	// combination of the varied settings' values, once), so the
	// decomposition is exact, from the points' means.
	MethodExact = "exact"
	// MethodForest: anything else (random search, a grid with holes, sub
	// grids from include:): a random forest fitted to the trials, whose
	// mean prediction is decomposed over a grid of each setting's values.
	MethodForest = "random_forest"
)

// Term is one part of the decomposition: a setting's main effect (one
// key), a pair's interaction (two keys), or every interaction of three or
// more settings together (no keys).
type Term struct {
	Keys  []string
	Share float64 // of the metric's variance, in [0, 1]
}

// Kind is "main", "pair" or "higher_order".
func (t Term) Kind() string {
	switch len(t.Keys) {
	case 1:
		return "main"
	case 2:
		return "pair"
	}
	return "higher_order"
}

// Name is the term in words: "training.learning_rate",
// "training.learning_rate × training.batch_size", or "interactions of 3 or
// more settings".
func (t Term) Name() string {
	if len(t.Keys) == 0 {
		return "interactions of 3 or more settings"
	}
	return strings.Join(t.Keys, " × ")
}

// Importance is the decomposition of a metric's variance over a sweep's
// varied settings.
type Importance struct {
	Metric Metric
	// Log is true when the values were analysed as logarithms (see
	// Metric.LogScale): a loss or a time whose every value is positive.
	Log bool
	// Method is MethodExact or MethodForest; MethodText says it in words.
	Method, MethodText string
	// Factors are the varied settings, in the order they first appear.
	Factors []string
	// Terms are every main effect and pair, and the rest (the interactions
	// of three or more, when there are three or more settings), by share,
	// largest first. Their shares sum to 1.
	Terms []Term
	// Points is the number of grid points, Used how many of them the
	// decomposition uses, and Trials how many trials.
	Points, Used, Trials int
	// Excluded says which points were left out and why ("3 of 15 grid points (3 with a diverged or failed repeat)"; "" if none).
	Excluded string
}

// Treatment says how points that are not plain completed results are
// treated, for help texts and the output.
const Treatment = "only completed trials count, as in Optuna: a grid point with a diverged, failed or pruned repeat, or with no value yet, is left out"

// Forest settings (Optuna's defaults for its fANOVA evaluator: 64 trees,
// depth ≤ 64, min_samples_split 2, min_samples_leaf 1, every feature at
// every split, bootstrap samples).
const (
	forestTrees    = 64
	forestMaxDepth = 64
	forestSeed     = 1 // the forest's fixed seed: the same trials give the same importances
	// forestCells bounds the grid the forest is evaluated on; forestLevels
	// is the most levels a setting with many values gets (its quantiles).
	forestCells  = 1 << 16
	forestLevels = 16
)

// ComputeImportance decomposes the variance of m over the varied settings
// of the trials' grid points (see Importance). Only points of class
// Complete count (Treatment). It fails when nothing varies, when fewer than
// two points have a value, when the metric is the same at every point, or
// when the settings span more combinations than it evaluates.
func ComputeImportance(m Metric, trials []framework.TrialData) (*Importance, error) {
	imp, used := importancePoints(m, trials)
	switch {
	case len(imp.Factors) == 0:
		return nil, fmt.Errorf("nothing varies in this sweep (no grid or random settings): there is no importance to measure")
	case len(used) < 2:
		return nil, fmt.Errorf("%d of %d grid points have a %s from completed trials; importance needs at least 2", len(used), imp.Points, m.Name)
	}
	table, levels, err := imp.table(used)
	if err != nil {
		return nil, err
	}
	terms, err := decompose(table, levels)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", m.Name, err)
	}
	for _, t := range terms {
		var keys []string
		for _, f := range t.factors {
			keys = append(keys, imp.Factors[f])
		}
		imp.Terms = append(imp.Terms, Term{Keys: keys, Share: t.share})
	}
	slices.SortStableFunc(imp.Terms, func(a, b Term) int { return cmp.Compare(b.Share, a.Share) })
	return imp, nil
}

// importancePoints ranks the trials' points, gathers the varied settings
// (the factors) and keeps the Complete points, in point order; the
// Importance says how many it left out and why.
func importancePoints(m Metric, trials []framework.TrialData) (*Importance, []*Point) {
	ranked := Rank(m, trials)
	imp := &Importance{Metric: m, Points: len(ranked)}
	var used []*Point
	var diverged, pruned, none int
	for i := range ranked {
		p := &ranked[i]
		for _, k := range p.Plan.Varied {
			if !slices.Contains(imp.Factors, k) {
				imp.Factors = append(imp.Factors, k)
			}
		}
		switch p.Class {
		case Complete:
			used = append(used, p)
			imp.Trials += p.N()
		case PrunedClass:
			pruned++
		case Unstable, Broken:
			diverged++
		default:
			none++
		}
	}
	slices.SortStableFunc(used, func(a, b *Point) int { return cmp.Compare(a.Point, b.Point) })
	imp.Used = len(used)
	imp.Excluded = excludedText(len(ranked)-len(used), len(ranked), diverged, pruned, none)
	return imp, used
}

// table is the metric over every combination of the factors' levels, and
// the number of levels of each: the points' means when they form a full
// grid (exact), else a random forest's mean prediction. It sets the
// Importance's scale and method.
func (imp *Importance) table(used []*Point) (table []float64, levels []int, err error) {
	var all [][]float64
	for _, p := range used {
		all = append(all, p.Values)
	}
	imp.Log = imp.Metric.LogScale(all...)
	value := func(v []float64) []float64 {
		if imp.Log {
			return logs(v)
		}
		return v
	}
	fs := newFactors(imp.Factors, used)
	if cells, ok := fs.fullGrid(used); ok {
		imp.Method = MethodExact
		imp.MethodText = fmt.Sprintf("exact: the %d completed grid points form a full grid of the %d varied settings, decomposed from their means over repeats", len(used), len(imp.Factors))
		table = make([]float64, len(cells))
		for i, p := range used {
			table[cells[i]], _ = MeanStd(value(p.Values))
		}
		return table, fs.levelCounts(), nil
	}
	var x [][]float64
	var y []float64
	for _, p := range used {
		row := fs.codes(p)
		for _, v := range value(p.Values) {
			x, y = append(x, row), append(y, v)
		}
	}
	grid, err := fs.evalGrid(x)
	if err != nil {
		return nil, nil, err
	}
	table = make([]float64, grid.size())
	f := forest{trees: forestTrees, maxDepth: forestMaxDepth, seed: forestSeed}
	f.predictGrid(x, y, grid, table)
	imp.Method = MethodForest
	imp.MethodText = fmt.Sprintf("random forest (%d trees, seed %d, as Optuna's fANOVA) fitted to the %d completed trials of %d points, its mean prediction decomposed over %s",
		forestTrees, forestSeed, len(y), len(used), grid.describe(imp.Factors))
	return table, grid.counts(), nil
}

func excludedText(out, of, diverged, pruned, none int) string {
	if out == 0 {
		return ""
	}
	var why []string
	if diverged > 0 {
		why = append(why, fmt.Sprintf("%d with a diverged or failed repeat", diverged))
	}
	if pruned > 0 {
		why = append(why, fmt.Sprintf("%d pruned", pruned))
	}
	if none > 0 {
		why = append(why, fmt.Sprintf("%d with no value yet", none))
	}
	return fmt.Sprintf("%d of %d grid points (%s)", out, of, strings.Join(why, ", "))
}

// Share returns the share of the term with exactly these keys (in any
// order; none for the interactions of three or more), and whether there
// is one.
func (imp *Importance) Share(keys ...string) (float64, bool) {
	for _, t := range imp.Terms {
		if len(t.Keys) == len(keys) && !slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(t.Keys, k) }) {
			return t.Share, true
		}
	}
	return 0, false
}

// factors are the varied settings with their values' levels: each value
// (as fmt.Sprint prints it) is a level, in the order first seen over the
// points by index; a setting whose values are all numbers also has them
// as numbers, so that a forest can split on their order.
type factors struct {
	keys    []string
	level   []map[string]int // value text → level index
	numeric []bool
	num     [][]float64 // per factor, each level's number (numeric factors)
}

func newFactors(keys []string, points []*Point) *factors {
	fs := &factors{keys: keys, level: make([]map[string]int, len(keys)), numeric: make([]bool, len(keys)), num: make([][]float64, len(keys))}
	for i, k := range keys {
		fs.level[i] = map[string]int{}
		fs.numeric[i] = true
		for _, p := range points {
			v, ok := p.Plan.Params[k]
			s := valueText(v, ok)
			if _, seen := fs.level[i][s]; seen {
				continue
			}
			fs.level[i][s] = len(fs.level[i])
			f, isNum := number(v)
			fs.numeric[i] = fs.numeric[i] && ok && isNum
			fs.num[i] = append(fs.num[i], f)
		}
	}
	return fs
}

func valueText(v any, ok bool) string {
	if !ok {
		return "(unset)"
	}
	return fmt.Sprint(v)
}

// number converts a setting's value to a float64 when it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

func (fs *factors) levelOf(i int, p *Point) int {
	v, ok := p.Plan.Params[fs.keys[i]]
	return fs.level[i][valueText(v, ok)]
}

func (fs *factors) levelCounts() []int {
	out := make([]int, len(fs.keys))
	for i := range fs.keys {
		out[i] = len(fs.level[i])
	}
	return out
}

// fullGrid returns each point's cell in the table of every combination of
// levels (mixed radix, first factor slowest) when the points fill that
// table exactly once each.
func (fs *factors) fullGrid(points []*Point) ([]int, bool) {
	size := 1
	for _, n := range fs.levelCounts() {
		if size > len(points)/n+1 {
			return nil, false // far more combinations than points
		}
		size *= n
	}
	if size != len(points) {
		return nil, false
	}
	seen := make([]bool, size)
	cells := make([]int, len(points))
	for j, p := range points {
		c := 0
		for i := range fs.keys {
			c = c*len(fs.level[i]) + fs.levelOf(i, p)
		}
		if seen[c] {
			return nil, false
		}
		seen[c], cells[j] = true, c
	}
	return cells, true
}

// codes is a point's feature row for the forest: a numeric setting's
// value, else its level index.
func (fs *factors) codes(p *Point) []float64 {
	row := make([]float64, len(fs.keys))
	for i := range fs.keys {
		l := fs.levelOf(i, p)
		if fs.numeric[i] {
			row[i] = fs.num[i][l]
		} else {
			row[i] = float64(l)
		}
	}
	return row
}

// evalGrid is where the forest is evaluated: per setting, its distinct
// values if it has few, else its values' quantiles, so that the uniform
// measure over the levels follows the distribution the trials were drawn
// from (a log-uniform learning rate gets log-spaced levels).
type evalGrid struct {
	levels [][]float64
	quant  []bool // levels are quantiles
}

func (g *evalGrid) counts() []int {
	out := make([]int, len(g.levels))
	for i, l := range g.levels {
		out[i] = len(l)
	}
	return out
}

func (g *evalGrid) size() int {
	n := 1
	for _, l := range g.levels {
		n *= len(l)
	}
	return n
}

func (g *evalGrid) describe(keys []string) string {
	var parts []string
	for i, l := range g.levels {
		what := "values"
		if g.quant[i] {
			what = "quantiles"
		}
		parts = append(parts, fmt.Sprintf("%d %s of %s", len(l), what, keys[i]))
	}
	return strings.Join(parts, " × ")
}

func (fs *factors) evalGrid(x [][]float64) (*evalGrid, error) {
	d := len(fs.keys)
	g := &evalGrid{levels: make([][]float64, d), quant: make([]bool, d)}
	distinct := make([][]float64, d)
	fixed, many := 1, 0
	for i := range d {
		col := make([]float64, len(x))
		for r := range x {
			col[r] = x[r][i]
		}
		slices.Sort(col)
		distinct[i] = slices.Compact(slices.Clone(col))
		if len(distinct[i]) <= forestLevels {
			g.levels[i] = distinct[i]
			fixed *= len(distinct[i])
		} else {
			g.levels[i] = col // sorted values, reduced to quantiles below
			g.quant[i] = true
			many++
		}
		if fixed > forestCells {
			break
		}
	}
	q := forestLevels
	if many > 0 {
		q = min(forestLevels, int(math.Floor(math.Pow(float64(forestCells)/float64(fixed), 1/float64(many)))))
	}
	if fixed > forestCells || (many > 0 && q < 2) {
		return nil, fmt.Errorf("the %d varied settings span more than %d combinations of values: too many to decompose", d, forestCells)
	}
	for i := range d {
		if !g.quant[i] {
			continue
		}
		col := g.levels[i]
		lv := make([]float64, q)
		for k := range q {
			lv[k] = col[min(len(col)-1, int(float64(len(col))*(float64(k)+0.5)/float64(q)))]
		}
		g.levels[i] = slices.Compact(lv)
	}
	return g, nil
}

type termShare struct {
	factors []int
	share   float64
}

// decompose is the functional ANOVA of a full table of values over the
// combinations of levels (mixed radix, first factor slowest; levels[i]
// values of factor i), under the uniform measure: the share of the
// variance of each main effect, of each pair's interaction and, with
// three or more factors, of the rest. It fails when the values do not
// vary.
func decompose(table []float64, levels []int) ([]termShare, error) {
	d := len(levels)
	n := float64(len(table))
	f0 := 0.0
	for _, v := range table {
		f0 += v
	}
	f0 /= n
	total := 0.0
	for _, v := range table {
		total += (v - f0) * (v - f0)
	}
	total /= n
	if !(total > 1e-300) || math.IsInf(total, 0) {
		return nil, fmt.Errorf("the value is the same at every grid point: nothing to explain")
	}
	// stride[i]: cells between consecutive levels of factor i.
	stride := make([]int, d)
	s := 1
	for i := d - 1; i >= 0; i-- {
		stride[i] = s
		s *= levels[i]
	}
	levelOf := func(c, i int) int { return c / stride[i] % levels[i] }
	mains := make([][]float64, d)
	var out []termShare
	explained := 0.0
	for i := range d {
		m := make([]float64, levels[i])
		for c, v := range table {
			m[levelOf(c, i)] += v
		}
		per := n / float64(levels[i])
		v := 0.0
		for l := range m {
			m[l] = m[l]/per - f0
			v += m[l] * m[l]
		}
		mains[i] = m
		share := v / float64(levels[i]) / total
		explained += share
		out = append(out, termShare{[]int{i}, share})
	}
	for i := range d {
		for j := i + 1; j < d; j++ {
			li, lj := levels[i], levels[j]
			m := make([]float64, li*lj)
			for c, v := range table {
				m[levelOf(c, i)*lj+levelOf(c, j)] += v
			}
			per := n / float64(li*lj)
			v := 0.0
			for a := range li {
				for b := range lj {
					f := m[a*lj+b]/per - f0 - mains[i][a] - mains[j][b]
					v += f * f
				}
			}
			share := v / float64(li*lj) / total
			explained += share
			out = append(out, termShare{[]int{i, j}, share})
		}
	}
	if d >= 3 {
		out = append(out, termShare{nil, math.Max(0, 1-explained)})
	}
	return out, nil
}

// Headline says what was decomposed in one line: "importance of val_loss
// (its logarithm) over 2 varied settings, from 13 of 15 grid points (39
// trials)".
func (imp *Importance) Headline() string {
	what := imp.Metric.Name
	if imp.Log {
		what += " (its logarithm, as losses and times are compared)"
	}
	return fmt.Sprintf("importance of %s over %d varied setting(s), from %d of %d grid points (%d trials): the share of its variance each setting and pair explains",
		what, len(imp.Factors), imp.Used, imp.Points, imp.Trials)
}
