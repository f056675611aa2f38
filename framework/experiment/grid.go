package experiment

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// checkBase checks the shape of the base document: the sections are
// mappings, loss and optimizer have a type, model is a list of layers with
// types. Their keys are checked by the schema's decoders.
func (e *Experiment) checkBase(base map[string]any) error {
	for _, sec := range []string{"dataset", "training", "loss", "optimizer"} {
		if _, ok := base[sec].(map[string]any); !ok {
			return e.errAt(sec, "must be a mapping, e.g. %s", example(sec))
		}
	}
	for _, sec := range []string{"loss", "optimizer"} {
		if _, ok := base[sec].(map[string]any)["type"].(string); !ok {
			return e.errAt(sec, "needs a type, e.g. %s", example(sec))
		}
	}
	model, ok := base["model"].([]any)
	if !ok || len(model) == 0 {
		return e.errAt("model", "must be a non-empty list of layers, e.g. [{type: dense, units: 16}, {type: relu}, {type: dense, units: 3}]")
	}
	for i, l := range model {
		m, ok := l.(map[string]any)
		if !ok {
			return e.errAt("model."+strconv.Itoa(i), "a layer must be a mapping with a type, e.g. {type: relu}")
		}
		if _, ok := m["type"].(string); !ok {
			return e.errAt("model."+strconv.Itoa(i), "a layer needs a type, e.g. {type: dense, units: 16}")
		}
	}
	return nil
}

func example(sec string) string {
	switch sec {
	case "dataset":
		return "{builtin: iris, validation_split: 0.2}"
	case "training":
		return "{learning_rate: 0.1, batch_size: 16, epochs: 20}"
	case "loss":
		return "cross_entropy or {type: huber, delta: 1.0}"
	}
	return "{type: adam, beta1: 0.9}"
}

// canonicalPaths checks the paths of one mapping (grid, random, or an
// include or exclude item) and returns it keyed by canonical paths. Two
// spellings of one path (model.0.units and model.00.units) are an error
// at the second; the canonical key gets the line of the spelling used.
func (e *Experiment) canonicalPaths(section string, m map[string]any, skip ...string) (map[string]any, error) {
	out := make(map[string]any, len(m))
	spelled := map[string]string{}
	for _, path := range e.inFileOrder(section, m) {
		if slices.Contains(skip, path) {
			out[path] = m[path]
			continue
		}
		where := section + "." + path
		canon, err := e.checkPath(where, path)
		if err != nil {
			return nil, err
		}
		if first, dup := spelled[canon]; dup {
			return nil, e.errAt(where, "%q and %q name the same setting (line %d)", first, path, e.Line(section+"."+first))
		}
		spelled[canon] = path
		if canon != path {
			e.lines[section+"."+canon] = e.Line(where)
		}
		out[canon] = m[path]
	}
	return out, nil
}

