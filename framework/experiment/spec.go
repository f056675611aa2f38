package experiment

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/safetensors"
)

// PluginSpec is a plugin name with its options.
type PluginSpec struct {
	Type    string
	Options map[string]any
}

// DatasetSpec says where a trial's data comes from.
type DatasetSpec struct {
	Source          string // builtin, csv, mnist, synthetic
	Name            string // builtin/synthetic name, CSV path or MNIST folder
	ValidationSplit float64
	Standardize     bool
	Target          string
	Task            framework.Task
	Features        []string
	Limit           int
	N               int
	Noise           float64
	Split           string // mnist: train or t10k
}

// Key identifies the data a spec loads, so trials can share one copy.
func (d DatasetSpec) Key() string { b, _ := json.Marshal(d); return string(b) }

// TrialSpec is everything needed to train one trial.
type TrialSpec struct {
	Dataset   DatasetSpec
	Model     []framework.LayerSpec
	Loss      PluginSpec
	Optimizer PluginSpec
	Training  framework.TrainConfig
	FullBatch bool // batch_size: full
}

// Resolve turns a trial's settings (dotted keys, as in TrialPlan.Params)
// into a TrialSpec, checking types and ranges; errors name the key and line.
func (e *Experiment) Resolve(params map[string]any) (*TrialSpec, error) {
	doc := unflatten(params)
	s := &TrialSpec{}
	if err := e.resolveDataset(doc["dataset"].(map[string]any), &s.Dataset); err != nil {
		return nil, err
	}
	for _, l := range doc["model"].([]any) {
		m := l.(map[string]any)
		opts := map[string]any{}
		for k, v := range m {
			if k != "type" {
				opts[k] = v
			}
		}
		s.Model = append(s.Model, framework.LayerSpec{Type: m["type"].(string), Options: opts})
	}
	for _, sec := range []struct {
		key string
		dst *PluginSpec
	}{{"loss", &s.Loss}, {"optimizer", &s.Optimizer}} {
		m := doc[sec.key].(map[string]any)
		t, ok := m["type"].(string)
		if !ok {
			return nil, e.errAt(sec.key+".type", "must be a plugin name")
		}
		sec.dst.Type = t
		sec.dst.Options = map[string]any{}
		for k, v := range m {
			if k != "type" {
				sec.dst.Options[k] = v
			}
		}
	}
	if err := e.resolveTraining(doc["training"].(map[string]any), s); err != nil {
		return nil, err
	}
	return s, nil
}

// unflatten rebuilds the nested document from dotted keys.
func unflatten(params map[string]any) map[string]any {
	doc := map[string]any{}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(k, ".")
		cur := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = params[k]
	}
	// numbered maps (model.N.*, or a list a user wrote as a value) become
	// lists again
	for k, v := range doc {
		doc[k] = relist(v)
	}
	for _, sec := range []string{"dataset", "training", "loss", "optimizer"} {
		if _, ok := doc[sec].(map[string]any); !ok {
			doc[sec] = map[string]any{}
		}
	}
	return doc
}

// relist turns maps keyed "0".."n-1" (how Flatten writes a list) back
// into lists, at any depth.
func relist(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, x := range m {
		m[k] = relist(x)
	}
	list := make([]any, len(m))
	for k, x := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || strconv.Itoa(i) != k {
			return m
		}
		list[i] = x
	}
	if len(list) == 0 {
		return m
	}
	return list
}

