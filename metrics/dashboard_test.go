package metrics

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	sdkprom "github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

func parsePromQL(t *testing.T, expr string) parser.Expr {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(expr)
	if err != nil {
		t.Errorf("PromQL %q does not parse: %v", expr, err)
	}
	return e
}

// sdkClassicDashboard is the SDK's model of the classic dashboard JSON,
// deprecated for new dashboards (v2), and the reference the classic JSON
// that Dashboard writes for file provisioning is checked against.
//
//lint:ignore SA1019 the classic model is what Grafana's file provisioning loads
type sdkClassicDashboard = dashboard.Dashboard

func TestDashboardDecodesStrictly(t *testing.T) {
	b, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	// The SDK's strict decoder: unknown fields, missing required fields and
	// wrong types anywhere (panels, targets, options) are errors.
	var strict sdkClassicDashboard
	if err := strictError(strict.UnmarshalJSONStrict(b)); err != nil {
		t.Fatalf("strict decode with the SDK: %v", err)
	}
	// It does catch an unknown field deep inside a panel.
	bad := bytes.Replace(b, []byte(`"legendFormat"`), []byte(`"legendFormatX": "", "legendFormat"`), 1)
	if err := strictError(new(sdkClassicDashboard).UnmarshalJSONStrict(bad)); err == nil {
		t.Error("strict decode accepts an unknown field in a target")
	}
	// v0.0.22's strict decoder drops the panels it accepted (a typed-nil
	// error), so inspect the plain decoding, which refuses unknown
	// top-level fields.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d sdkClassicDashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("json decode with DisallowUnknownFields: %v", err)
	}
	if d.Uid == nil || *d.Uid != "gradsweep-sweeps" || d.Title == nil || *d.Title != "gradsweep sweeps" {
		t.Errorf("uid/title = %v/%v", d.Uid, d.Title)
	}

	vars := map[string]dashboard.VariableModel{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query == nil || v.Query.String == nil || *v.Query.String != "prometheus" {
		t.Errorf("datasource variable: %+v", v)
	}
	for _, name := range []string{"sweep", "trial"} {
		v, ok := vars[name]
		if !ok || v.Type != "query" || v.Query == nil || v.Query.String == nil || !strings.HasPrefix(*v.Query.String, "label_values(") {
			t.Errorf("%s variable: %+v", name, v)
		}
	}

	panels := 0
	titles := map[string]bool{}
	for _, pr := range d.Panels {
		if pr.RowPanel != nil {
			continue
		}
		p := pr.Panel
		panels++
		titles[deref(p.Title)] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", deref(p.Title))
		}
		for _, tg := range p.Targets {
			q, ok := tg.(*sdkprom.Dataquery)
			if !ok {
				t.Errorf("panel %q: target %T is not a Prometheus query", deref(p.Title), tg)
				continue
			}
			if q.Expr == "" {
				t.Errorf("panel %q: empty expr", deref(p.Title))
			}
			parsePromQL(t, ExpandQuery(q.Expr, "demo"))
		}
	}
	for _, want := range []string{"Loss of running trials", "Best value so far", "Trials by state",
		"Iterations/s and samples/s", "Iteration duration", "Divergences", "Trial hyperparameters"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}

	qs, err := DashboardQueries(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < panels+2 {
		t.Errorf("%d queries for %d panels and 2 query variables", len(qs), panels)
	}
	for _, q := range qs {
		for _, sweep := range []string{"", "demo", `we.ird"(sweep)\name`} {
			parsePromQL(t, ExpandQuery(q, sweep))
		}
	}
}

// strictError undoes the SDK's typed-nil error: UnmarshalJSONStrict returns
// an empty cog.BuildErrors, not nil, on success.
func strictError(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestExpandQuery(t *testing.T) {
	if got := ExpandQuery(`rate(x{sweep=~"$sweep",trial=~"${trial}"}[$__rate_interval])`, ""); got != `rate(x{sweep=~".*",trial=~".*"}[1m])` {
		t.Errorf("ExpandQuery = %s", got)
	}
	for _, name := range []string{"demo", "a.b", `we.ird"(sweep)\name+?[x]`, "ünï cødé"} {
		e := parsePromQL(t, ExpandQuery(`up{sweep=~"$sweep"}`, name))
		vs, ok := e.(*parser.VectorSelector)
		if !ok {
			t.Fatalf("%T", e)
		}
		var m *labels.Matcher
		for _, lm := range vs.LabelMatchers {
			if lm.Name == "sweep" {
				m = lm
			}
		}
		if m == nil || !m.Matches(name) || m.Matches(name+"x") || m.Matches("x"+name) {
			t.Errorf("sweep matcher %v for %q does not match exactly it", m, name)
		}
	}
}

func TestDashboardQueriesOfVariables(t *testing.T) {
	js := `{"panels":[{"type":"row","panels":[{"targets":[{"expr":"up"}]}]}],
	"templating":{"list":[
	 {"type":"query","query":{"query":"label_values(foo{a=\"b\"}, sweep)","refId":"X"}},
	 {"type":"query","query":"label_values(sweep)"},
	 {"type":"custom","query":"a,b"}]}}`
	qs, err := DashboardQueries([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(qs, ";") != `up;foo{a="b"}` {
		t.Errorf("queries = %q", qs)
	}
}

// deploy/grafana/dashboards/gradsweep.json is Dashboard()'s output
// (go generate ./metrics rewrites it).
func TestDashboardFileUpToDate(t *testing.T) {
	b, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile("../deploy/grafana/dashboards/gradsweep.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(b, '\n'), f) {
		t.Error("deploy/grafana/dashboards/gradsweep.json is stale: run go generate ./metrics")
	}
}
