package metrics

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

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
