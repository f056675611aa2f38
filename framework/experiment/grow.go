package experiment

import (
	"fmt"
	"slices"

	"github.com/gradsweep/gradsweep/framework"
)

// growthKeys are the top-level keys that say which trials a sweep has,
// not how a trial trains: a change to them may only add trials to a
// stored sweep. Whether it does is decided trial by trial (the store
// keeps a trial whose id, index, point, repeat, seed, params and varied
// are all unchanged), so a changed random distribution, which changes
// every sample, is refused there.
var growthKeys = []string{"grid", "random", "include", "exclude", "repeats"}

// ChangedFrom says how e changes a setting of old that is not one of the
// growthKeys (the base document, seed, metric, pruner, record, ...), or
// why the sweep cannot grow from old at all; "" when e differs from old
// at most in which trials it has. The answer names the first changed
// setting in sorted order, with its value before and now.
func (e *Experiment) ChangedFrom(old *Experiment) string {
	if e.Pruner != nil {
		return "the sweep has a pruner, whose rungs compare every trial: added trials would change the decisions taken on those kept"
	}
	if old.TPE != nil && e.TPE != nil {
		return e.tpeChangedFrom(old)
	}
	if d := firstChange("", withoutKeys(old.doc, growthKeys), withoutKeys(e.doc, growthKeys)); d != "" {
		return "it changes " + d + ": a sweep grows only by what grid, random, include, exclude and repeats add"
	}
	return ""
}

// tpeChangedFrom is ChangedFrom for two tpe sweeps: one grows only by a
// larger tpe.trials. The settings proposed so far are then those the
// larger sweep proposes first (each batch comes from the finished
// settings before it, and within a batch each proposal from the ones
// before it), and the runner checks the stored ones against its own
// proposals as on every resume. More repeats would change the means the
// proposals came from.
func (e *Experiment) tpeChangedFrom(old *Experiment) string {
	a, b := withoutKeys(old.doc, []string{"tpe"}), withoutKeys(e.doc, []string{"tpe"})
	a["tpe"] = withoutKeys(old.doc["tpe"].(map[string]any), []string{"trials"})
	b["tpe"] = withoutKeys(e.doc["tpe"].(map[string]any), []string{"trials"})
	if d := firstChange("", a, b); d != "" {
		return "it changes " + d + ": a tpe sweep grows only by a larger tpe.trials (its proposals come from the finished settings, the mean over their repeats)"
	}
	if e.TPE.Trials < old.TPE.Trials {
		return fmt.Sprintf("it changes tpe.trials: %d → %d: a sweep grows, it does not shrink", old.TPE.Trials, e.TPE.Trials)
	}
	return ""
}

// withoutKeys is a shallow copy of doc without keys.
func withoutKeys(doc map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// firstChange is the first dotted path, in sorted order, where two
// documents differ: "training.epochs: 5 → 6", "pruner: added"; "" when
// they do not (values compare as in same: 16 and 16.0 are the same).
func firstChange(path string, a, b any) string {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		keys := sortedKeys(ma)
		for k := range mb {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			va, inA := ma[k]
			vb, inB := mb[k]
			switch {
			case !inA:
				return join(path, k) + ": added"
			case !inB:
				return join(path, k) + ": removed"
			}
			if d := firstChange(join(path, k), va, vb); d != "" {
				return d
			}
		}
		return ""
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA && okB && len(la) == len(lb) {
		for i := range la {
			if d := firstChange(join(path, fmt.Sprint(i)), la[i], lb[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if same(a, b) {
		return ""
	}
	return fmt.Sprintf("%s: %s → %s", path, framework.Flow(a), framework.Flow(b))
}
