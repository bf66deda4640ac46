package deploytest_test

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/testutil/deploytest"
)

const root = "../../.." // go test runs in this package's directory

func path(rel string) string { return filepath.Join(root, rel) }

// notExportedYet are names the contract reserves (docs/metrics.md,
// "Reserved names") that the rules and the dashboard use before drwatch
// exports them, so that they work the day it does. A name must leave this
// list when metrics.New registers it: TestReservedNamesNotRegisteredYet
// fails until it does, and from then on the name is checked against what
// is registered.
var notExportedYet = map[string]struct {
	why    string
	labels map[string][]string // label -> its values (nil: any value)
}{}

// metric is what an expression may read of a metric.
type metric struct {
	histogram bool
	// labels: label -> the values drwatch gives it (nil: any value, the
	// label's values come from the config or the data). A nil map: the
	// labels are not known (a vector without series), not checked.
	labels map[string]map[string]bool
}

// freeLabels take values from the config or the clusters, not from a
// list of drwatch's.
var freeLabels = []string{"pair", "index", "hook", "drill", "version", "revision", "goversion"}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// newMetrics returns drwatch's metrics with every vector given series, as
// internal/docs does: InitPair creates most, the rest exist once a state
// is set or an index is seen.
func newMetrics() *metrics.Metrics {
	m := metrics.New()
	m.InitPair("p")
	phases := make([]string, len(policy.Phases))
	for i, p := range policy.Phases {
		phases[i] = string(p)
	}
	m.SetState("p", string(policy.Healthy), phases)
	m.InitHook("h")
	m.Observe(observe.Observation{Pair: "p", Follower: observe.Follower{Reachable: true,
		Replication: observe.Replication{Indices: []observe.Index{{Name: "i", LagKnown: true}}}}})
	return m
}

// registered returns the name of every metric metrics.New registers, with
// series or without: its descriptors.
func registered(m *metrics.Metrics) map[string]bool {
	ch := make(chan *prometheus.Desc)
	go func() { m.Reg.Describe(ch); close(ch) }()
	out := map[string]bool{}
	for d := range ch {
		// Desc has no accessor for its name; its String() quotes it.
		_, rest, ok := strings.Cut(d.String(), `fqName: "`)
		if name, _, ok2 := strings.Cut(rest, `"`); ok && ok2 {
			out[name] = true
		}
	}
	return out
}

// exported returns what the rules and the dashboard may read: drwatch's
// registered metrics and the reserved names above.
func exported(t *testing.T) map[string]metric {
	t.Helper()
	m := newMetrics()
	fams, err := m.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metric{}
	for _, f := range fams {
		mt := metric{histogram: f.GetType().String() == "HISTOGRAM", labels: map[string]map[string]bool{}}
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if slices.Contains(freeLabels, lp.GetName()) {
					mt.labels[lp.GetName()] = nil
					continue
				}
				if mt.labels[lp.GetName()] == nil {
					mt.labels[lp.GetName()] = map[string]bool{}
				}
				mt.labels[lp.GetName()][lp.GetValue()] = true
			}
		}
		out[f.GetName()] = mt
	}
	for name := range registered(m) {
		if _, ok := out[name]; !ok {
			out[name] = metric{} // registered without series: labels unknown
		}
	}
	for name, r := range notExportedYet {
		if _, ok := out[name]; ok {
			continue // registered now: TestReservedNamesNotRegisteredYet says so
		}
		mt := metric{labels: map[string]map[string]bool{}}
		for l, vals := range r.labels {
			if vals == nil {
				mt.labels[l] = nil
				continue
			}
			mt.labels[l] = map[string]bool{}
			for _, v := range vals {
				mt.labels[l][v] = true
			}
		}
		out[name] = mt
	}
	return out
}

func TestReservedNamesNotRegisteredYet(t *testing.T) {
	reg := registered(metrics.New())
	for name, r := range notExportedYet {
		if reg[name] {
			t.Errorf("%s is registered by metrics.New now: remove it from notExportedYet (%q), so that the rules and the dashboard are checked against its registered labels", name, r.why)
		}
	}
}