// valuesOf reads a grid/include value: a list, or a single value.
func valuesOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func (e *Experiment) loadGrid(doc map[string]any) error {
	if g, ok := doc["grid"]; ok {
		m, ok := g.(map[string]any)
		if !ok || len(m) == 0 {
			return e.errAt("grid", "must be a non-empty mapping of dotted paths to lists of values, e.g. training.learning_rate: [0.01, 0.1]")
		}
		m, err := e.canonicalPaths("grid", m)
		if err != nil {
			return err
		}
		for _, path := range e.inFileOrder("grid", m) {
			vals, ok := m[path].([]any)
			if !ok || len(vals) == 0 {
				return e.errAt("grid."+path, "needs a non-empty list of values, got %s", framework.Describe(m[path]))
			}
			e.Grid = append(e.Grid, Axis{Path: path, Values: vals})
		}
	}
	if r, ok := doc["random"]; ok {
		m, ok := r.(map[string]any)
		if !ok {
			return e.errAt("random", "must be a mapping: {trials: 20, training.learning_rate: {log_uniform: [0.0001, 1]}}")
		}
		n, ok := m["trials"].(int)
		if !ok || n < 1 || n > 100000 {
			return e.errAt("random.trials", "must be an integer from 1 to 100000")
		}
		e.RandomN = n
		m, err := e.canonicalPaths("random", m, "trials")
		if err != nil {
			return err
		}
		for _, path := range e.inFileOrder("random", m) {
			if path == "trials" {
				continue
			}
			d, err := e.distribution("random."+path, path, m[path])
			if err != nil {
				return err
			}
			e.Random = append(e.Random, d)
		}
		if len(e.Random) == 0 {
			return e.errAt("random", "names no path to sample")
		}
	}
	for _, sec := range []string{"include", "exclude"} {
		v, ok := doc[sec]
		if !ok {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return e.errAt(sec, "must be a list of mappings of dotted paths to values")
		}
		for i, item := range list {
			where := sec + "." + strconv.Itoa(i)
			m, ok := item.(map[string]any)
			if !ok || len(m) == 0 {
				return e.errAt(where, "must be a non-empty mapping of dotted paths to values")
			}
			m, err := e.canonicalPaths(where, m)
			if err != nil {
				return err
			}
			for _, path := range sortedKeys(m) {
				if l, isList := m[path].([]any); isList && len(l) == 0 {
					return e.errAt(where+"."+path, "empty list of values")
				}
			}
			if sec == "include" {
				e.Include = append(e.Include, m)
			} else {
				e.Exclude = append(e.Exclude, m)
			}
		}
	}
	return nil
}

// VariedLine is the line where a trial's varied path got its value: the
// grid's, random's or tpe's line for the path, or that of the first
// include item that sets it to value; 0 if none. random says the value was
// drawn by random or proposed by tpe.
func (e *Experiment) VariedLine(path string, value any) (line int, random bool) {
	for _, a := range e.Grid {
		if a.Path == path && slices.ContainsFunc(a.Values, func(v any) bool { return same(v, value) }) {
			return e.Line("grid." + path), false
		}
	}
	for _, d := range e.Random {
		if d.Path == path {
			return e.Line("random." + path), true
		}
	}
	if e.TPE != nil {
		for _, d := range e.TPE.Space {
			if d.Path == path {
				return e.Line("tpe." + path), true
			}
		}
	}
	for i, inc := range e.Include {
		if v, ok := inc[path]; ok && slices.ContainsFunc(valuesOf(v), func(v any) bool { return same(v, value) }) {
			return e.Line("include." + strconv.Itoa(i) + "." + path), false
		}
	}
	return 0, false
}

// Varied names the settings of a trial's point that bear on a problem at
// key (a dotted path such as "training.batch_size", "model.0" or
// "dataset"): those the grid, random or include set at key, under it or
// above it. params and varied are the trial's TrialPlan.Params and
// TrialPlan.Varied. note holds one " (with training.batch_size = 500, from
// line 17)" per setting (" (with training.epochs = 2417358 drawn by random,
// from line 7)" for a sampled value); line is the first setting's line (0
// if none). Every "(with …)" in an error message is written here.
func (e *Experiment) Varied(key string, params map[string]any, varied []string) (note string, line int) {
	for _, v := range varied {
		if v != key && !strings.HasPrefix(v, key+".") && !strings.HasPrefix(key, v+".") {
			continue
		}
		value := framework.TrialPlan{Params: params}.Setting(v)
		vl, random := e.VariedLine(v, value)
		note += fmt.Sprintf(" (with %s = %s", v, framework.Flow(value))
		switch {
		case random && e.TPE != nil:
			note += " proposed by tpe"
		case random:
			note += " drawn by random"
		}
		if vl > 0 {
			note += fmt.Sprintf(", from line %d", vl)
		}
		note += ")"
		if line == 0 {
			line = vl
		}
	}
	return note, line
}

// same compares two settings by value and type: the string "16" is not
// the integer 16, but 16 and 16.0 are the same number.
func same(a, b any) bool { return canonical(a) == canonical(b) }

