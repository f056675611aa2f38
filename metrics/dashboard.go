package metrics

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

//go:generate go run ../deploy/gendashboard -o ../deploy/grafana/dashboards/gradsweep.json

// Dashboard identity.
const (
	DashboardUID   = "gradsweep-sweeps"
	DashboardTitle = "gradsweep sweeps"
)

// Selectors the dashboard's queries use; $sweep and $trial are the
// dashboard's variables (multi-valued, so matched with =~).
const (
	selSweep = `sweep=~"$sweep"`
	selTrial = `sweep=~"$sweep",trial=~"$trial"`
)

// classicDashboard is Grafana's classic dashboard JSON model, which file
// provisioning (deploy/grafana/provisioning) loads, with the fields this
// dashboard sets, in the order and with the defaults Grafana writes. The
// SDK's own model of it is deprecated in favour of the v2 schema, which
// classic file provisioning does not read; its panels, rows and variables
// are not, and are used as they are.
type classicDashboard struct {
	Uid                  string                                 `json:"uid"`
	Title                string                                 `json:"title"`
	Description          string                                 `json:"description"`
	Tags                 []string                               `json:"tags"`
	Timezone             string                                 `json:"timezone"`
	Editable             bool                                   `json:"editable"`
	GraphTooltip         dashboard.DashboardCursorSync          `json:"graphTooltip"`
	Time                 dashboard.DashboardDashboardTime       `json:"time"`
	FiscalYearStartMonth uint8                                  `json:"fiscalYearStartMonth"`
	Refresh              string                                 `json:"refresh"`
	SchemaVersion        uint16                                 `json:"schemaVersion"`
	Panels               []dashboard.PanelOrRowPanel            `json:"panels"`
	Templating           dashboard.DashboardDashboardTemplating `json:"templating"`
	Annotations          dashboard.AnnotationContainer          `json:"annotations"`
}

// classicSchemaVersion is the classic model's schema version written.
const classicSchemaVersion = 42

// Dashboard returns the "gradsweep sweeps" Grafana dashboard as JSON (the
// classic model), built with the Grafana Foundation SDK's panels. It has a
// datasource variable (any Prometheus data source) and the query
// variables sweep and trial.
func Dashboard() ([]byte, error) {
	d := classicDashboard{
		Uid:           DashboardUID,
		Title:         DashboardTitle,
		Description:   "Live training sweeps of gradsweep: per-trial loss, best values, trial states, throughput, latency.",
		Tags:          []string{"gradsweep"},
		Timezone:      string(common.TimeZoneBrowser),
		Editable:      true,
		GraphTooltip:  dashboard.DashboardCursorSyncCrosshair,
		Time:          dashboard.DashboardDashboardTime{From: "now-30m", To: "now"},
		Refresh:       "5s",
		SchemaVersion: classicSchemaVersion,
		Annotations:   *dashboard.NewAnnotationContainer(),
	}
	vars := []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"),
		queryVariable("sweep", "Sweep", `label_values(gradsweep_trials, sweep)`),
		queryVariable("trial", "Trial", `label_values(gradsweep_trial_info{sweep=~"$sweep"}, trial)`),
	}
	for _, v := range vars {
		m, err := v.Build()
		if err != nil {
			return nil, fmt.Errorf("metrics: dashboard: %w", err)
		}
		d.Templating.List = append(d.Templating.List, m)
	}
	var g grid
	g.row(dashboard.NewRowBuilder("Training").Id(100))
	g.panels(trainingPanels()...)
	g.row(dashboard.NewRowBuilder("Throughput").Id(101))
	g.panels(throughputPanels()...)
	g.row(dashboard.NewRowBuilder("Trials").Id(102))
	g.panels(trialsPanel())
	g.row(dashboard.NewRowBuilder("Finished runs (pushed)").Id(103))
	g.panels(pushedPanel())
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("metrics: dashboard: %w", g.errs)
	}
	d.Panels = g.out
	return json.MarshalIndent(d, "", "  ")
}

// ds is the dashboard's data source: its datasource variable.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// query is a range query in code mode with a legend.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).
		LegendFormat(legend).EditorMode(prometheus.QueryEditorModeCode).Range()
}

