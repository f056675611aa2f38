package metrics

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

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

// Dashboard returns the "gradsweep sweeps" Grafana dashboard as JSON, built
// with the Grafana Foundation SDK. It has a datasource variable (any
// Prometheus data source) and the query variables sweep and trial.
func Dashboard() ([]byte, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	q := func(expr, legend string) *prometheus.DataqueryBuilder {
		return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).
			LegendFormat(legend).EditorMode(prometheus.QueryEditorModeCode).Range()
	}
	rate := func(counter string) string {
		return fmt.Sprintf(`sum by (sweep) (rate(%s{%s}[$__rate_interval]))`, counter, selSweep)
	}
	quantile := func(hist string, phi string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (sweep, le) (rate(%s_bucket{%s}[$__rate_interval])))`, phi, hist, selSweep)
	}
	logScale := common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(10)
	tableLegend := common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementRight).ShowLegend(true).Calcs([]string{"lastNotNull", "min"})
	allOption := dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
		Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
	}
	queryVar := func(name, label, query string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).Label(label).
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
			Definition(query).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*").
			Current(allOption)
	}

	b := dashboard.NewDashboardBuilder(DashboardTitle).
		Uid(DashboardUID).
		Description("Live training sweeps of gradsweep: per-trial loss, best values, trial states, throughput, latency.").
		Tags([]string{"gradsweep"}).
		Refresh("5s").
		Time("now-30m", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(queryVar("sweep", "Sweep", `label_values(gradsweep_trials, sweep)`)).
		WithVariable(queryVar("trial", "Trial", `label_values(gradsweep_trial_info{sweep=~"$sweep"}, trial)`)).
		WithRow(dashboard.NewRowBuilder("Training").Id(100)).
		WithPanel(timeseries.NewPanelBuilder().Id(1).Title("Loss of running trials").
			Description("gradsweep_trial_loss: batch = latest batch loss, train/val = last finished epoch. Series end when a trial finishes.").
			Datasource(ds).Span(16).Height(10).
			ScaleDistribution(logScale).Legend(tableLegend).
			WithTarget(q(`gradsweep_trial_loss{`+selTrial+`,split=~"train|val"}`, "{{trial}} {{split}}")).
			WithTarget(q(`gradsweep_trial_loss{`+selTrial+`,split="batch"}`, "{{trial}} batch"))).
		WithPanel(stat.NewPanelBuilder().Id(2).Title("Best value so far").
			Description("Best over completed or pruned trials: lowest loss / time to target, highest accuracy.").
			Datasource(ds).Span(8).Height(10).Decimals(4).
			GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(q(`gradsweep_best_value{`+selSweep+`}`, "{{sweep}} {{metric}}"))).
		WithPanel(timeseries.NewPanelBuilder().Id(3).Title("Accuracy of running trials").
			Datasource(ds).Span(12).Height(8).Unit("percentunit").Min(0).Max(1).
			WithTarget(q(`gradsweep_trial_accuracy{`+selTrial+`}`, "{{trial}} {{split}}"))).
		WithPanel(timeseries.NewPanelBuilder().Id(4).Title("Trials by state").
			Datasource(ds).Span(12).Height(8).Min(0).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(40).
			WithTarget(q(`sum by (state) (gradsweep_trials{`+selSweep+`})`, "{{state}}"))).
		WithRow(dashboard.NewRowBuilder("Throughput").Id(101)).
		WithPanel(timeseries.NewPanelBuilder().Id(5).Title("Iterations/s and samples/s").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("ops").
			WithTarget(q(rate("gradsweep_iterations_total"), "{{sweep}} iterations/s")).
			WithTarget(q(rate("gradsweep_samples_total"), "{{sweep}} samples/s"))).
		WithPanel(timeseries.NewPanelBuilder().Id(6).Title("Iteration duration").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("s").
			WithTarget(q(quantile("gradsweep_iteration_duration_seconds", "0.5"), "{{sweep}} p50")).
			WithTarget(q(quantile("gradsweep_iteration_duration_seconds", "0.9"), "{{sweep}} p90")).
			WithTarget(q(quantile("gradsweep_iteration_duration_seconds", "0.99"), "{{sweep}} p99"))).
		WithPanel(timeseries.NewPanelBuilder().Id(7).Title("Epoch duration").
			Datasource(ds).Span(8).Height(8).Min(0).Unit("s").
			WithTarget(q(quantile("gradsweep_epoch_duration_seconds", "0.5"), "{{sweep}} p50")).
			WithTarget(q(quantile("gradsweep_epoch_duration_seconds", "0.9"), "{{sweep}} p90"))).
		WithPanel(stat.NewPanelBuilder().Id(8).Title("Divergences").
			Description("Trials that diverged (loss NaN, infinite or exploding).").
			Datasource(ds).Span(4).Height(8).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(q(`sum by (sweep) (gradsweep_divergences_total{`+selSweep+`})`, "{{sweep}}"))).
		WithPanel(timeseries.NewPanelBuilder().Id(9).Title("Epochs/s").
			Datasource(ds).Span(12).Height(8).Min(0).Unit("ops").
			WithTarget(q(rate("gradsweep_epochs_total"), "{{sweep}} epochs/s"))).
		WithRow(dashboard.NewRowBuilder("Trials").Id(102)).
		WithPanel(table.NewPanelBuilder().Id(10).Title("Trial hyperparameters").
			Description("Running trials and trials in their grace period, with their last epoch's loss.").
			Datasource(ds).Span(24).Height(10).
			Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"count"})).
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("trial")}).
			WithTarget(prometheus.NewDataqueryBuilder().Datasource(ds).RefId("A").
				Expr(`gradsweep_trial_info{` + selTrial + `}`).
				EditorMode(prometheus.QueryEditorModeCode).Format(prometheus.PromQueryFormatTable).Instant()).
			WithTarget(prometheus.NewDataqueryBuilder().Datasource(ds).RefId("B").
				Expr(`max by (sweep, trial) (gradsweep_trial_loss{` + selTrial + `,split="val"})`).
				EditorMode(prometheus.QueryEditorModeCode).Format(prometheus.PromQueryFormatTable).Instant()).
			WithTarget(prometheus.NewDataqueryBuilder().Datasource(ds).RefId("C").
				Expr(`max by (sweep, trial) (gradsweep_trial_epoch{` + selTrial + `})`).
				EditorMode(prometheus.QueryEditorModeCode).Format(prometheus.PromQueryFormatTable).Instant()).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value #A": true, "__name__": true, "instance": true, "job": true},
				"renameByName":  map[string]any{"Value #B": "val loss", "Value #C": "epoch"},
			}}))

	d, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("metrics: dashboard: %w", err)
	}
	return json.MarshalIndent(d, "", "  ")
}

// DashboardQueries returns every PromQL expression of a dashboard's JSON:
// the expr of each panel target, and the series selector inside each
// label_values(selector, label) query variable. Dashboard variables
// ($sweep, $__rate_interval, ...) are left as they are: see ExpandQuery.
func DashboardQueries(dashboardJSON []byte) ([]string, error) {
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
			Panels []struct { // collapsed rows hold their panels
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, fmt.Errorf("metrics: dashboard queries: %w", err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			if t.Expr != "" {
				out = append(out, t.Expr)
			}
		}
		for _, c := range p.Panels {
			for _, t := range c.Targets {
				if t.Expr != "" {
					out = append(out, t.Expr)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" || len(v.Query) == 0 {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var m struct {
				Query string `json:"query"`
			}
			if json.Unmarshal(v.Query, &m) != nil {
				continue
			}
			q = m.Query
		}
		if sel := labelValuesSelector(q); sel != "" {
			out = append(out, sel)
		}
	}
	return out, nil
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.+)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// labelValuesSelector is the selector of label_values(selector, label), or
// "" for another query (or label_values(label) without selector).
func labelValuesSelector(q string) string {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// Grafana's built-in interval variables, as ExpandQuery replaces them.
var builtinVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"${__rate_interval}", "1m",
	"$__interval", "15s",
	"${__interval}", "15s",
	"$__range", "1h",
	"${__range}", "1h",
)

// ExpandQuery substitutes a dashboard expression's variables as Grafana
// would: $sweep by the regular expression matching exactly sweep (or ".*"
// when sweep is ""), $trial by ".*" (all trials), $__rate_interval by 1m,
// $__interval by 15s and $__range by 1h. Values are escaped both as regular
// expressions and as PromQL string contents, so any sweep name is safe.
func ExpandQuery(expr, sweep string) string {
	sv := ".*"
	if sweep != "" {
		sv = promRegexString(sweep)
	}
	expr = builtinVars.Replace(expr)
	expr = strings.NewReplacer("${sweep}", sv, "$sweep", sv, "${trial}", ".*", "$trial", ".*").Replace(expr)
	return expr
}

// promRegexString escapes s to match itself literally in a PromQL
// double-quoted regex matcher: regex meta characters get a backslash, and
// then backslashes and quotes are escaped for the string literal.
func promRegexString(s string) string {
	s = regexp.QuoteMeta(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, `"`, `\"`)
}
