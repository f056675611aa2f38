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
	a, b := map[string]any{}, map[string]any{}
	for k, v := range old.doc {
		if !slices.Contains(growthKeys, k) {
			a[k] = v
		}
	}
	for k, v := range e.doc {
		if !slices.Contains(growthKeys, k) {
			b[k] = v
		}
	}
	if d := firstChange("", a, b); d != "" {
		return "it changes " + d + ": a sweep grows only by what grid, random, include, exclude and repeats add"
	}
	return ""
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