// tableQuery is an instant query whose result is a table.
func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).RefId(ref).Expr(expr).
		EditorMode(prometheus.QueryEditorModeCode).Format(prometheus.PromQueryFormatTable).Instant()
}

// rate is the per-sweep rate of a counter.
func rate(counter string) string {
	return fmt.Sprintf(`sum by (sweep) (rate(%s{%s}[$__rate_interval]))`, counter, selSweep)
}

// quantile is the per-sweep quantile phi of a histogram.
func quantile(hist string, phi string) string {
	return fmt.Sprintf(`histogram_quantile(%s, sum by (sweep, le) (rate(%s_bucket{%s}[$__rate_interval])))`, phi, hist, selSweep)
}

// queryVariable is a multi-valued variable over a label's values, "All"
// by default.
func queryVariable(name, label, q string) *dashboard.QueryVariableBuilder {
	all := dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
		Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
	}
	return dashboard.NewQueryVariableBuilder(name).Label(label).
		Datasource(ds).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*").
		Current(all)
}

// trainingPanels: the loss and accuracy of running trials, the best value
// so far, the trials by state.
func trainingPanels() []cog.Builder[dashboard.Panel] {
	logScale := common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(10)
	tableLegend := common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementRight).ShowLegend(true).Calcs([]string{"lastNotNull", "min"})
	return []cog.Builder[dashboard.Panel]{
		timeseries.NewPanelBuilder().Id(1).Title("Loss of running trials").
			Description("gradsweep_trial_loss: batch = latest batch loss, train/val = last finished epoch. Series end when a trial finishes.").
			Datasource(ds).Span(16).Height(10).
			ScaleDistribution(logScale).Legend(tableLegend).
			WithTarget(query(`gradsweep_trial_loss{`+selTrial+`,split=~"train|val"}`, "{{trial}} {{split}}")).
			WithTarget(query(`gradsweep_trial_loss{`+selTrial+`,split="batch"}`, "{{trial}} batch")),
		stat.NewPanelBuilder().Id(2).Title("Best value so far").
			Description("Best over completed or pruned trials: lowest loss / time to target, highest accuracy.").
			Datasource(ds).Span(8).Height(10).Decimals(4).
			GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(query(`gradsweep_best_value{`+selSweep+`}`, "{{sweep}} {{metric}}")),
		timeseries.NewPanelBuilder().Id(3).Title("Accuracy of running trials").
			Datasource(ds).Span(12).Height(8).Unit("percentunit").Min(0).Max(1).
			WithTarget(query(`gradsweep_trial_accuracy{`+selTrial+`}`, "{{trial}} {{split}}")),
		timeseries.NewPanelBuilder().Id(4).Title("Trials by state").
			Datasource(ds).Span(12).Height(8).Min(0).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(40).
			WithTarget(query(`sum by (state) (gradsweep_trials{`+selSweep+`})`, "{{state}}")),
	}
}

// throughputPanels: updates, samples and epochs per second, their
// durations, the divergences.
func throughputPanels() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		timeseries.NewPanelBuilder().Id(5).Title("Iterations/s and samples/s").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("ops").
			WithTarget(query(rate("gradsweep_iterations_total"), "{{sweep}} iterations/s")).
			WithTarget(query(rate("gradsweep_samples_total"), "{{sweep}} samples/s")),
		timeseries.NewPanelBuilder().Id(6).Title("Iteration duration").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("s").
			WithTarget(query(quantile("gradsweep_iteration_duration_seconds", "0.5"), "{{sweep}} p50")).
			WithTarget(query(quantile("gradsweep_iteration_duration_seconds", "0.9"), "{{sweep}} p90")).
			WithTarget(query(quantile("gradsweep_iteration_duration_seconds", "0.99"), "{{sweep}} p99")),
		timeseries.NewPanelBuilder().Id(7).Title("Epoch duration").
			Datasource(ds).Span(8).Height(8).Min(0).Unit("s").
			WithTarget(query(quantile("gradsweep_epoch_duration_seconds", "0.5"), "{{sweep}} p50")).
			WithTarget(query(quantile("gradsweep_epoch_duration_seconds", "0.9"), "{{sweep}} p90")),
		stat.NewPanelBuilder().Id(8).Title("Divergences").
			Description("Trials that diverged (loss NaN, infinite or exploding).").
			Datasource(ds).Span(4).Height(8).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(query(`sum by (sweep) (gradsweep_divergences_total{`+selSweep+`})`, "{{sweep}}")),
		timeseries.NewPanelBuilder().Id(9).Title("Epochs/s").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("ops").
			WithTarget(query(rate("gradsweep_epochs_total"), "{{sweep}} epochs/s")),
	}
}

