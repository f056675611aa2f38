package experiment

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// The schema of an experiment file is a set of tagged structs decoded by
// framework.DecodeOptions, like a plugin's options (defaults, ranges,
// enumerations and docs in the tags):
//
//   - Settings: the top-level keys (name, seed, repeats, metric, record, ...);
//   - framework.TrainConfig: the training section, with training.stop;
//   - framework.DataOptions plus the options of one data source plugin: the dataset;
//   - plugin specs (a type and its options, checked by the plugin's
//     registry): model (a list of layers), loss, optimizer and pruner.
//
// grid, random, include and exclude name settings by dotted path into the
// sweepable sections (dataset, model, loss, optimizer, training); checkPath
// admits exactly the paths the decoders accept. A new training setting is
// one tagged field of framework.TrainConfig: it is decoded, checked,
// sweepable by grid path, stored in the trial's params and listed by
// `sweep plugins` with no other edit.

// Settings are an experiment's top-level settings.
type Settings struct {
	Name        string `opt:"name" required:"true" doc:"the sweep's name in the database and the report folder's name: letters, digits, '.', '_' and '-' ('../x' and '/etc/x' are refused)"`
	Description string `opt:"description" doc:"free text; not part of the config hash"`
	Seed        int    `opt:"seed" default:"0" range:"[0,]" doc:"the sweep seed: a trial gets the seed SplitMix64(seed, SHA-256 of its setting and repeat), 53 bits; not its place in the sweep, so a grown sweep keeps its trials' seeds"`
	Repeats     int    `opt:"repeats" default:"1" range:"[1,1000]" doc:"runs of each grid point with different derived seeds; rankings use mean ± std over them"`
	Metric      string `opt:"metric" doc:"the ranking metric: val_loss (the default with a validation split), val_accuracy, train_loss (the default without one), train_accuracy, time_to_target (seconds until training.stop.target_loss)"`
	PairedSeeds bool   `opt:"paired_seeds" default:"false" doc:"repeat r of every point gets the same seed, so points are compared on the same initial weights and data order (common random numbers)"`
	InitFrom    string `opt:"init_from" doc:"a .safetensors file (a regular file, every weight finite) of initial weights with PyTorch nn.Sequential names (0.weight [out, in], 0.bias, 2.weight, ...), relative to the experiment file"`
	KeepBest    bool   `opt:"keep_best" default:"false" doc:"save the weights of the run's best completed trial (by its own value of the metric) beside the database as NAME.best.safetensors (NAME.shard-I-of-N.best.safetensors for a shard), which PyTorch's load_state_dict reads"`
	Record      Record `opt:"record" doc:"how much of each trial's series is stored"`
}

// Record says how much of each trial's series is stored.
type Record struct {
	// BatchLossEvery thins the recorded per-iteration batch loss: every
	// n-th iteration is stored (the first and any non-finite one always);
	// 0 stores none; BatchLossAuto keeps about MaxBatchLossPoints per trial.
	BatchLossEvery int `opt:"batch_loss_every" default:"auto" words:"auto=-1" range:"[0,]" doc:"keep every N-th per-iteration batch loss (0 keeps none; the first and any non-finite are always kept, and a diverged trial keeps its last 32 updates); auto picks N so that a trial keeps about 250"`
	// LayerStatsEvery measures the dense layers' gradient flow every n
	// updates (framework.Trainer.LayerStatsEvery); 0 is off.
	LayerStatsEvery int `opt:"layer_stats_every" default:"0" range:"[0,]" doc:"store per dense layer, at the first update and every N-th: ‖∇W‖, ‖W‖ after the update, ‖ΔW‖/‖W‖, and the fraction of units the next activation leaves dead (ReLU: 0 for every sample of the batch) or saturated (sigmoid |z| > 4, tanh |z| > 2 for every sample); 0 is off"`
}

// sections are the top-level keys that are not Settings; sweepable are
// those grid paths may point into.
var (
	sections  = []string{"dataset", "model", "loss", "optimizer", "training", "grid", "random", "tpe", "include", "exclude", "pruner"}
	sweepable = []string{"dataset", "model", "loss", "optimizer", "training"}
)