// checkExpr parses a PromQL expression and reports every metric it reads
// that drwatch does not export, every label matcher on a label the metric
// does not have, and every value drwatch never gives such a label. It
// returns the expression's selectors.
func checkExpr(t *testing.T, where, expr string, exp map[string]metric) []deploytest.Selector {
	t.Helper()
	sels, err := deploytest.Selectors(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	for _, s := range sels {
		mt, ok := lookup(s.Metric, exp)
		if !ok {
			t.Errorf("%s: reads %s, which drwatch does not export (docs/metrics.md lists what it does)", where, s.Metric)
			continue
		}
		for _, m := range s.Matchers {
			if slices.Contains(targetLabels, m.Name) || mt.labels == nil {
				continue
			}
			values, has := mt.labels[m.Name]
			if !has {
				t.Errorf("%s: %s has no label %s (its labels: %s)", where, s.Metric, m.Name, strings.Join(slices.Sorted(maps.Keys(mt.labels)), ", "))
				continue
			}
			if values == nil {
				continue
			}
			for _, v := range literalValues(m) {
				if !values[v] {
					t.Errorf("%s: %s{%s=%q}: drwatch never gives %s that value (it gives %s)", where, s.Metric, m.Name, v, m.Name, strings.Join(slices.Sorted(maps.Keys(values)), ", "))
				}
			}
		}
	}
	return sels
}

// lookup finds a metric by the name an expression reads: a histogram's
// _bucket, _sum and _count series, and up (Prometheus's, per target).
func lookup(name string, exp map[string]metric) (metric, bool) {
	if name == "up" {
		return metric{labels: map[string]map[string]bool{}}, true
	}
	if mt, ok := exp[name]; ok && !mt.histogram {
		return mt, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if mt, found := exp[base]; ok && found && mt.histogram {
			if suffix == "_bucket" {
				mt.labels = maps.Clone(mt.labels)
				mt.labels["le"] = nil
			}
			return mt, true
		}
	}
	return metric{}, false
}

// literalValues returns the values an equality matcher, or a regex
// matcher that is an alternation of literals, selects; nil for others.
func literalValues(m *labels.Matcher) []string {
	switch m.Type {
	case labels.MatchEqual:
		return []string{m.Value}
	case labels.MatchRegexp:
		parts := strings.Split(m.Value, "|")
		for _, p := range parts {
			if p == "" || strings.ContainsAny(p, `\.+*?()[]{}^$`) {
				return nil
			}
		}
		return parts
	}
	return nil
}

// ---------------------------------------------------------------------------
// The alerting rules
// ---------------------------------------------------------------------------

var severities = []string{"critical", "warning"}

// jobRules are the rules that name the scrape job (docs/alerting.md and
// the rule file say so: adapting the job name touches only them).
var jobRules = []string{"DrwatchDown", "DrwatchNotScraped"}

func loadRules(t *testing.T) deploytest.RuleFile {
	t.Helper()
	f, err := deploytest.LoadRules(path(deploytest.RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Alerts()) == 0 {
		t.Fatalf("%s: no alerting rule", deploytest.RulesFile)
	}
	return f
}

func TestRules(t *testing.T) {
	f := loadRules(t)
	exp := exported(t)
	anchors := docAnchors(t)
	seen := map[string]bool{}
	groups := map[string]bool{}
	var namingJob []string
	for _, g := range f.Groups {
		if groups[g.Name] || !strings.HasPrefix(g.Name, "drwatch-") {
			t.Errorf("group %q: names are unique and start with drwatch-", g.Name)
		}
		groups[g.Name] = true
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert (%q): this file has alerting rules only", g.Name, r.Record)
				continue
			}
			where := deploytest.RulesFile + ": " + r.Alert
			if seen[r.Alert] || !strings.HasPrefix(r.Alert, "Drwatch") {
				t.Errorf("%s: alert names are unique and start with Drwatch", where)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			if !slices.Contains(severities, r.Labels["severity"]) {
				t.Errorf("%s: severity %q, want one of %v", where, r.Labels["severity"], severities)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			if want := deploytest.AlertingDoc + "#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook %q, want %q", where, r.Annotations["runbook"], want)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: %s has no heading \"### %s\"", where, deploytest.AlertingDoc, r.Alert)
			}
			for _, s := range checkExpr(t, where, r.Expr, exp) {
				for _, m := range s.Matchers {
					if m.Name != "job" {
						continue
					}
					if m.Type != labels.MatchEqual || m.Value != "drwatch" {
						t.Errorf("%s: %s: the rules assume job=\"drwatch\" (one name to adapt)", where, m)
					}
					if !slices.Contains(namingJob, r.Alert) {
						namingJob = append(namingJob, r.Alert)
					}
				}
			}
		}
	}
	if !slices.Equal(namingJob, jobRules) {
		t.Errorf("the rules that name the job are %v; the rule file and %s say %v", namingJob, deploytest.AlertingDoc, jobRules)
	}
	// Every heading of the doc's alert section is an alert.
	for a := range anchors {
		if strings.HasPrefix(a, "drwatch") && !slices.ContainsFunc(f.Alerts(), func(r deploytest.Rule) bool { return strings.ToLower(r.Alert) == a }) {
			t.Errorf("%s: the heading #%s names no alert of %s", deploytest.AlertingDoc, a, deploytest.RulesFile)
		}
	}
}

