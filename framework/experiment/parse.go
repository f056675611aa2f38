// Package experiment reads experiment files (YAML), checks them, and
// expands them into the fixed, ordered list of trials a sweep runs.
//
// An experiment is a base document (dataset, model, loss, optimizer,
// training) plus what varies: grid (a cartesian product over dotted paths
// into the document), random (seeded sampling), include/exclude (coupled
// settings) and repeats. Every trial's settings are the base document with
// its overrides applied, flattened to dotted keys.
package experiment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/results"
)

// Error is a problem in an experiment file, located by line and key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Axis is one grid dimension: a dotted path and the values it takes.
type Axis struct {
	Path   string
	Values []any
}

// Distribution is how random search samples one path.
type Distribution struct {
	Path   string
	Kind   string  // log_uniform, uniform, int_uniform, choice
	Low    float64 // uniform kinds
	High   float64
	Choice []any // choice
}

// Experiment is a parsed and checked experiment file.
type Experiment struct {
	File    string
	Source  []byte
	Hash    string // sha256 of the canonical document (key order and formatting do not matter)
	Name    string
	Seed    uint64
	Repeats int
	Metric  string // ranking metric
	// PairedSeeds gives repeat r of every grid point the same seed, so
	// points are compared on the same initial weights and data order.
	PairedSeeds bool
	Base        map[string]any // the base document: dataset, model, loss, optimizer, training
	Grid        []Axis
	Random      []Distribution
	RandomN     int
	TPE         *TPE             // nil: no tpe section
	Include     []map[string]any // each a sub-grid: path → value or list of values
	Exclude     []map[string]any // path → value or list of values; a matching point is dropped
	Pruner      framework.Pruner // nil: no pruning
	PrunerName  string
	// BatchLossEvery thins the recorded per-iteration batch loss: every
	// n-th iteration is stored (the first and any non-finite one always);
	// 0 stores none; BatchLossAuto keeps about MaxBatchLossPoints per trial.
	BatchLossEvery int
	// LayerStatsEvery measures the dense layers every n updates (and at
	// the first); 0 is off.
	LayerStatsEvery int
	InitFrom        string // safetensors file to start every trial from
	KeepBest        bool   // save the best trial's weights beside the database
	// PointModel is the name of the data source that sets the model and
	// loss itself (a framework.ModelSource: function), or "".
	PointModel string

	lines map[string]int // dotted path → line in the file
	doc   map[string]any // the document as hashed (without description), for ChangedFrom
}

// MaxFileBytes bounds an experiment file.
const MaxFileBytes = 4 << 20

// Load reads and parses an experiment file: a regular file (a FIFO or a
// device is refused) of at most MaxFileBytes.
func Load(path string) (*Experiment, error) {
	f, err := data.OpenRegular(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if len(b) > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %s, the limit of an experiment file", data.FormatBytes(MaxFileBytes))}
	}
	return Parse(b, path)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Parse parses and checks an experiment document. file names it in errors.
func Parse(src []byte, file string) (*Experiment, error) {
	var root yaml.Node
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: file, Msg: "empty experiment file"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&root); err == io.EOF {
		return nil, &Error{File: file, Msg: "empty experiment file (it holds only comments)"}
	} else if err != nil {
		return nil, yamlError(file, src, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty experiment file"}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &Error{File: file, Line: next.Line, Msg: "a second YAML document (after ---): an experiment file holds one"}
	} else if err != io.EOF {
		return nil, yamlError(file, src, err)
	}
	lines := map[string]int{}
	v, err := convert(root.Content[0], "", lines, file)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{File: file, Line: root.Content[0].Line, Msg: "an experiment file must be a mapping of keys (name, dataset, model, ...)"}
	}
	e := &Experiment{File: file, Source: src, lines: lines}
	if err := e.load(doc); err != nil {
		return nil, err
	}
	return e, nil
}

