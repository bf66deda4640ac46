// Package deploytest reads what deploy/ ships for Prometheus and Grafana -
// the alerting rules, their promtool tests and the dashboard - so that
// tests can check them against the metrics drwatch registers (this
// package's tests) and load them into a real Prometheus (the e2e tests).
// The daemon does not use it.
package deploytest

// Paths relative to the repository's root.
const (
	RulesFile     = "deploy/prometheus/drwatch-alerts.yml"
	RuleTestsFile = "deploy/prometheus/drwatch-alerts_test.yml"
	DashboardFile = "deploy/grafana/drwatch-dashboard.json"
	AlertingDoc   = "docs/alerting.md"
)
