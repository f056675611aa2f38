package metrics

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/gradsweep/gradsweep/framework"
)

// PushSummary pushes a sweep's summary to the Pushgateway at url (e.g.
// "http://127.0.0.1:9091") under job, grouped by sweep=info.Name and the
// extra grouping labels (e.g. {"shard": "3"}). The pushed metrics carry no
// sweep label themselves: the Pushgateway adds the grouping labels, and a
// scrape with honor_labels: true keeps them (and job).
//
// It uses the Pushgateway's POST (add) semantics: metrics of the same name
// in the group are replaced, others kept, so an interrupted run does not
// erase the previous run's gradsweep_sweep_last_success_timestamp_seconds.
func PushSummary(ctx context.Context, url, job string, grouping map[string]string, info framework.SweepInfo, s framework.SweepSummary) error {
	if info.Name == "" {
		return fmt.Errorf("metrics: push: sweep has no name")
	}
	reg := prometheus.NewRegistry()
	duration := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gradsweep_sweep_duration_seconds",
		Help: "Wall time of the sweep's last run.",
	})
	trials := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gradsweep_sweep_trials",
		Help: "Trials of the sweep by state when its last run ended.",
	}, []string{"state"})
	iterations := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gradsweep_sweep_iterations",
		Help: "Weight updates done in the sweep's last run.",
	})
	interrupted := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gradsweep_sweep_interrupted",
		Help: "1 if the sweep's last run was interrupted, else 0.",
	})
	reg.MustRegister(duration, trials, iterations, interrupted)

	duration.Set(s.Seconds)
	for _, st := range States {
		trials.WithLabelValues(string(st)).Set(float64(s.Counts[st]))
	}
	for st, n := range s.Counts {
		if !knownState(st) {
			trials.WithLabelValues(string(st)).Set(float64(n))
		}
	}
	iterations.Set(float64(s.Iterations))
	if s.Interrupted {
		interrupted.Set(1)
	}
	if s.Best != nil && finite(s.BestValue) {
		metric := info.Metric
		if metric == "" {
			metric = "value"
		}
		best := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gradsweep_sweep_best_value",
			Help: "Ranking metric of the sweep's best trial (mean over the repeats of its grid point).",
		}, []string{"metric"})
		reg.MustRegister(best)
		best.WithLabelValues(metric).Set(s.BestValue)
	}
	if !s.Interrupted {
		last := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gradsweep_sweep_last_success_timestamp_seconds",
			Help: "Unix time at which a run of the sweep last finished without interruption.",
		})
		reg.MustRegister(last)
		last.Set(float64(time.Now().UnixNano()) / 1e9)
	}

	p := push.New(url, job).Gatherer(reg).Grouping("sweep", info.Name).
		Client(&http.Client{Timeout: 30 * time.Second})
	keys := make([]string, 0, len(grouping))
	for k := range grouping {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "sweep" || k == "job" {
			return fmt.Errorf("metrics: push: grouping label %q is reserved", k)
		}
		p = p.Grouping(k, grouping[k])
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("metrics: push summary of %s: %w", info.Name, err)
	}
	return nil
}