// yamlError turns a yaml.v3 syntax error ("yaml: line N: msg") into an
// *Error at line N. For a flow collection left open ("did not find
// expected ',' or '}'"), yaml.v3 names the line where its enclosing block
// began, often line 1: the error is then put at the line of the bracket
// that is not closed (unclosedFlow), and says so.
func yamlError(file string, src []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, found := strings.Cut(rest, ": "); found {
			if l, convErr := strconv.Atoi(n); convErr == nil {
				line, msg = l, after
			}
		}
	}
	if strings.HasPrefix(msg, "did not find expected ',' or ") {
		if l, open, ok := unclosedFlow(src); ok {
			return &Error{File: file, Line: l, Msg: fmt.Sprintf("malformed YAML: the %q opened on this line is not closed (%s)", open, msg)}
		}
	}
	return &Error{File: file, Line: line, Msg: "malformed YAML: " + msg}
}

// unclosedFlow finds the first flow bracket ('[' or '{') of a YAML text
// that is not closed by its own kind of bracket, and its line. A bracket
// opens a flow collection at the start of a value (after "key: ", "- " or
// at the start of a line) or inside another one; quoted strings and
// comments are skipped. A heuristic for error messages only: the text is
// not valid YAML when it is called.
func unclosedFlow(src []byte) (line int, open byte, ok bool) {
	type opened struct {
		b    byte
		line int
	}
	var stack []opened
	line = 1
	valueStart := true // at a place where a flow collection may begin
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
			valueStart = true
			continue
		case c == '#' && (i == 0 || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n'):
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
			continue
		case (c == '"' || c == '\'') && (valueStart || len(stack) > 0):
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\n' {
					line++
				} else if c == '"' && src[i] == '\\' {
					i++
				}
			}
		case (c == '[' || c == '{') && (valueStart || len(stack) > 0):
			stack = append(stack, opened{c, line})
		case (c == ']' || c == '}') && len(stack) > 0:
			top := stack[len(stack)-1]
			if top.b == '[' && c != ']' || top.b == '{' && c != '}' {
				return top.line, top.b, true
			}
			stack = stack[:len(stack)-1]
		case c == ' ' || c == '\t':
			continue
		case c == '-' || c == ':' || c == ',':
			valueStart = i+1 >= len(src) || src[i+1] == ' ' || src[i+1] == '\n' || c == ','
			continue
		}
		valueStart = false
	}
	if len(stack) > 0 {
		return stack[0].line, stack[0].b, true
	}
	return 0, 0, false
}

// convert turns a YAML node into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil), recording each path's line.
func convert(n *yaml.Node, path string, lines map[string]int, file string) (any, error) {
	lines[path] = n.Line
	switch n.Kind {
	case yaml.DocumentNode:
		return convert(n.Content[0], path, lines, file)
	case yaml.AliasNode:
		return nil, &Error{File: file, Line: n.Line, Key: path, Msg: "YAML aliases are not supported"}
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, &Error{File: file, Line: k.Line, Key: path, Msg: "keys must be plain strings"}
			}
			key := k.Value
			if k.Tag == "!!merge" {
				return nil, &Error{File: file, Line: k.Line, Key: path, Msg: "YAML merge keys are not supported"}
			}
			if _, dup := m[key]; dup {
				return nil, &Error{File: file, Line: k.Line, Key: join(path, key), Msg: "key given twice"}
			}
			v, err := convert(vn, join(path, key), lines, file)
			if err != nil {
				return nil, err
			}
			lines[join(path, key)] = k.Line
			m[key] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := convert(c, join(path, strconv.Itoa(i)), lines, file)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &Error{File: file, Line: n.Line, Key: path, Msg: err.Error()}
		}
		switch x := v.(type) {
		case int:
			return x, nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, &Error{File: file, Line: n.Line, Key: path, Msg: fmt.Sprintf("%v is not a finite number", x)}
			}
			return x, nil
		case string, bool, nil:
			return x, nil
		default: // timestamps, big ints, binary
			return n.Value, nil
		}
	}
	return nil, &Error{File: file, Line: n.Line, Key: path, Msg: "unsupported YAML node"}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// errAt builds an error located at path (or its nearest located parent).
func (e *Experiment) errAt(path, format string, args ...any) error {
	return &Error{File: e.File, Line: e.Line(path), Key: path, Msg: fmt.Sprintf(format, args...)}
}