// inFileOrder returns the keys of section m in the order they appear in
// the file (which fixes the grid's expansion order).
func (e *Experiment) inFileOrder(section string, m map[string]any) []string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return e.lines[section+"."+keys[i]] < e.lines[section+"."+keys[j]] })
	return keys
}

func (e *Experiment) distribution(where, path string, v any) (Distribution, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return Distribution{}, e.errAt(where, "must be one of {log_uniform: [low, high]}, {uniform: [low, high]}, {int_uniform: [low, high]}, {choice: [a, b, ...]}")
	}
	kinds := []string{"log_uniform", "uniform", "int_uniform", "choice"}
	for kind, arg := range m {
		if !slices.Contains(kinds, kind) {
			return Distribution{}, e.errAt(where+"."+kind, "%v", framework.UnknownNameError("distribution", kind, kinds))
		}
		list, ok := arg.([]any)
		if !ok || len(list) == 0 {
			return Distribution{}, e.errAt(where+"."+kind, "needs a list")
		}
		d := Distribution{Path: path, Kind: kind}
		if kind == "choice" {
			d.Choice = list
			return d, nil
		}
		if len(list) != 2 {
			return Distribution{}, e.errAt(where+"."+kind, "needs [low, high]")
		}
		lo, ok1 := number(list[0])
		hi, ok2 := number(list[1])
		if !ok1 || !ok2 || !(lo < hi) {
			return Distribution{}, e.errAt(where+"."+kind, "needs numbers low < high, got [%s, %s]", framework.Describe(list[0]), framework.Describe(list[1]))
		}
		if kind == "log_uniform" && lo <= 0 {
			return Distribution{}, e.errAt(where+"."+kind, "log_uniform needs low > 0, got %v", lo)
		}
		if kind == "uniform" && math.IsInf(hi-lo, 0) {
			return Distribution{}, e.errAt(where+"."+kind, "the range [%v, %v] is too wide to sample", lo, hi)
		}
		if kind == "int_uniform" && (lo != math.Trunc(lo) || hi != math.Trunc(hi) || math.Abs(lo) > maxInt || math.Abs(hi) > maxInt) {
			return Distribution{}, e.errAt(where+"."+kind, "needs whole numbers from -%d to %d, got [%v, %v]", int64(maxInt), int64(maxInt), lo, hi)
		}
		d.Low, d.High = lo, hi
		return d, nil
	}
	panic("unreachable")
}

// maxInt bounds int_uniform's ends: whole numbers a float64 holds exactly,
// whose difference an int holds.
const maxInt = 1 << 53

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// loadPruner decodes the pruner: a name or {type: NAME, options...}, a
// plugin of framework.Pruners.
func (e *Experiment) loadPruner(doc map[string]any) error {
	v, ok := doc["pruner"]
	if !ok {
		return nil
	}
	v = normalizePlugin("pruner", v)
	m, ok := v.(map[string]any)
	if !ok {
		return e.errAt("pruner", "must be a pruner's name or a mapping, e.g. {type: asha, min_epochs: 1, eta: 3}")
	}
	spec := pluginSpec(m)
	p, err := framework.Pruners.Lookup(spec.Type)
	if err != nil {
		return e.errAt("pruner.type", "%v", framework.UnknownNameError("pruner", fmt.Sprint(m["type"]), framework.Pruners.Names()))
	}
	pr := p.New()
	if err := framework.DecodeOptions(pr, spec.Options); err != nil {
		return e.optionErr("pruner", "", nil, err)
	}
	e.Pruner, e.PrunerName = pr, spec.Type
	return nil
}

// Point is one setting of the varied paths.
type Point map[string]any