// docAnchors returns the anchors of the level-3 headings of
// docs/alerting.md (one per alert), as GitHub makes them for a heading
// that is one word: lower-cased.
func docAnchors(t *testing.T) map[string]bool {
	t.Helper()
	file, err := os.Open(path(deploytest.AlertingDoc))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	out := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if h, ok := strings.CutPrefix(line, "### "); ok && !fenced {
			out[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ruleTests is the part of a promtool test file this test reads.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert has a promtool case where it fires and one where it must not,
// and the test data uses drwatch's metric names, labels and values.
func TestRuleTestsCoverEveryAlert(t *testing.T) {
	f := loadRules(t)
	b, err := os.ReadFile(path(deploytest.RuleTestsFile))
	if err != nil {
		t.Fatal(err)
	}
	var rt ruleTests
	if err := yaml.Unmarshal(b, &rt); err != nil {
		t.Fatalf("%s: %v", deploytest.RuleTestsFile, err)
	}
	if !slices.Contains(rt.RuleFiles, filepath.Base(deploytest.RulesFile)) {
		t.Errorf("%s: rule_files %v does not load %s", deploytest.RuleTestsFile, rt.RuleFiles, filepath.Base(deploytest.RulesFile))
	}
	exp := exported(t)
	fires, quiet := map[string]int{}, map[string]int{}
	for i, tc := range rt.Tests {
		for _, s := range tc.InputSeries {
			checkExpr(t, deploytest.RuleTestsFile+": tests["+strconv.Itoa(i)+"] input series", s.Series, exp)
		}
		for _, a := range tc.AlertRuleTest {
			if !slices.ContainsFunc(f.Alerts(), func(r deploytest.Rule) bool { return r.Alert == a.Alertname }) {
				t.Errorf("%s: tests[%d] at %s: %s is not an alert of %s", deploytest.RuleTestsFile, i, a.EvalTime, a.Alertname, deploytest.RulesFile)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	for _, r := range f.Alerts() {
		if fires[r.Alert] == 0 {
			t.Errorf("%s: no case where %s fires", deploytest.RuleTestsFile, r.Alert)
		}
		if quiet[r.Alert] == 0 {
			t.Errorf("%s: no case where %s must not fire", deploytest.RuleTestsFile, r.Alert)
		}
	}
}

// ---------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------

// dashboardMetrics are what the dashboard must show.
var dashboardMetrics = []string{
	"drwatch_pair_state", "drwatch_leader_up", "drwatch_follower_remote_connected",
	"drwatch_replication_lag_operations", "drwatch_rpo_guard_passing",
	"drwatch_probe_duration_seconds_bucket", "drwatch_promotions_total",
	"drwatch_promotion_duration_seconds_sum", "drwatch_events_total",
	"drwatch_hook_deliveries_total", "drwatch_old_leader_unfenced",
	"drwatch_journal_write_errors_total",
}

const pairValue = "PAIR-VARIABLE" // what $pair expands to in this test

var (
	promDatasource = deploytest.Datasource{Type: "prometheus", UID: "${datasource}"}
	testVars       = map[string]string{"pair": pairValue, "__rate_interval": "1m", "__interval": "30s", "__range": "6h"}
)

func TestDashboard(t *testing.T) {
	d, err := deploytest.LoadDashboard(path(deploytest.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	exp := exported(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 39 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and schemaVersion 39 or later", d.UID, d.Title, d.SchemaVersion)
	}

	// The variables: the data source, and the pairs drwatch reports.
	if v, ok := d.Variable("datasource"); !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("want a variable datasource of type datasource and query \"prometheus\", have %+v", v)
	}
	v, ok := d.Variable("pair")
	if !ok || v.Type != "query" || !v.Multi || !v.IncludeAll || v.Datasource == nil || *v.Datasource != promDatasource {
		t.Errorf("want a variable pair of type query, multi-value with All, on ${datasource}; have %+v", v)
	}
	if q, err := v.QueryText(); err != nil {
		t.Error(err)
	} else {
		args, ok := strings.CutPrefix(q, "label_values(")
		args, ok2 := strings.CutSuffix(args, ")")
		sel, label, ok3 := strings.Cut(args, ",")
		if !ok || !ok2 || !ok3 || strings.TrimSpace(label) != "pair" {
			t.Errorf("variable pair: query %q, want label_values(<selector>, pair)", q)
		} else {
			for _, s := range checkExpr(t, "variable pair", sel, exp) {
				if mt, _ := lookup(s.Metric, exp); mt.labels != nil {
					if _, has := mt.labels["pair"]; !has {
						t.Errorf("variable pair: %s has no label pair", s.Metric)
					}
				}
			}
		}
	}

	ids := map[int]string{}
	used := map[string]bool{}
	for _, p := range d.AllPanels() {
		where := deploytest.DashboardFile + ": panel " + strconv.Quote(p.Title)
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("%s: id %d is missing or also %q's", where, p.ID, prev)
		}
		ids[p.ID] = p.Title
		if p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("%s: a panel needs a title and a gridPos", where)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != promDatasource || len(p.Targets) == 0 {
			t.Errorf("%s: a panel queries ${datasource} (type prometheus) at least once", where)
		}
		for _, tg := range p.Targets {
			where := where + " query " + tg.RefID
			if tg.Datasource != nil && *tg.Datasource != promDatasource {
				t.Errorf("%s: datasource %+v, want %+v", where, *tg.Datasource, promDatasource)
			}
			expr, err := deploytest.Expand(tg.Expr, testVars)
			if err != nil || strings.TrimSpace(expr) == "" {
				t.Errorf("%s: %q: %v", where, tg.Expr, err)
				continue
			}
			for _, s := range checkExpr(t, where, expr, exp) {
				used[s.Metric] = true
				mt, _ := lookup(s.Metric, exp)
				if _, perPair := mt.labels["pair"]; !perPair {
					continue
				}
				if !slices.ContainsFunc(s.Matchers, func(m *labels.Matcher) bool {
					return m.Name == "pair" && m.Type == labels.MatchRegexp && m.Value == pairValue
				}) {
					t.Errorf("%s: %s is not filtered by pair=~\"$pair\"", where, s.Metric)
				}
			}
		}
	}
	for _, name := range dashboardMetrics {
		if !used[name] {
			t.Errorf("%s: no panel shows %s", deploytest.DashboardFile, name)
		}
	}
	checkStatePanel(t, d)
}

// checkStatePanel checks the state timeline: its query turns each state
// into a number (drwatch_pair_state{state="s"} * n) and its value
// mappings turn each number back into that state's name, for every state
// the policy has.
func checkStatePanel(t *testing.T, d deploytest.Dashboard) {
	t.Helper()
	var panel *deploytest.Panel
	for _, p := range d.AllPanels() {
		if p.Type == "state-timeline" && len(p.Targets) == 1 && strings.Contains(p.Targets[0].Expr, "drwatch_pair_state") {
			panel = &p
			break
		}
	}
	if panel == nil {
		t.Fatalf("%s: no state-timeline panel over drwatch_pair_state", deploytest.DashboardFile)
	}
	expr, err := deploytest.Expand(panel.Targets[0].Expr, testVars)
	if err != nil {
		t.Fatal(err)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	coded := map[string]string{} // state -> number
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		b, ok := n.(*parser.BinaryExpr)
		if !ok || b.Op != parser.MUL {
			return nil
		}
		vs, ok1 := b.LHS.(*parser.VectorSelector)
		num, ok2 := b.RHS.(*parser.NumberLiteral)
		if !ok1 || !ok2 || vs.Name != "drwatch_pair_state" {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == "state" && m.Type == labels.MatchEqual {
				coded[m.Value] = strconv.FormatFloat(num.Val, 'f', -1, 64)
			}
		}
		return nil
	})
	for _, ph := range policy.Phases {
		n, ok := coded[string(ph)]
		if !ok {
			t.Errorf("panel %q: the query gives state %s no number", panel.Title, ph)
			continue
		}
		if text, ok := panel.MappedText(n); !ok || text != string(ph) {
			t.Errorf("panel %q: value %s is state %s, but its value mapping says %q", panel.Title, n, ph, text)
		}
	}
}

// ---------------------------------------------------------------------------
// The helpers themselves
// ---------------------------------------------------------------------------

func TestExpand(t *testing.T) {
	vars := map[string]string{"pair": "lab", "__rate_interval": "1m"}
	for in, want := range map[string]string{
		`rate(x{pair=~"$pair"}[$__rate_interval])`:   `rate(x{pair=~"lab"}[1m])`,
		`x{pair=~"${pair}"}`:                         `x{pair=~"lab"}`,
		`label_replace(x, "a", "$1", "b", "(.*)")`:   `label_replace(x, "a", "$1", "b", "(.*)")`,
		`x{pair=~"$pair"} and y{pair=~"$pair"} == 1`: `x{pair=~"lab"} and y{pair=~"lab"} == 1`,
	} {
		if got, err := deploytest.Expand(in, vars); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`x[$__range]`, `x{a="${pair:regex}"}`, `x{a="${pair"}`} {
		if got, err := deploytest.Expand(in, vars); err == nil {
			t.Errorf("Expand(%q) = %q, want an error", in, got)
		}
	}
}

func TestSelectors(t *testing.T) {
	sels, err := deploytest.Selectors(`histogram_quantile(0.9, sum by (le) (rate(a_bucket{pair="x"}[5m]))) / on() group_left {__name__="b"} or absent(up{job="j"})`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sels {
		names = append(names, s.Metric)
	}
	if !slices.Equal(names, []string{"a_bucket", "b", "up"}) || len(sels[0].Matchers) != 1 || sels[0].Matchers[0].Name != "pair" {
		t.Errorf("selectors = %+v", sels)
	}
	if _, err := deploytest.Selectors(`{__name__=~"drwatch_.*"}`); err == nil {
		t.Error("a metric name by regex must be an error: what it reads cannot be checked")
	}
	if _, err := deploytest.Selectors(`rate(x[5m]`); err == nil {
		t.Error("a syntax error must be an error")
	}
}

func TestShortenFor(t *testing.T) {
	in := []byte(`groups:
  - name: g
    rules:
      - alert: Long
        expr: up == 0
        for: 10m
        annotations: {summary: "keeps {{ $labels.job }}"}
      - alert: Short
        expr: up == 0
        for: 1s
      - alert: None
        expr: up == 0
`)
	out, err := deploytest.ShortenFor(in, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var f deploytest.RuleFile
	if err := yaml.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	r := f.Groups[0].Rules
	if r[0].For != "2s" || r[1].For != "1s" || r[2].For != "" || r[0].Annotations["summary"] != "keeps {{ $labels.job }}" || r[0].Expr != "up == 0" {
		t.Errorf("shortened:\n%s", out)
	}
	if _, err := deploytest.ShortenFor([]byte("groups: [{name: g, rules: [{alert: A, expr: up, for: soon}]}]"), time.Second); err == nil {
		t.Error("a bad for must be an error")
	}
}
