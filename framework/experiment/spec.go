package experiment

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"

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
	Source string               // the data source plugin's name: builtin, csv, mnist, synthetic, ...
	From   framework.DataSource // the source with its options
	framework.DataOptions
	Dir string // the experiment file's folder, where relative paths start
}

// Key identifies the data a spec loads, so trials can share one copy.
func (d DatasetSpec) Key() string { b, _ := json.Marshal(d); return string(b) }

// env is what the source needs beside its options.
func (d DatasetSpec) env(seed uint64) framework.DataEnv {
	return framework.DataEnv{Dir: d.Dir, Seed: seed, Limit: d.Limit}
}

// Files lists the files the data is read from, in reading order (none for
// built-in or generated data).
func (d DatasetSpec) Files(seed uint64) ([]string, error) {
	if f, ok := d.From.(framework.FileSource); ok {
		return f.Files(d.env(seed))
	}
	return nil, nil
}

// TrialSpec is everything needed to train one trial.
type TrialSpec struct {
	Dataset   DatasetSpec
	Model     []framework.LayerSpec
	Loss      PluginSpec
	Optimizer PluginSpec
	Training  framework.TrainConfig
}

// ResolvePlan turns a trial's settings into a TrialSpec: the base document
// with the trial's varied settings applied, each section decoded by the
// schema. An error names the key and its line, and the grid, random or
// include settings behind it (see Varied).
func (e *Experiment) ResolvePlan(plan framework.TrialPlan) (*TrialSpec, error) {
	point := Point{}
	for _, k := range plan.Varied {
		point[k] = plan.Setting(k)
	}
	s, err := e.resolve(point)
	var ee *Error
	if errors.As(err, &ee) {
		note, line := e.Varied(ee.Key, plan.Params, plan.Varied)
		ee.Msg += note
		if ee.Line == 0 {
			ee.Line = line
		}
	}
	return s, err
}

// resolve decodes the base document with a point's settings applied.
func (e *Experiment) resolve(p Point) (*TrialSpec, error) {
	doc, err := e.Apply(p)
	if err != nil {
		return nil, err
	}
	return e.decodeSections(doc)
}

// decodeSections decodes the sweepable sections of a document whose shape
// checkBase has checked.
func (e *Experiment) decodeSections(doc map[string]any) (*TrialSpec, error) {
	s := &TrialSpec{}
	var err error
	if s.Dataset, err = e.decodeDataset(doc["dataset"].(map[string]any)); err != nil {
		return nil, err
	}
	sections := []struct {
		key string
		dst *PluginSpec
	}{{"loss", &s.Loss}, {"optimizer", &s.Optimizer}}
	if ms, ok := s.Dataset.From.(framework.ModelSource); ok {
		layers, loss := ms.Model() // the placeholders of fillPointModel are not decoded
		s.Model, s.Loss = layers, PluginSpec(loss)
		sections = sections[1:]
	} else {
		for _, l := range doc["model"].([]any) {
			s.Model = append(s.Model, framework.LayerSpec(pluginSpec(l.(map[string]any))))
		}
	}
	for _, sec := range sections {
		m := doc[sec.key].(map[string]any)
		if _, ok := m["type"].(string); !ok {
			return nil, e.errAt(sec.key+".type", "must be a plugin name, got %s", framework.Describe(m["type"]))
		}
		*sec.dst = pluginSpec(m)
	}
	if s.Training, err = e.decodeTraining(doc["training"].(map[string]any)); err != nil {
		return nil, err
	}
	return s, nil
}

// pluginSpec splits {type: NAME, options...} into a PluginSpec.
func pluginSpec(m map[string]any) PluginSpec {
	p := PluginSpec{Options: map[string]any{}}
	p.Type, _ = m["type"].(string)
	for k, v := range m {
		if k != "type" {
			p.Options[k] = v
		}
	}
	return p
}

// MaxEpochs bounds training.epochs, stop.patience and the pruner's epoch
// counts.
const MaxEpochs = 1_000_000

// LoadData loads the data a spec names, keeps its first Limit samples, and
// splits it (seeded by seed) into training and validation sets,
// standardising on the training split only.
func LoadData(d DatasetSpec, seed uint64) (train, val *framework.Dataset, err error) {
	all, err := d.From.Load(d.env(seed))
	if err != nil {
		return nil, nil, err
	}
	if d.Limit > 0 && d.Limit < all.Len() { // a source that reads only Limit samples itself has none more
		all = data.FirstRows(all, d.Limit)
	}
	// The split reorders the rows in place and hands out views of them:
	// the data is held once (README: Limits).
	train = all
	if d.ValidationSplit > 0 {
		if train, val, err = data.SplitInPlace(all, d.ValidationSplit, seed); err != nil {
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