// trialsPanel is the table of running trials' settings and last losses.
func trialsPanel() cog.Builder[dashboard.Panel] {
	return table.NewPanelBuilder().Id(10).Title("Trial hyperparameters").
		Description("Running trials and trials in their grace period, with their last epoch's loss.").
		Datasource(ds).Span(24).Height(10).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"count"})).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("trial")}).
		WithTarget(tableQuery("A", `gradsweep_trial_info{`+selTrial+`}`)).
		WithTarget(tableQuery("B", `max by (sweep, trial) (gradsweep_trial_loss{`+selTrial+`,split="val"})`)).
		WithTarget(tableQuery("C", `max by (sweep, trial) (gradsweep_trial_epoch{`+selTrial+`})`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value #A": true, "__name__": true, "instance": true, "job": true},
			"renameByName":  map[string]any{"Value #B": "val loss", "Value #C": "epoch"},
		}})
}

// pushedPanel is the table of the summaries runs pushed to the
// Pushgateway (--pushgateway): what is left of a run after it ended,
// between scrapes or not. A row per run: its best grid point's mean (with
// the metric, so losses and accuracies are never compared in one column),
// its wall time, its weight updates and whether it was interrupted.
func pushedPanel() cog.Builder[dashboard.Panel] {
	return table.NewPanelBuilder().Id(11).Title("Finished runs (pushed summaries)").
		Description("gradsweep_sweep_* as pushed at the end of each run with --pushgateway; one row per sweep (and shard).").
		Datasource(ds).Span(24).Height(8).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"count"})).
		WithTarget(tableQuery("A", `gradsweep_sweep_best_value{`+selSweep+`}`)).
		WithTarget(tableQuery("B", `gradsweep_sweep_duration_seconds{`+selSweep+`}`)).
		WithTarget(tableQuery("C", `gradsweep_sweep_iterations{`+selSweep+`}`)).
		WithTarget(tableQuery("D", `gradsweep_sweep_interrupted{`+selSweep+`}`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "__name__": true, "instance": true, "job": true},
			"renameByName": map[string]any{"Value #A": "best (mean over repeats)", "Value #B": "seconds",
				"Value #C": "weight updates", "Value #D": "interrupted"},
		}})
}

// gridWidth is the width of Grafana's grid.
const gridWidth = 24

// grid lays panels out on Grafana's 24-column grid as the SDK's classic
// dashboard builder did: left to right, a new line when a line is full;
// a row takes a full line below the tallest panel of the line before.
type grid struct {
	out        []dashboard.PanelOrRowPanel
	x, y, tall uint32
	errs       cog.BuildErrors
}

func (g *grid) panels(ps ...cog.Builder[dashboard.Panel]) {
	for _, b := range ps {
		p, err := b.Build()
		if err != nil {
			g.errs = append(g.errs, err.(cog.BuildErrors)...)
			continue
		}
		if p.GridPos == nil {
			p.GridPos = dashboard.NewGridPos()
		}
		if p.GridPos.X == 0 && p.GridPos.Y == 0 {
			p.GridPos.X, p.GridPos.Y = g.x, g.y
		}
		g.out = append(g.out, dashboard.PanelOrRowPanel{Panel: &p})
		g.x += p.GridPos.W
		g.tall = max(g.tall, p.GridPos.H)
		if g.x >= gridWidth {
			g.x, g.y, g.tall = 0, g.y+g.tall, 0
		}
	}
}

func (g *grid) row(b cog.Builder[dashboard.RowPanel]) {
	r, err := b.Build()
	if err != nil {
		g.errs = append(g.errs, err.(cog.BuildErrors)...)
		return
	}
	r.GridPos = &dashboard.GridPos{X: 0, Y: g.y + g.tall, H: 1, W: gridWidth}
	g.out = append(g.out, dashboard.PanelOrRowPanel{RowPanel: &r})
	g.x, g.y, g.tall = 0, r.GridPos.Y+1, 0
}
