package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// jfloat is a float64 that encodes NaN and ±Inf as null.
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if !finite(v) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

type jsonEpoch struct {
	Epoch         int    `json:"epoch"`
	Iteration     int    `json:"iteration"`
	Samples       int    `json:"samples"`
	TrainLoss     jfloat `json:"train_loss"`
	ValLoss       jfloat `json:"val_loss"`
	TrainAccuracy jfloat `json:"train_accuracy"`
	ValAccuracy   jfloat `json:"val_accuracy"`
	Seconds       jfloat `json:"seconds"`
	EpochSeconds  jfloat `json:"epoch_seconds"`
}

type jsonTrial struct {
	ID                string         `json:"id"`
	Index             int            `json:"index"`
	Point             int            `json:"point"`
	Repeat            int            `json:"repeat"`
	Seed              uint64         `json:"seed"`
	Params            map[string]any `json:"params"`
	Varied            []string       `json:"varied"`
	Status            string         `json:"status"`
	StopReason        string         `json:"stop_reason,omitempty"`
	Error             string         `json:"error,omitempty"`
	Started           *time.Time     `json:"started,omitempty"`
	Ended             *time.Time     `json:"ended,omitempty"`
	Seconds           jfloat         `json:"seconds"`
	Epochs            int            `json:"epochs"`
	Iterations        int            `json:"iterations"`
	Samples           int            `json:"samples"`
	Final             jsonEpoch      `json:"final"`
	BestValLoss       jfloat         `json:"best_val_loss"`
	DivergedIteration int            `json:"diverged_iteration,omitempty"`
	LastFiniteLoss    jfloat         `json:"last_finite_loss"`
	TimeToTarget      jfloat         `json:"time_to_target"`
	Metric            jfloat         `json:"metric"`
	Page              string         `json:"page"`
	EpochSeries       []jsonEpoch    `json:"epoch_series"`
}

type jsonReport struct {
	Sweep struct {
		Name       string     `json:"name"`
		ConfigHash string     `json:"config_hash"`
		Config     string     `json:"config"`
		Seed       uint64     `json:"seed"`
		Metric     string     `json:"metric"`
		Higher     bool       `json:"metric_higher_is_better"`
		Started    *time.Time `json:"started,omitempty"`
	} `json:"sweep"`
	Trials []jsonTrial `json:"trials"`
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

func epochJSON(e framework.EpochStats) jsonEpoch {
	return jsonEpoch{e.Epoch, e.Iteration, e.Samples, jfloat(e.TrainLoss), jfloat(e.ValLoss),
		jfloat(e.TrainAccuracy), jfloat(e.ValAccuracy), jfloat(e.Seconds), jfloat(e.EpochSeconds)}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func writeJSON(path string, a *analysis) error {
	var r jsonReport
	info := a.d.Info
	r.Sweep.Name, r.Sweep.ConfigHash, r.Sweep.Config, r.Sweep.Seed = info.Name, info.ConfigHash, info.Config, info.Seed
	r.Sweep.Metric, r.Sweep.Higher, r.Sweep.Started = a.metric.Name, a.metric.Higher, timePtr(info.Started)
	r.Trials = []jsonTrial{}
	for _, ti := range a.trials {
		t := ti.T
		jt := jsonTrial{ID: t.Plan.ID, Index: t.Plan.Index, Point: t.Plan.Point, Repeat: t.Plan.Repeat, Seed: t.Plan.Seed,
			Params: cleanJSON(t.Plan.Params).(map[string]any), Varied: t.Plan.Varied, Status: string(t.Status),
			StopReason: t.StopReason, Error: t.Error, Started: timePtr(t.Started), Ended: timePtr(t.Ended),
			Seconds: jfloat(t.Seconds), Epochs: t.Epochs, Iterations: t.Iterations, Samples: t.Samples,
			Final: epochJSON(t.Final), BestValLoss: jfloat(t.BestValLoss), DivergedIteration: t.DivergedIteration,
			LastFiniteLoss: jfloat(t.LastFiniteLoss), TimeToTarget: jfloat(t.TimeToTarget), Metric: jfloat(ti.Metric),
			Page: "trials/" + ti.File + ".html", EpochSeries: []jsonEpoch{}}
		if jt.Params == nil {
			jt.Params = map[string]any{}
		}
		if jt.Varied == nil {
			jt.Varied = []string{}
		}
		for _, e := range t.EpochSeries {
			jt.EpochSeries = append(jt.EpochSeries, epochJSON(e))
		}
		r.Trials = append(r.Trials, jt)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: trials.json: %w", err)
	}
	if err := writeFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func csvNum(v float64) string {
	if !finite(v) {
		if math.IsInf(v, 0) {
			return fmtNum(v)
		}
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func writeCSV(path string, a *analysis) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"id", "index", "point", "repeat", "seed"}
	header = append(header, a.varied...)
	header = append(header, "status", "stop_reason", "epochs", "iterations", "samples", "seconds",
		"train_loss", "val_loss", "train_accuracy", "val_accuracy", "best_val_loss", "time_to_target",
		"diverged_iteration", "last_finite_loss", "metric_"+a.metric.Name, "error")
	if err := w.Write(header); err != nil {
		return err
	}
	for _, ti := range a.trials {
		t := ti.T
		rec := []string{t.Plan.ID, strconv.Itoa(t.Plan.Index), strconv.Itoa(t.Plan.Point), strconv.Itoa(t.Plan.Repeat),
			strconv.FormatUint(t.Plan.Seed, 10)}
		for _, k := range a.varied {
			v, ok := t.Plan.Params[k]
			if !ok {
				rec = append(rec, "")
				continue
			}
			if f, isF := v.(float64); isF {
				rec = append(rec, csvNum(f))
				continue
			}
			rec = append(rec, fmt.Sprint(v))
		}
		rec = append(rec, string(t.Status), t.StopReason, strconv.Itoa(t.Epochs), strconv.Itoa(t.Iterations),
			strconv.Itoa(t.Samples), csvNum(t.Seconds), csvNum(t.Final.TrainLoss), csvNum(t.Final.ValLoss),
			csvNum(t.Final.TrainAccuracy), csvNum(t.Final.ValAccuracy), csvNum(t.BestValLoss), csvNum(t.TimeToTarget),
			strconv.Itoa(t.DivergedIteration), csvNum(t.LastFiniteLoss), csvNum(ti.Metric), t.Error)
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("report: trials.csv: %w", err)
	}
	if err := writeFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