func (e *Experiment) resolveDataset(m map[string]any, d *DatasetSpec) error {
	var sources []string
	for _, s := range []string{"builtin", "csv", "mnist", "synthetic"} {
		if v, ok := m[s]; ok {
			sources = append(sources, s)
			name, ok := v.(string)
			if !ok || name == "" {
				return e.errAt("dataset."+s, "must be a name or path (a string)")
			}
			d.Source, d.Name = s, name
		}
	}
	if len(sources) != 1 {
		return e.errAt("dataset", "needs exactly one of builtin, csv, mnist, synthetic (got %d)", len(sources))
	}
	switch d.Source {
	case "builtin":
		if !slices.Contains(data.BuiltinNames(), d.Name) {
			return e.errAt("dataset.builtin", "%v", framework.UnknownNameError("builtin data set", d.Name, data.BuiltinNames()))
		}
		d.Task = framework.Classification
	case "synthetic":
		if !slices.Contains(data.SyntheticNames(), d.Name) {
			return e.errAt("dataset.synthetic", "%v", framework.UnknownNameError("synthetic data set", d.Name, data.SyntheticNames()))
		}
		d.N = 1000
	case "csv", "mnist":
		if !filepath.IsAbs(d.Name) && !(d.Source == "mnist" && d.Name == "auto") {
			d.Name = filepath.Join(filepath.Dir(e.File), d.Name)
		}
		d.Task = framework.Classification
		d.Split = "train"
	}
	var err error
	num := func(key string, lo, hi float64, dst *float64) {
		if v, ok := m[key]; ok && err == nil {
			x, isNum := number(v)
			if !isNum || x < lo || x > hi || (key == "validation_split" && x >= 1) {
				rng := fmt.Sprintf("in [%v, %v)", lo, hi)
				if key != "validation_split" {
					rng = fmt.Sprintf("from %v to %v", lo, hi)
				}
				err = e.errAt("dataset."+key, "must be a number %s, got %s", rng, framework.Describe(v))
			}
			*dst = x
		}
	}
	integer := func(key string, lo int, dst *int) {
		if v, ok := m[key]; ok && err == nil {
			x, isInt := v.(int)
			if !isInt || x < lo {
				err = e.errAt("dataset."+key, "must be an integer ≥ %d, got %s", lo, framework.Describe(v))
			}
			*dst = x
		}
	}
	num("validation_split", 0, 1, &d.ValidationSplit)
	num("noise", 0, data.MaxNoise, &d.Noise)
	integer("limit", 0, &d.Limit)
	integer("n", 4, &d.N)
	if err != nil {
		return err
	}
	if d.Source == "synthetic" {
		if err := data.CheckSynthetic(d.Name, d.N); err != nil {
			return e.errAt("dataset.n", "%v", err)
		}
	}
	if v, ok := m["standardize"]; ok {
		b, ok := v.(bool)
		if !ok {
			return e.errAt("dataset.standardize", "must be true or false")
		}
		d.Standardize = b
	}
	if v, ok := m["target"]; ok {
		s, ok := v.(string)
		if !ok || d.Source != "csv" {
			return e.errAt("dataset.target", "is the target column name of a csv data set")
		}
		d.Target = s
	}
	if d.Source == "csv" && d.Target == "" {
		return e.errAt("dataset", "a csv data set needs target: <column name>")
	}
	if v, ok := m["task"]; ok {
		s, _ := v.(string)
		if d.Source != "csv" || (s != string(framework.Classification) && s != string(framework.Regression)) {
			return e.errAt("dataset.task", "is classification or regression, for csv data sets")
		}
		d.Task = framework.Task(s)
	}
	if v, ok := m["features"]; ok {
		l, ok := v.([]any)
		if !ok {
			return e.errAt("dataset.features", "must be a list of column names")
		}
		for _, f := range l {
			s, ok := f.(string)
			if !ok {
				return e.errAt("dataset.features", "must be a list of column names")
			}
			d.Features = append(d.Features, s)
		}
	}
	if v, ok := m["split"]; ok {
		s, _ := v.(string)
		if d.Source != "mnist" || (s != "train" && s != "t10k") {
			return e.errAt("dataset.split", "is train or t10k, for mnist")
		}
		d.Split = s
	}
	return nil
}

func (e *Experiment) resolveTraining(m map[string]any, s *TrialSpec) error {
	c := &s.Training
	c.Shuffle = true
	lr, ok := number(m["learning_rate"])
	if !ok || !(lr > 0) {
		return e.errAt("training.learning_rate", "must be a number > 0, got %s", framework.Describe(m["learning_rate"]))
	}
	c.LearningRate = lr
	switch b := m["batch_size"].(type) {
	case int:
		if b < 1 {
			return e.errAt("training.batch_size", "must be ≥ 1 or \"full\", got %d", b)
		}
		c.BatchSize = b
	case string:
		if b != "full" {
			return e.errAt("training.batch_size", "must be an integer or \"full\", got %s", framework.Describe(b))
		}
		s.FullBatch = true
	default:
		return e.errAt("training.batch_size", "must be an integer ≥ 1 or \"full\", got %s", framework.Describe(m["batch_size"]))
	}
	ep, ok := m["epochs"].(int)
	if !ok || ep < 1 || ep > MaxEpochs {
		return e.errAt("training.epochs", "must be an integer from 1 to %d, got %s", MaxEpochs, framework.Describe(m["epochs"]))
	}
	c.Epochs = ep
	for key, dst := range map[string]*bool{"shuffle": &c.Shuffle, "drop_last": &c.DropLast} {
		if v, ok := m[key]; ok {
			b, ok := v.(bool)
			if !ok {
				return e.errAt("training."+key, "must be true or false")
			}
			*dst = b
		}
	}
	if v, ok := m["diverge_factor"]; ok {
		x, ok := number(v)
		if !ok {
			return e.errAt("training.diverge_factor", "must be a number (negative disables the check)")
		}
		c.DivergeFactor = x
	}
	if st, ok := m["stop"].(map[string]any); ok {
		for _, k := range sortedKeys(st) {
			x, isNum := number(st[k])
			if !isNum || x < 0 {
				return e.errAt("training.stop."+k, "must be a number ≥ 0, got %s", framework.Describe(st[k]))
			}
			switch k {
			case "patience":
				if x != math.Trunc(x) || x > MaxEpochs {
					return e.errAt("training.stop.patience", "must be a whole number of epochs from 0 to %d, got %v", MaxEpochs, x)
				}
				c.Patience = int(x)
			case "min_delta":
				c.MinDelta = x
			case "target_loss":
				c.TargetLoss, c.HasTargetLoss = x, true
			case "max_seconds":
				c.MaxSeconds = x
			}
		}
	}
	return nil
}