func (e *Experiment) load(doc map[string]any) error {
	if err := e.decodeSettings(doc); err != nil {
		return err
	}
	if err := e.fillPointModel(doc); err != nil {
		return err
	}
	base := map[string]any{}
	for _, k := range sweepable {
		v, ok := doc[k]
		if !ok {
			if k == "optimizer" {
				v = map[string]any{"type": "sgd"}
			} else {
				return e.errAt(k, "missing (every experiment needs dataset, model, loss and training)")
			}
		}
		base[k] = normalizePlugin(k, v)
	}
	if tr, ok := base["training"].(map[string]any); ok {
		tr["schedule"] = normalizePlugin("schedule", tr["schedule"])
		if tr["schedule"] == nil {
			delete(tr, "schedule")
		}
	}
	if err := e.checkBase(base); err != nil {
		return err
	}
	e.Base = base
	// Sections are decoded trial by trial (ResolvePlan): the base alone may
	// lack what the grid sets. The common dataset keys are checked here.
	split, err := e.dataOptions(base["dataset"].(map[string]any))
	if err != nil {
		return err
	}
	// Ranking defaults to val_loss, or train_loss without a validation split;
	// a validation metric without one is an error, not a sweep of NaNs.
	grid, _ := doc["grid"].(map[string]any)
	if _, varied := grid["dataset.validation_split"]; !varied && !(split.ValidationSplit > 0) {
		if e.Metric == "" {
			e.Metric = "train_loss"
		} else if err := results.MustLookup(e.Metric).Applies(results.Setting{Classification: true, Target: true}); err != nil {
			// a validation metric without a split; the task and the target are checked once the data is loaded
			return e.errAt("metric", "%v", err)
		}
	}
	if e.Metric == "" {
		e.Metric = "val_loss"
	}
	if err := e.loadGrid(doc); err != nil {
		return err
	}
	if err := e.loadTPE(doc); err != nil {
		return err
	}
	if err := e.loadPruner(doc); err != nil {
		return err
	}
	if n := e.maxTrials(); n > MaxTrials {
		return e.errAt("grid", "expands to %.0f trials; the limit is %d (split the sweep, or use random: {trials: N})", n, MaxTrials)
	}
	e.doc = stripDescription(doc)
	canon, _ := json.Marshal(map[string]any{"doc": e.doc})
	sum := sha256.Sum256(canon)
	e.Hash = hex.EncodeToString(sum[:])[:16]
	return nil
}

func stripDescription(doc map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range doc {
		if k != "description" {
			out[k] = v
		}
	}
	return out
}

// normalizePlugin turns the shorthand `loss: mse` into {type: mse}.
func normalizePlugin(key string, v any) any {
	if s, ok := v.(string); ok && (key == "loss" || key == "optimizer" || key == "pruner" || key == "schedule") {
		return map[string]any{"type": s}
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BatchLossAuto is record.batch_loss_every: auto, the default: every n-th
// batch loss with n chosen so a trial stores about MaxBatchLossPoints.
const (
	BatchLossAuto      = -1
	MaxBatchLossPoints = 250
)

// MaxTrials bounds the trials one experiment may expand to.
const MaxTrials = 200_000

// maxTrials is an upper bound of the trial count (before exclusions), in
// float64 so a huge product cannot overflow.
func (e *Experiment) maxTrials() float64 {
	n := 1.0
	for _, a := range e.Grid {
		n *= float64(len(a.Values))
	}
	if e.RandomN > 0 {
		n *= float64(e.RandomN)
	}
	if e.TPE != nil {
		n = float64(e.TPE.Trials)
	}
	for _, inc := range e.Include {
		m := 1.0
		for _, v := range inc {
			m *= float64(len(valuesOf(v)))
		}
		n += m
	}
	return n * float64(e.Repeats)
}

// Line is the line of the file where a dotted key (or its nearest parent)
// is written, or 0.
func (e *Experiment) Line(key string) int {
	for p := key; ; {
		if l, ok := e.lines[p]; ok {
			return l
		}
		i := strings.LastIndex(p, ".")
		if i < 0 {
			return 0
		}
		p = p[:i]
	}
}