// Points expands grid × random samples, then include entries, then drops
// excluded points and duplicates, in a fixed order: grid axes in file
// order with the last axis varying fastest. For a tpe sweep they are the
// startup settings, the ones known before any trial ran (see NextBatch).
func (e *Experiment) Points() []Point {
	if e.TPE != nil {
		return e.TPE.startupPoints(e.Seed)
	}
	var pts []Point
	grid := expand(e.Grid)
	if e.RandomN > 0 {
		for _, g := range grid {
			for k := 0; k < e.RandomN; k++ {
				p := Point{}
				for key, v := range g {
					p[key] = v
				}
				pts = append(pts, samplePoint(p, e.Random, e.Seed, k))
			}
		}
	} else {
		pts = grid
	}
	for _, inc := range e.Include {
		var axes []Axis
		for _, path := range sortedKeys(inc) {
			axes = append(axes, Axis{Path: path, Values: valuesOf(inc[path])})
		}
		pts = append(pts, expand(axes)...)
	}
	seen := map[string]bool{}
	out := pts[:0]
	for _, p := range pts {
		if e.excluded(p) {
			continue
		}
		key := canonical(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

func (d Distribution) sample(rng *rand.Rand) any {
	switch d.Kind {
	case "choice":
		return d.Choice[rng.IntN(len(d.Choice))]
	case "log_uniform":
		return math.Exp(math.Log(d.Low) + rng.Float64()*(math.Log(d.High)-math.Log(d.Low)))
	case "int_uniform":
		return int(d.Low) + rng.IntN(int(d.High)-int(d.Low)+1)
	}
	return d.Low + rng.Float64()*(d.High-d.Low)
}

func expand(axes []Axis) []Point {
	pts := []Point{{}}
	for _, a := range axes {
		var next []Point
		for _, p := range pts {
			for _, v := range a.Values {
				q := Point{}
				for k, x := range p {
					q[k] = x
				}
				q[a.Path] = v
				next = append(next, q)
			}
		}
		pts = next
	}
	return pts
}

func (e *Experiment) excluded(p Point) bool {
	for _, ex := range e.Exclude {
		match := true
		for path, want := range ex {
			got, ok := p[path]
			if !ok {
				got = lookup(e.Base, path)
			}
			hit := false
			for _, w := range valuesOf(want) {
				hit = hit || same(w, got)
			}
			match = match && hit
		}
		if match {
			return true
		}
	}
	return false
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// PlannedTrials is how many trials a stored experiment document has (0
// when it no longer parses).
func PlannedTrials(config string) int {
	e, err := Parse([]byte(config), "stored experiment")
	if err != nil {
		return 0
	}
	return e.Planned()
}

// Planned is how many trials the sweep runs: points × repeats, or for a
// tpe sweep tpe.trials × repeats (most are proposed as it runs).
func (e *Experiment) Planned() int {
	if e.TPE != nil {
		return e.TPE.Trials * e.Repeats
	}
	return len(e.Points()) * e.Repeats
}

// Plans expands the experiment into its trials: every point × repeat, in
// the fixed order, with stable ids and derived seeds. For a tpe sweep they
// are the startup settings' trials; AppendPlans adds the proposed ones.
func (e *Experiment) Plans() ([]framework.TrialPlan, error) {
	pts := e.Points()
	if len(pts) == 0 && e.TPE == nil {
		return nil, e.errAt("exclude", "exclude removes every grid point: nothing would run")
	}
	return e.AppendPlans(make([]framework.TrialPlan, 0, len(pts)*e.Repeats), pts)
}

// AppendPlans appends the trials of points pts (each × repeats) to plans,
// the trials of the points before them: point and trial indices go on
// from plans. A trial's id is a hash of the sweep's name, its point and
// its repeat; a point that a tpe sweep samples twice (possible with
// integers and choices) gets its point index in the hash too, so ids stay
// unique and stable. Its seed derives from the sweep seed and, likewise,
// its setting and repeat (settingStream), or its repeat alone with
// paired_seeds: never from its index, so adding trials to a sweep (more
// grid values, more repeats) leaves every other trial's seed as it was.
func (e *Experiment) AppendPlans(plans []framework.TrialPlan, pts []Point) ([]framework.TrialPlan, error) {
	first := 0
	if n := len(plans); n > 0 {
		first = plans[n-1].Point + 1
	}
	var ids map[string]bool
	if e.TPE != nil {
		ids = make(map[string]bool, len(plans))
		for _, pl := range plans {
			ids[pl.ID] = true
		}
	}
	for i, p := range pts {
		pi := first + i
		doc, err := e.Apply(p)
		if err != nil {
			return nil, err
		}
		params := Flatten(doc)
		varied := sortedKeys(p)
		setting := canonical(p) + "\x00"
		if h := sha256.Sum256([]byte(e.Name + "\x00" + setting + "0")); ids[fmt.Sprintf("%x", h[:6])] {
			setting += strconv.Itoa(pi) + "\x00"
		}
		for r := 0; r < e.Repeats; r++ {
			idx := len(plans)
			h := sha256.Sum256([]byte(e.Name + "\x00" + setting + strconv.Itoa(r)))
			if ids != nil {
				ids[fmt.Sprintf("%x", h[:6])] = true
			}
			stream := uint64(r)
			if !e.PairedSeeds {
				stream = settingStream(setting + strconv.Itoa(r))
			}
			plans = append(plans, framework.TrialPlan{
				ID: fmt.Sprintf("%x", h[:6]), Sweep: e.Name, Index: idx, Point: pi, Repeat: r,
				Seed: DeriveSeed(e.Seed, stream), Params: params, Varied: varied,
			})
		}
	}
	return plans, nil
}

// settingStream is the seed stream of a trial that is not paired: the
// first 8 bytes of SHA-256 of its setting and repeat (not of the sweep's
// name, nor of its place in the sweep), so a trial keeps its seed when a
// sweep grows around it or is renamed.
func settingStream(settingAndRepeat string) uint64 {
	h := sha256.Sum256([]byte("seed\x00" + settingAndRepeat))
	return binary.LittleEndian.Uint64(h[:8])
}

// DeriveSeed mixes the sweep seed with a stream number (settingStream, or
// the repeat with paired seeds) by SplitMix64's finaliser, so neighbouring
// trials get unrelated seeds. Seeds keep 53 bits, so they survive JSON
// (float64) and SQLite (int64) exactly.
func DeriveSeed(seed, stream uint64) uint64 {
	z := seed ^ (stream+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z ^ (z >> 31)) >> 11
}

// Apply returns a copy of the base document with the point's paths set.
func (e *Experiment) Apply(p Point) (map[string]any, error) {
	doc := deepCopy(e.Base).(map[string]any)
	for _, path := range sortedKeys(p) {
		if err := setPath(doc, path, p[path]); err != nil {
			return nil, e.errAt(path, "%v", err)
		}
	}
	return doc, nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = deepCopy(v)
		}
		return l
	}
	return v
}

func setPath(doc map[string]any, path string, v any) error {
	parts := strings.Split(path, ".")
	var cur any = doc
	for i, part := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[part] = deepCopy(v)
				return nil
			}
			next, ok := c[part]
			if !ok {
				next = map[string]any{}
				c[part] = next
			}
			cur = next
		case []any:
			j, err := strconv.Atoi(part)
			if err != nil || j < 0 || j >= len(c) {
				return fmt.Errorf("no list element %q", part)
			}
			if last {
				c[j] = deepCopy(v)
				return nil
			}
			cur = c[j]
		default:
			return fmt.Errorf("%q is not a mapping", strings.Join(parts[:i], "."))
		}
	}
	return nil
}

func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			j, err := strconv.Atoi(part)
			if err != nil || j < 0 || j >= len(c) {
				return nil
			}
			cur = c[j]
		default:
			return nil
		}
	}
	return cur
}

// Flatten turns a document into dotted keys: {"training": {"epochs": 3}}
// becomes {"training.epochs": 3}; the layers are numbered ("model.0.units");
// any other list is one value (dataset.features).
func Flatten(doc map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(join(prefix, k), c)
			}
		case []any:
			if prefix != "model" { // a list of values is one setting; model is a list of layers
				out[prefix] = x
				return
			}
			for i, c := range x {
				walk(join(prefix, strconv.Itoa(i)), c)
			}
		default:
			out[prefix] = x
		}
	}
	walk("", doc)
	return out
}