// MaxEpochs bounds training.epochs, stop.patience and the pruner's epoch
// counts.
const MaxEpochs = 1_000_000

// LoadData loads the data a spec names and splits it (seeded by seed) into
// training and validation sets, standardising on the training split only.
func LoadData(d DatasetSpec, seed uint64) (train, val *framework.Dataset, err error) {
	var all *framework.Dataset
	switch d.Source {
	case "builtin":
		all, err = data.Builtin(d.Name)
	case "synthetic":
		all, err = data.Synthetic(d.Name, d.N, d.Noise, seed)
	case "csv":
		all, err = data.LoadCSV(d.Name, data.CSVOptions{Target: d.Target, Task: d.Task, Features: d.Features})
	case "mnist":
		dir := d.Name
		if dir == "auto" {
			if dir, err = data.MNISTDir(); err != nil {
				return nil, nil, err
			}
		}
		all, err = data.LoadMNIST(dir, d.Split, d.Limit)
	default:
		err = fmt.Errorf("unknown data source %q", d.Source)
	}
	if err != nil {
		return nil, nil, err
	}
	if d.Limit > 0 && d.Source != "mnist" && d.Limit < all.Len() {
		all, _, err = data.Split(all, 0, seed)
		if err != nil {
			return nil, nil, err
		}
		all.X.Rows = d.Limit
		all.X.Data = all.X.Data[:d.Limit*all.X.Cols]
		if all.Y != nil {
			all.Y.Rows = d.Limit
			all.Y.Data = all.Y.Data[:d.Limit*all.Y.Cols]
		}
		if all.Labels != nil {
			all.Labels = all.Labels[:d.Limit]
		}
	}
	train = all
	if d.ValidationSplit > 0 {
		if train, val, err = data.Split(all, d.ValidationSplit, seed); err != nil {
			return nil, nil, err
		}
	}
	if d.Standardize {
		s := data.FitStandardizer(train)
		s.Apply(train)
		if val != nil {
			s.Apply(val)
		}
	}
	return train, val, nil
}

// LoadInit reads the init_from weights: a regular file in safetensors
// format whose every weight is a finite number. Errors carry init_from's
// line, and a non-finite weight names its tensor.
func (e *Experiment) LoadInit() (map[string]framework.Tensor, error) {
	f, err := data.OpenRegular(e.InitFrom)
	if err != nil {
		return nil, e.errAt("init_from", "%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, e.errAt("init_from", "%v", err)
	}
	ts, _, err := safetensors.Read(sizedReader{bufio.NewReaderSize(f, 1<<16), int(st.Size())})
	if err != nil {
		return nil, e.errAt("init_from", "%v (reading %s)", err, e.InitFrom)
	}
	out := make(map[string]framework.Tensor, len(ts))
	for _, k := range sortedKeys(ts) {
		t := ts[k]
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, e.errAt("init_from", "%s: tensor %q holds %v at index %d: initial weights must be finite", e.InitFrom, k, v, i)
			}
		}
		out[k] = framework.Tensor{Shape: t.Shape, Data: t.Data}
	}
	return out, nil
}

// sizedReader tells safetensors.Read how many bytes the file holds, so it
// checks the header against it.
type sizedReader struct {
	io.Reader
	n int
}

func (r sizedReader) Len() int { return r.n }
