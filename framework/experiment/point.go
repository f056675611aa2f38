package experiment

import (
	"maps"
	"slices"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// pointModelKeys are the settings that do not apply to a data source that
// sets its own model (framework.ModelSource): the model and the loss come
// from the source, its one sample is the whole batch, and there is
// nothing to hold out or standardise.
var pointModelKeys = []string{"model", "loss", "training.batch_size", "dataset.validation_split", "dataset.standardize"}

// fillPointModel handles an experiment whose data source sets the model
// and loss itself (the function source): it refuses a model, a loss, a
// batch size, a validation split and standardize written in the file, and
// fills in placeholders, a one-layer point model, the function loss and a
// batch of 1 (the source's one sample), that the trials' settings record.
// Each trial's real model and loss are the source's (decodeSections).
func (e *Experiment) fillPointModel(doc map[string]any) error {
	ds, _ := doc["dataset"].(map[string]any)
	for _, k := range sortedKeys(ds) {
		p, err := framework.Sources.Lookup(k)
		if err != nil {
			continue
		}
		if _, ok := p.New().(framework.ModelSource); ok {
			e.PointModel = k
		}
	}
	if e.PointModel == "" {
		return nil
	}
	for _, key := range pointModelKeys {
		sec, rest, _ := strings.Cut(key, ".")
		m, _ := doc[sec].(map[string]any)
		if _, given := m[rest]; given || (rest == "" && doc[sec] != nil) {
			return e.pointModelErr(key)
		}
	}
	doc["model"] = []any{map[string]any{"type": "point"}}
	doc["loss"] = map[string]any{"type": "function"}
	if tr, ok := doc["training"].(map[string]any); ok {
		tr = maps.Clone(tr)
		tr["batch_size"] = 1
		doc["training"] = tr
	}
	return nil
}

// pointModelErr refuses key (or a grid path at where) for a source that
// sets its own model.
func (e *Experiment) pointModelErr(key string) error {
	return e.errAt(key, "does not apply to the %s data source, which trains one point [x, y] on a test function (its model and loss are set from the dataset, and one epoch is one gradient step on its one sample): remove it", e.PointModel)
}

// refusedForPointModel reports whether a grid path sets what a source
// that sets its own model refuses.
func (e *Experiment) refusedForPointModel(path string) bool {
	if e.PointModel == "" {
		return false
	}
	return slices.ContainsFunc(pointModelKeys, func(k string) bool { return path == k || strings.HasPrefix(path, k+".") })
}