// SectionDocs documents the sections of an experiment file.
var SectionDocs = []framework.OptionSpec{
	{Name: "dataset", Type: "section", Default: "required", Doc: "exactly one data source (`builtin: NAME`, `csv: PATH`, `mnist: DIR`, `synthetic: NAME`, `function: NAME`, with the source's options) plus validation_split, standardize and limit"},
	{Name: "model", Type: "list", Default: "required", Doc: "the layers in order, each {type: NAME, option: value, ...} (see the layer plugins); omitted (and refused) with `function:` data, whose model is a point"},
	{Name: "loss", Type: "plugin", Default: "required", Doc: "NAME or {type: NAME, option: value, ...} (see the loss plugins); omitted (and refused) with `function:` data, whose loss is the function"},
	{Name: "optimizer", Type: "plugin", Default: "sgd", Doc: "NAME or {type: NAME, option: value, ...} (see the optimizer plugins)"},
	{Name: "training", Type: "section", Default: "required", Doc: "learning_rate, batch_size and epochs, and the keys below"},
	{Name: "grid", Type: "section", Doc: "dotted.path: [values], expanded in file order, last key fastest. Paths name a setting of the sections above or a plugin option (optimizer.momentum, model.0.units, loss.delta); a layer index may be spelled 00 or +0 but is stored as model.0.units"},
	{Name: "random", Type: "section", Doc: "{trials: N, PATH: {log_uniform: [lo, hi]} | {uniform: [lo, hi]} | {int_uniform: [lo, hi]} | {choice: [..]}}: N seeded samples (sample k never changes when N grows), combined with grid as grid × samples"},
	{Name: "tpe", Type: "section", Doc: "{trials: N, batch: 8, startup: 10, PATH: distribution as in random}: model-based search (TPE, Bergstra et al. 2011, with Optuna's defaults): startup seeded random samples (random search's), then batch settings at a time, each batch proposed from every finished setting before it (the mean over repeats; pruned, diverged and failed ones rank as bad; within a batch the earlier proposals count as the worst, Optuna's constant liar), so the sweep depends on its seed only, not on workers, processes or resumes. Not combined with grid, random, include or exclude; --shard is refused"},
	{Name: "include", Type: "list", Doc: "sub-grids added after the grid, for coupled settings: - {optimizer.type: [momentum, nesterov], optimizer.momentum: [0.5, 0.9]}"},
	{Name: "exclude", Type: "list", Doc: "{path: value or [values]} items; a point matching every entry of one item is dropped (values compare by value and type)"},
	{Name: "pruner", Type: "plugin", Doc: "NAME or {type: NAME, option: value, ...} (see the pruner plugins); pruned trials are recorded as pruned"},
}

// Keys lists every key of the schema outside the plugins, as dotted paths
// with their defaults, ranges and docs: the settings, the sections, the
// dataset's common keys and the training keys.
func Keys() []framework.OptionSpec {
	var out []framework.OptionSpec
	add := func(prefix string, v any) {
		specs, _ := framework.OptionSpecs(v)
		for _, s := range specs {
			s.Name = prefix + s.Name
			out = append(out, s)
		}
	}
	add("", &Settings{})
	out = append(out, SectionDocs...)
	add("tpe.", &TPEOptions{})
	add("dataset.", &framework.DataOptions{})
	add("training.", &framework.TrainConfig{})
	return out
}

// leafNames are the names of the options of v that hold a value (not
// nested sections), as dotted paths below v.
func leafNames(v any) []string {
	specs, _ := framework.OptionSpecs(v)
	var names []string
	for _, s := range specs {
		if s.Type != "section" {
			names = append(names, s.Name)
		}
	}
	return names
}

// optionSpec is the spec of v's option name, or nil.
func optionSpec(v any, name string) *framework.OptionSpec {
	specs, _ := framework.OptionSpecs(v)
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}

