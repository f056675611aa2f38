package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// Trial records are the one schema of a stored trial for scripts: `sweep
// export --format json|csv`, `sweep show --json` and the report's
// trials.json and trials.csv are all written by the functions below, so
// they have the same fields, names and values. README's "Trial records"
// lists the fields (a test keeps it true).

// Number is a float64 field of a trial record: a JSON number, null for
// NaN (a value that does not apply, or not a number), and the strings
// "+Inf" and "-Inf" for infinities, which JSON numbers cannot hold. In
// CSV it is the same text, NaN an empty cell.
type Number float64

// MarshalJSON writes n as described on Number.
func (n Number) MarshalJSON() ([]byte, error) {
	v := float64(n)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 0):
		return []byte(`"` + fmtNum(v) + `"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// text is n's CSV cell.
func (n Number) text() string {
	v := float64(n)
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 0):
		return fmtNum(v)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// EpochRecord is the last finished epoch's counters and metrics, every
// one null if no epoch finished.
type EpochRecord struct {
	Epoch         *int   `json:"epoch"`
	Iteration     *int   `json:"iteration"`
	Samples       *int   `json:"samples"`
	Seconds       Number `json:"seconds"`
	EpochSeconds  Number `json:"epoch_seconds"`
	TrainLoss     Number `json:"train_loss"`
	ValLoss       Number `json:"val_loss"`
	TrainAccuracy Number `json:"train_accuracy"`
	ValAccuracy   Number `json:"val_accuracy"`
}

// PointRecord is one epoch's value of a metric.
type PointRecord struct {
	Epoch     int    `json:"epoch"`
	Iteration int    `json:"iteration"`
	Value     Number `json:"value"`
}

// SeriesRecord holds a trial's per-epoch series by metric; a series is
// null when no epoch has a value for it (the metric does not apply).
type SeriesRecord struct {
	TrainLoss     []PointRecord `json:"train_loss"`
	ValLoss       []PointRecord `json:"val_loss"`
	TrainAccuracy []PointRecord `json:"train_accuracy"`
	ValAccuracy   []PointRecord `json:"val_accuracy"`
}

// TrialRecord is one trial in the export schema. Every field is always
// present; one that does not apply is null.
type TrialRecord struct {
	ID                string         `json:"id"`
	Sweep             string         `json:"sweep"`
	Index             int            `json:"index"`
	Point             int            `json:"point"`
	Repeat            int            `json:"repeat"`
	Seed              uint64         `json:"seed"`
	Params            map[string]any `json:"params"`
	Varied            []string       `json:"varied"`
	State             string         `json:"state"`
	StopReason        *string        `json:"stop_reason"`
	Error             *string        `json:"error"`
	StartedAt         *time.Time     `json:"started_at"`
	EndedAt           *time.Time     `json:"ended_at"`
	Seconds           Number         `json:"seconds"`
	Epochs            int            `json:"epochs"`
	Iterations        int            `json:"iterations"`
	Samples           int            `json:"samples"`
	Final             EpochRecord    `json:"final"`
	BestValLoss       Number         `json:"best_val_loss"`
	DivergedIteration *int           `json:"diverged_iteration"`
	LastFiniteLoss    Number         `json:"last_finite_loss"`
	TimeToTarget      Number         `json:"time_to_target"`
	Metrics           SeriesRecord   `json:"metrics"`
	// LayerStats is every stored record of record.layer_stats_every, by
	// update then layer; null when none was recorded.
	LayerStats []LayerRecord `json:"layer_stats"`
}

// LayerRecord is one dense layer's statistics at one weight update.
type LayerRecord struct {
	Iteration    int    `json:"iteration"`
	Layer        int    `json:"layer"`
	GradNorm     Number `json:"grad_norm"`
	WeightNorm   Number `json:"weight_norm"`
	UpdateRatio  Number `json:"update_ratio"`
	DeadFraction Number `json:"dead_fraction"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func epochRecord(e framework.EpochStats) EpochRecord {
	if e.Epoch == 0 {
		nan := Number(math.NaN())
		return EpochRecord{nil, nil, nil, nan, nan, nan, nan, nan, nan}
	}
	return EpochRecord{&e.Epoch, &e.Iteration, &e.Samples, Number(e.Seconds), Number(e.EpochSeconds), Number(e.TrainLoss),
		Number(e.ValLoss), Number(e.TrainAccuracy), Number(e.ValAccuracy)}
}

// series is one metric's per-epoch values, nil if no epoch has one.
func series(eps []framework.EpochStats, value func(*framework.EpochStats) float64) []PointRecord {
	var out []PointRecord
	some := false
	for i := range eps {
		v := value(&eps[i])
		some = some || !math.IsNaN(v)
		out = append(out, PointRecord{eps[i].Epoch, eps[i].Iteration, Number(v)})
	}
	if !some {
		return nil
	}
	return out
}

// NewTrialRecord is t in the export schema.
func NewTrialRecord(t *framework.TrialData) TrialRecord {
	r := TrialRecord{ID: t.Plan.ID, Sweep: t.Plan.Sweep, Index: t.Plan.Index, Point: t.Plan.Point, Repeat: t.Plan.Repeat,
		Seed: t.Plan.Seed, Params: map[string]any{}, Varied: []string{}, State: string(t.Status),
		StopReason: optString(t.StopReason), Error: optString(t.Error), StartedAt: timePtr(t.Started), EndedAt: timePtr(t.Ended),
		Seconds: Number(t.Seconds), Epochs: t.Epochs, Iterations: t.Iterations, Samples: t.Samples,
		BestValLoss: Number(t.BestValLoss), LastFiniteLoss: Number(t.LastFiniteLoss), TimeToTarget: Number(t.TimeToTarget)}
	if p, ok := cleanJSON(t.Plan.Params).(map[string]any); ok && p != nil {
		r.Params = p
	}
	if t.Plan.Varied != nil {
		r.Varied = t.Plan.Varied
	}
	r.Final = epochRecord(t.Final)
	if t.DivergedIteration > 0 {
		d := t.DivergedIteration
		r.DivergedIteration = &d
	}
	eps := t.EpochSeries
	r.Metrics = SeriesRecord{
		TrainLoss:     series(eps, func(e *framework.EpochStats) float64 { return e.TrainLoss }),
		ValLoss:       series(eps, func(e *framework.EpochStats) float64 { return e.ValLoss }),
		TrainAccuracy: series(eps, func(e *framework.EpochStats) float64 { return e.TrainAccuracy }),
		ValAccuracy:   series(eps, func(e *framework.EpochStats) float64 { return e.ValAccuracy }),
	}
	for _, l := range t.Layers {
		r.LayerStats = append(r.LayerStats, LayerRecord{Iteration: l.Iteration, Layer: l.Layer, GradNorm: Number(l.GradNorm),
			WeightNorm: Number(l.WeightNorm), UpdateRatio: Number(l.UpdateRatio), DeadFraction: Number(l.DeadFraction)})
	}
	return r
}

// WriteTrialJSON writes one trial record as indented JSON.
func WriteTrialJSON(w io.Writer, t *framework.TrialData) error {
	return encodeJSON(w, NewTrialRecord(t))
}

// WriteTrialsJSON writes the trials as a JSON array of trial records.
func WriteTrialsJSON(w io.Writer, trials []framework.TrialData) error {
	out := make([]TrialRecord, len(trials))
	for i := range trials {
		out[i] = NewTrialRecord(&trials[i])
	}
	return encodeJSON(w, out)
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// csvFixed are the CSV columns of a trial record before its params: its
// fields in JSON order, final's as final.<name>, without params and the
// per-epoch metrics.
var csvFixed = []string{"id", "sweep", "index", "point", "repeat", "seed", "varied", "state", "stop_reason", "error",
	"started_at", "ended_at", "seconds", "epochs", "iterations", "samples",
	"final.epoch", "final.iteration", "final.samples", "final.seconds", "final.epoch_seconds",
	"final.train_loss", "final.val_loss", "final.train_accuracy", "final.val_accuracy",
	"best_val_loss", "diverged_iteration", "last_finite_loss", "time_to_target"}

// CSVColumns are the columns of WriteTrialsCSV for these trials: csvFixed,
// then params.<dotted key> for every setting any trial has, sorted.
func CSVColumns(trials []framework.TrialData) []string {
	keys := map[string]bool{}
	for _, t := range trials {
		for k := range t.Plan.Params {
			keys[k] = true
		}
	}
	params := make([]string, 0, len(keys))
	for k := range keys {
		params = append(params, "params."+k)
	}
	sort.Strings(params)
	return append(slices.Clone(csvFixed), params...)
}

// csvRow is r's cells for the columns cols (CSVColumns).
func csvRow(r *TrialRecord, cols []string) []string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	num := func(n *int) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	f := &r.Final
	row := []string{r.ID, r.Sweep, strconv.Itoa(r.Index), strconv.Itoa(r.Point), strconv.Itoa(r.Repeat),
		strconv.FormatUint(r.Seed, 10), strings.Join(r.Varied, " "), r.State, str(r.StopReason), str(r.Error),
		tm(r.StartedAt), tm(r.EndedAt), r.Seconds.text(), strconv.Itoa(r.Epochs), strconv.Itoa(r.Iterations),
		strconv.Itoa(r.Samples), num(f.Epoch), num(f.Iteration), num(f.Samples), f.Seconds.text(), f.EpochSeconds.text(),
		f.TrainLoss.text(), f.ValLoss.text(), f.TrainAccuracy.text(), f.ValAccuracy.text(),
		r.BestValLoss.text(), num(r.DivergedIteration), r.LastFiniteLoss.text(), r.TimeToTarget.text()}
	for _, c := range cols[len(csvFixed):] {
		row = append(row, csvValue(r.Params[strings.TrimPrefix(c, "params.")]))
	}
	return row
}

// csvValue is a setting's cell: numbers as in JSON, text as is, nothing
// for a setting the trial does not have (or null).
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return Number(x).text()
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// WriteTrialsCSV writes one row per trial with the columns CSVColumns:
// the trial record's fields, params.<key> for each setting, without the
// per-epoch series; a null is an empty cell.
func WriteTrialsCSV(w io.Writer, trials []framework.TrialData) error {
	cols := CSVColumns(trials)
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	for i := range trials {
		r := NewTrialRecord(&trials[i])
		if err := cw.Write(csvRow(&r, cols)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cleanJSON replaces values encoding/json cannot encode (NaN, ±Inf) with
// null, recursively.
func cleanJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if !finite(x) {
			return nil
		}
	case float32:
		if !finite(float64(x)) {
			return nil
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cleanJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cleanJSON(e)
		}
		return out
	}
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// writeFile writes the report's copy of an export (trials.json,
// trials.csv) to path.
func writeFile(path string, write func(io.Writer, []framework.TrialData) error, trials []framework.TrialData) error {
	var buf bytes.Buffer
	if err := write(&buf, trials); err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	if err := replaceFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
