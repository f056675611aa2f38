package experiment

import (
	"crypto/sha256"
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

// Keys the training and dataset sections accept (plugin sections accept
// any option; the registry checks them).
var (
	trainingKeys = []string{"learning_rate", "batch_size", "epochs", "shuffle", "drop_last", "stop", "diverge_factor"}
	stopKeys     = []string{"patience", "min_delta", "target_loss", "max_seconds"}
	datasetKeys  = []string{"builtin", "csv", "mnist", "synthetic", "validation_split", "standardize", "target", "task",
		"features", "limit", "n", "noise", "split"}
)

func (e *Experiment) checkBase(base map[string]any) error {
	for _, sec := range []string{"dataset", "training", "loss", "optimizer"} {
		if _, ok := base[sec].(map[string]any); !ok {
			return e.errAt(sec, "must be a mapping, e.g. %s", example(sec))
		}
	}
	for _, k := range sortedKeys(base["dataset"].(map[string]any)) {
		if !slices.Contains(datasetKeys, k) {
			return e.errAt("dataset."+k, "%v", framework.UnknownNameError("dataset key", k, datasetKeys))
		}
	}
	tr := base["training"].(map[string]any)
	for _, k := range sortedKeys(tr) {
		if !slices.Contains(trainingKeys, k) {
			return e.errAt("training."+k, "%v", framework.UnknownNameError("training key", k, trainingKeys))
		}
	}
	if st, ok := tr["stop"]; ok {
		m, ok := st.(map[string]any)
		if !ok {
			return e.errAt("training.stop", "must be a mapping, e.g. {patience: 5, min_delta: 0.001}")
		}
		for _, k := range sortedKeys(m) {
			if !slices.Contains(stopKeys, k) {
				return e.errAt("training.stop."+k, "%v", framework.UnknownNameError("stop key", k, stopKeys))
			}
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

// checkPath reports whether a dotted path may be set: it must name a
// setting of the base document or an option of a plugin section.
func (e *Experiment) checkPath(where, path string) error {
	parts := strings.Split(path, ".")
	bad := func(format string, args ...any) error {
		return e.errAt(where, "path %q names nothing: %s", path, fmt.Sprintf(format, args...))
	}
	sections := []string{"dataset", "model", "loss", "optimizer", "training"}
	if !slices.Contains(sections, parts[0]) {
		return bad("%v", framework.UnknownNameError("section", parts[0], sections))
	}
	switch parts[0] {
	case "loss", "optimizer":
		if len(parts) != 2 {
			return bad("use %s.type or %s.<option>", parts[0], parts[0])
		}
	case "dataset":
		if len(parts) != 2 || !slices.Contains(datasetKeys, parts[1]) {
			return bad("%v", framework.UnknownNameError("dataset key", parts[len(parts)-1], datasetKeys))
		}
	case "training":
		if len(parts) == 2 && slices.Contains(trainingKeys, parts[1]) && parts[1] != "stop" {
			return nil
		}
		if len(parts) == 3 && parts[1] == "stop" && slices.Contains(stopKeys, parts[2]) {
			return nil
		}
		return bad("%v", framework.UnknownNameError("training key", parts[len(parts)-1], append(trainingKeys[:len(trainingKeys):len(trainingKeys)], stopKeys...)))
	case "model":
		n := len(e.Base["model"].([]any))
		if len(parts) != 3 {
			return bad("use model.<layer index>.<option>, e.g. model.0.units")
		}
		i, err := strconv.Atoi(parts[1])
		if err != nil || i < 0 || i >= n {
			return bad("the model has layers 0 to %d", n-1)
		}
	}
	return nil
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
		for _, path := range e.inFileOrder("grid", m) {
			where := "grid." + path
			if err := e.checkPath(where, path); err != nil {
				return err
			}
			vals, ok := m[path].([]any)
			if !ok || len(vals) == 0 {
				return e.errAt(where, "needs a non-empty list of values")
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
		for _, path := range e.inFileOrder("random", m) {
			if path == "trials" {
				continue
			}
			where := "random." + path
			if err := e.checkPath(where, path); err != nil {
				return err
			}
			d, err := e.distribution(where, path, m[path])
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
			for _, path := range sortedKeys(m) {
				if err := e.checkPath(where+"."+path, path); err != nil {
					return err
				}
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
			return Distribution{}, e.errAt(where+"."+kind, "needs numbers low < high, got %v", list)
		}
		if kind == "log_uniform" && lo <= 0 {
			return Distribution{}, e.errAt(where+"."+kind, "log_uniform needs low > 0, got %v", lo)
		}
		d.Low, d.High = lo, hi
		return d, nil
	}
	panic("unreachable")
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (e *Experiment) loadPruner(doc map[string]any) error {
	v, ok := doc["pruner"]
	if !ok {
		return nil
	}
	if s, ok := v.(string); ok {
		v = map[string]any{"type": s}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return e.errAt("pruner", "must be median, asha, or a mapping {type: asha, min_epochs: 1, eta: 3}")
	}
	p := &Pruner{Warmup: 1, Interval: 1, StartupTrials: 5, MinEpochs: 1, Eta: 3}
	allowed := map[string]*int{"warmup_epochs": &p.Warmup, "interval": &p.Interval, "startup_trials": &p.StartupTrials,
		"min_epochs": &p.MinEpochs, "eta": &p.Eta}
	names := []string{"type", "warmup_epochs", "interval", "startup_trials", "min_epochs", "eta"}
	for _, k := range sortedKeys(m) {
		if k == "type" {
			continue
		}
		dst, ok := allowed[k]
		if !ok {
			return e.errAt("pruner."+k, "%v", framework.UnknownNameError("pruner key", k, names))
		}
		n, ok := m[k].(int)
		if !ok || n < 0 || (k == "eta" && n < 2) || ((k == "interval" || k == "min_epochs") && n < 1) {
			return e.errAt("pruner."+k, "out of range: %v", m[k])
		}
		*dst = n
	}
	types := []string{"median", "asha", "successive_halving"}
	t, _ := m["type"].(string)
	if !slices.Contains(types, t) {
		return e.errAt("pruner.type", "%v", framework.UnknownNameError("pruner", fmt.Sprint(m["type"]), types))
	}
	if t == "successive_halving" {
		t = "asha"
	}
	p.Type = t
	e.Pruner = p
	return nil
}

// Point is one setting of the varied paths.
type Point map[string]any

// Points expands grid × random samples, then include entries, then drops
// excluded points and duplicates, in a fixed order: grid axes in file
// order with the last axis varying fastest.
func (e *Experiment) Points() []Point {
	var pts []Point
	grid := expand(e.Grid)
	if e.RandomN > 0 {
		for _, g := range grid {
			for k := 0; k < e.RandomN; k++ {
				p := Point{}
				for key, v := range g {
					p[key] = v
				}
				rng := rand.New(rand.NewPCG(e.Seed, 0x5eed0000+uint64(k)))
				for _, d := range e.Random {
					p[d.Path] = d.sample(rng)
				}
				pts = append(pts, p)
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
				hit = hit || fmt.Sprint(w) == fmt.Sprint(got)
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
	return len(e.Points()) * e.Repeats
}

// Plans expands the experiment into its trials: every point × repeat, in
// the fixed order, with stable ids and derived seeds.
func (e *Experiment) Plans() ([]framework.TrialPlan, error) {
	pts := e.Points()
	plans := make([]framework.TrialPlan, 0, len(pts)*e.Repeats)
	for pi, p := range pts {
		doc, err := e.Apply(p)
		if err != nil {
			return nil, err
		}
		params := Flatten(doc)
		varied := sortedKeys(p)
		for r := 0; r < e.Repeats; r++ {
			idx := len(plans)
			h := sha256.Sum256([]byte(e.Name + "\x00" + canonical(p) + "\x00" + strconv.Itoa(r)))
			stream := uint64(idx)
			if e.PairedSeeds {
				stream = uint64(r)
			}
			plans = append(plans, framework.TrialPlan{
				ID: fmt.Sprintf("%x", h[:6]), Sweep: e.Name, Index: idx, Point: pi, Repeat: r,
				Seed: DeriveSeed(e.Seed, stream), Params: params, Varied: varied,
			})
		}
	}
	return plans, nil
}

// DeriveSeed mixes the sweep seed with a stream number (the trial index, or
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
// becomes {"training.epochs": 3}; list elements are numbered
// ("model.0.units").
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
			if prefix == "dataset.features" {
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