// datasetKeys are the keys a dataset section may hold: the common ones,
// then every source's name and options.
func datasetKeys() []string {
	keys := leafNames(&framework.DataOptions{})
	for _, name := range framework.Sources.Names() {
		p, _ := framework.Sources.Lookup(name)
		for _, k := range leafNames(p.New()) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// optionErr places an error of DecodeOptions on the key it names under
// section; kind names the section's keys in an unknown-key message.
func (e *Experiment) optionErr(section, kind string, known []string, err error) error {
	var oe *framework.OptionError
	if !errors.As(err, &oe) {
		return e.errAt(section, "%v", err)
	}
	key := join(section, oe.Option)
	if oe.Unknown && known != nil && !strings.Contains(oe.Option, ".") {
		return e.errAt(key, "%v", framework.UnknownNameError(kind, oe.Option, known))
	}
	if errors.Is(oe.Err, framework.ErrMissing) {
		return e.errAt(key, "missing: %s needs a value", key)
	}
	return e.errAt(key, "%v", oe.Err)
}

// decodeSettings decodes the top-level settings (doc without its sections).
func (e *Experiment) decodeSettings(doc map[string]any) error {
	top := map[string]any{}
	for k, v := range doc {
		if !slices.Contains(sections, k) {
			top[k] = v
		}
	}
	var s Settings
	if err := framework.DecodeOptions(&s, top); err != nil {
		var top []string
		for _, k := range leafNames(&Settings{}) {
			top = append(top, strings.Split(k, ".")[0])
		}
		return e.optionErr("", "key", slices.Compact(append(top, sections...)), err)
	}
	if !nameRE.MatchString(s.Name) || strings.Contains(s.Name, "..") {
		return e.errAt("name", "%q is not a safe sweep name: use letters, digits, '.', '_' and '-' (it names folders and files), with no '/' or '..'", s.Name)
	}
	e.Name, e.Seed, e.Repeats, e.PairedSeeds, e.KeepBest = s.Name, uint64(s.Seed), s.Repeats, s.PairedSeeds, s.KeepBest
	e.BatchLossEvery, e.LayerStatsEvery = s.Record.BatchLossEvery, s.Record.LayerStatsEvery
	if _, given := top["metric"]; given {
		if _, err := results.Lookup(s.Metric); err != nil {
			return e.errAt("metric", "%v", framework.UnknownNameError("metric", s.Metric, results.Names()))
		}
		e.Metric = s.Metric
	}
	if _, given := top["init_from"]; given {
		if s.InitFrom == "" {
			return e.errAt("init_from", "must be a path to a .safetensors file")
		}
		e.InitFrom = s.InitFrom
		if !filepath.IsAbs(s.InitFrom) {
			e.InitFrom = filepath.Join(filepath.Dir(e.File), s.InitFrom)
		}
	}
	return nil
}

// decodeDataset decodes a dataset section: the common keys, and the one
// data source named by its key with the source's options.
func (e *Experiment) decodeDataset(m map[string]any) (DatasetSpec, error) {
	d := DatasetSpec{Dir: filepath.Dir(e.File)}
	own := map[string]any{}
	commonKeys := leafNames(&framework.DataOptions{})
	var named []string
	for _, k := range sortedKeys(m) {
		if slices.Contains(commonKeys, k) {
			continue
		}
		own[k] = m[k]
		if _, err := framework.Sources.Lookup(k); err == nil {
			named = append(named, k)
		}
	}
	if len(named) != 1 {
		return d, e.errAt("dataset", "needs exactly one data source, one of %s (got %d)", strings.Join(framework.Sources.Names(), ", "), len(named))
	}
	var err error
	if d.DataOptions, err = e.dataOptions(m); err != nil {
		return d, err
	}
	d.Source = named[0]
	p, _ := framework.Sources.Lookup(d.Source)
	d.From = p.New()
	if err := framework.DecodeOptions(d.From, own); err != nil {
		var oe *framework.OptionError
		if errors.As(err, &oe) && oe.Unknown {
			known := append(commonKeys, leafNames(d.From)...)
			return d, e.errAt("dataset."+oe.Option, "%v (for a %s data set)", framework.UnknownNameError("dataset key", oe.Option, known), d.Source)
		}
		return d, e.optionErr("dataset", "dataset key", nil, err)
	}
	return d, nil
}

// dataOptions decodes the common keys of a dataset section (others are
// ignored).
func (e *Experiment) dataOptions(m map[string]any) (framework.DataOptions, error) {
	var d framework.DataOptions
	common := map[string]any{}
	for _, k := range leafNames(&d) {
		if v, ok := m[k]; ok {
			common[k] = v
		}
	}
	if err := framework.DecodeOptions(&d, common); err != nil {
		return d, e.optionErr("dataset", "dataset key", datasetKeys(), err)
	}
	return d, nil
}

// decodeTraining decodes a training section.
func (e *Experiment) decodeTraining(m map[string]any) (framework.TrainConfig, error) {
	var c framework.TrainConfig
	if err := framework.DecodeOptions(&c, m); err != nil {
		return c, e.optionErr("training", "training key", leafNames(&framework.TrainConfig{}), err)
	}
	return c, nil
}

// checkPath reports whether a dotted path may be set: it must name a
// setting the section's decoder accepts or an option of a plugin section.
// It returns the path's canonical spelling: a layer index is written in
// decimal without sign or leading zeros (model.00.units is model.0.units).
func (e *Experiment) checkPath(where, path string) (string, error) {
	if e.refusedForPointModel(path) {
		return "", e.errAt(where, "path %q: %v", path, e.pointModelErr(path).(*Error).Msg)
	}
	parts := strings.Split(path, ".")
	bad := func(format string, args ...any) (string, error) {
		return "", e.errAt(where, "path %q names nothing: %s", path, fmt.Sprintf(format, args...))
	}
	rest := strings.Join(parts[1:], ".")
	switch parts[0] {
	case "loss", "optimizer":
		if len(parts) != 2 {
			return bad("use %s.type or %s.<option>", parts[0], parts[0])
		}
	case "dataset":
		if keys := datasetKeys(); !slices.Contains(keys, rest) {
			return bad("%v", framework.UnknownNameError("dataset key", rest, keys))
		}
	case "training":
		keys := leafNames(&framework.TrainConfig{})
		if slices.Contains(keys, rest) {
			break
		}
		// an option of a plugin setting (training.schedule.gamma), its
		// interval, or its warmup's
		plugin, opt, _ := strings.Cut(rest, ".")
		if spec := optionSpec(&framework.TrainConfig{}, plugin); spec != nil && spec.Type == "plugin" && opt != "" &&
			(!strings.Contains(opt, ".") || slices.Contains(leafNames(&framework.Warmup{}), strings.TrimPrefix(opt, "warmup."))) {
			break
		}
		return bad("%v", framework.UnknownNameError("training key", rest, keys))
	case "model":
		n := len(e.Base["model"].([]any))
		if len(parts) != 3 {
			return bad("use model.<layer index>.<option>, e.g. model.0.units")
		}
		i, err := strconv.Atoi(parts[1])
		if err != nil || i < 0 || i >= n {
			return bad("the model has layers 0 to %d", n-1)
		}
		parts[1] = strconv.Itoa(i)
	default:
		return bad("%v", framework.UnknownNameError("section", parts[0], sweepable))
	}
	return strings.Join(parts, "."), nil
}

// TrainingPath is the dotted path of framework.TrainConfig's field (its
// Go name, such as "LearningRate"), as a grid names it and a trial stores
// it: "training.learning_rate". It panics for a field without an opt tag
// (a programming error).
func TrainingPath(field string) string {
	f, ok := reflect.TypeFor[framework.TrainConfig]().FieldByName(field)
	if !ok || f.Tag.Get("opt") == "" {
		panic("experiment: TrainConfig has no option field " + field)
	}
	return "training." + f.Tag.Get("opt")
}
