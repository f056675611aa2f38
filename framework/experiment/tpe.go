package experiment

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/tpe"
)

// TPE is a tpe section: model-based search (framework/tpe) over Space, in
// batches. Settings 0 to Startup−1 are seeded random samples (those of
// random search with the same seed); after them, the settings are proposed
// Batch at a time, each batch from every setting before it once all of
// them finished, so a sweep is a function of its seed alone. Within a
// batch, the earlier proposals count as the worst settings (Optuna's
// constant_liar), so a batch spreads out.
type TPE struct {
	TPEOptions
	Space []Distribution // in file order
}

// TPEOptions are the tpe section's own keys (beside the paths it samples).
type TPEOptions struct {
	Trials  int `opt:"trials" required:"true" range:"[1,100000]" doc:"how many settings the sweep runs (each × repeats)"`
	Batch   int `opt:"batch" default:"8" range:"[1,10000]" doc:"how many settings are proposed at a time, from every finished one before them"`
	Startup int `opt:"startup" default:"10" range:"[1,100000]" doc:"how many settings come first from seeded random sampling (at least 1: they are checked before anything runs)"`
}

// tpeKeys are the tpe section's keys that are not paths.
var tpeKeys = []string{"trials", "batch", "startup"}

// loadTPE reads a tpe section. tpe proposes every varied setting itself,
// so it is refused beside grid, random, include and exclude.
func (e *Experiment) loadTPE(doc map[string]any) error {
	v, ok := doc["tpe"]
	if !ok {
		return nil
	}
	for _, sec := range []string{"grid", "random", "include", "exclude"} {
		if _, both := doc[sec]; both {
			return e.errAt("tpe", "cannot be combined with %s (line %d): tpe proposes every varied setting itself; put fixed settings in the base sections and the varied ones under tpe", sec, e.Line(sec))
		}
	}
	if e.Metric == "time_to_target" {
		return e.errAt("metric", "a tpe sweep cannot rank by time_to_target: it proposes settings from its results, and seconds vary from run to run, so the sweep would not be reproducible; rank by a loss or an accuracy")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return e.errAt("tpe", "must be a mapping: {trials: 40, batch: 8, startup: 10, training.learning_rate: {log_uniform: [0.0001, 1]}}")
	}
	own := map[string]any{}
	for _, k := range tpeKeys {
		if x, ok := m[k]; ok {
			own[k] = x
		}
	}
	t := &TPE{}
	if err := framework.DecodeOptions(&t.TPEOptions, own); err != nil {
		return e.optionErr("tpe", "tpe key", tpeKeys, err)
	}
	m, err := e.canonicalPaths("tpe", m, tpeKeys...)
	if err != nil {
		return err
	}
	for _, path := range e.inFileOrder("tpe", m) {
		if slices.Contains(tpeKeys, path) {
			continue
		}
		d, err := e.distribution("tpe."+path, path, m[path])
		if err != nil {
			return err
		}
		t.Space = append(t.Space, d)
	}
	if len(t.Space) == 0 {
		return e.errAt("tpe", "names no path to search, e.g. training.learning_rate: {log_uniform: [0.0001, 1]}")
	}
	e.TPE = t
	return nil
}

// tpeStream numbers the random streams of TPE's proposals (setting k uses
// stream tpeStream+k of the sweep seed); its startup samples use random
// search's streams.
const tpeStream = 0x79e00000

// startupPoints are the tpe sweep's first settings: seeded random samples.
func (t *TPE) startupPoints(seed uint64) []Point {
	pts := make([]Point, 0, min(t.Startup, t.Trials))
	for k := 0; k < min(t.Startup, t.Trials); k++ {
		pts = append(pts, samplePoint(Point{}, t.Space, seed, k))
	}
	return pts
}

// samplePoint sets the paths of dists in p to sample k of the sweep seed
// (random search's sample k) and returns p.
func samplePoint(p Point, dists []Distribution, seed uint64, k int) Point {
	rng := rand.New(rand.NewPCG(seed, 0x5eed0000+uint64(k)))
	for _, d := range dists {
		p[d.Path] = d.sample(rng)
	}
	return p
}

// NextBatch proposes the tpe sweep's next settings after done, its settings
// so far in trial order, every one finished: ranked lists indices of done
// from the best to the worst (results.Rank's order of the points). It
// returns nil when done holds every setting of the sweep. The batch is a
// function of done, ranked and the sweep seed only.
func (e *Experiment) NextBatch(done []Point, ranked []int) []Point {
	t := e.TPE
	from := len(done)
	if t == nil || from >= t.Trials {
		return nil
	}
	n := min(t.Batch, t.Trials-from)
	if from < t.Startup {
		n = min(t.Startup, t.Trials) - from
		pts := make([]Point, 0, n)
		for k := from; k < from+n; k++ {
			pts = append(pts, samplePoint(Point{}, t.Space, e.Seed, k))
		}
		return pts
	}
	space := make([]tpe.Param, len(t.Space))
	for i, d := range t.Space {
		space[i] = d.param()
	}
	obs := make([][]float64, len(done))
	for i, p := range done {
		obs[i] = make([]float64, len(t.Space))
		for j, d := range t.Space {
			obs[i][j] = d.internal(p[d.Path])
		}
	}
	// Within the batch, each proposal counts the batch's earlier ones as
	// the worst settings (Optuna's constant_liar), so the batch spreads out
	// instead of proposing the same setting batch times.
	ranked = slices.Clone(ranked)
	pts := make([]Point, 0, n)
	for k := from; k < from+n; k++ {
		rng := rand.New(rand.NewPCG(e.Seed, tpeStream+uint64(k)))
		x := tpe.Propose(space, obs, ranked, rng)
		p := Point{}
		for j, d := range t.Space {
			p[d.Path] = d.external(x[j])
			x[j] = d.internal(p[d.Path]) // as the setting will be stored
		}
		pts = append(pts, p)
		obs = append(obs, x)
		ranked = append(ranked, len(obs)-1)
	}
	return pts
}

// param is d as a parameter of framework/tpe.
func (d Distribution) param() tpe.Param {
	switch d.Kind {
	case "log_uniform":
		return tpe.Param{Kind: tpe.LogUniform, Low: d.Low, High: d.High}
	case "int_uniform":
		return tpe.Param{Kind: tpe.IntUniform, Low: d.Low, High: d.High}
	case "choice":
		return tpe.Param{Kind: tpe.Choice, Choices: len(d.Choice)}
	}
	return tpe.Param{Kind: tpe.Uniform, Low: d.Low, High: d.High}
}

// internal is a sampled value as framework/tpe sees it: the number, or the
// index of the choice.
func (d Distribution) internal(v any) float64 {
	if d.Kind == "choice" {
		for i, c := range d.Choice {
			if same(c, v) {
				return float64(i)
			}
		}
		return 0
	}
	x, _ := number(v)
	return x
}

// external is framework/tpe's value as a setting, of the type sample gives.
func (d Distribution) external(x float64) any {
	switch d.Kind {
	case "choice":
		return d.Choice[min(max(int(x), 0), len(d.Choice)-1)]
	case "int_uniform":
		return int(math.Round(x))
	}
	return x
}
