package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drwatch/drwatch/internal/observe"
)

// Sides of an Aiven pair (label values of side).
const (
	SideLeader   = "leader"
	SideFollower = "follower"
)

// IntegrationMissing is the integration status label value for a CCR
// integration the Aiven API does not list.
const IntegrationMissing = "missing"

// aivenMetrics are the metrics of Aiven pairs: what the Aiven API says of
// their services, only for pairs with an aiven block.
type aivenMetrics struct {
	AivenAPIUp             *prometheus.GaugeVec
	AivenAPIRequests       *prometheus.CounterVec
	AivenAPIErrors         *prometheus.CounterVec
	AivenReadingAge        *prometheus.GaugeVec
	AivenServiceState      *prometheus.GaugeVec
	AivenServiceNodes      *prometheus.GaugeVec
	AivenServiceNodesUp    *prometheus.GaugeVec
	AivenIntegrationActive *prometheus.GaugeVec
	AivenIntegrationStatus *prometheus.GaugeVec
}

func newAivenMetrics() aivenMetrics {
	return aivenMetrics{
		AivenAPIUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_api_up", Help: "1 if the last reading of the Aiven pair's services through the Aiven API succeeded, else 0.",
		}, []string{"pair"}),
		AivenAPIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_aiven_api_requests_total", Help: "HTTP requests made to the Aiven API by probe cycles (two per aiven.probe_interval), apart from drwatch_probe_http_requests_total.",
		}, []string{"pair"}),
		AivenAPIErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_aiven_api_errors_total", Help: "Readings of the Aiven API that failed, by failure class (the classes of drwatch_probe_failures_total).",
		}, []string{"pair", "class"}),
		AivenReadingAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_reading_age_seconds", Help: "Age of the Aiven reading at the last probe cycle: it is refreshed every aiven.probe_interval; the decision uses it only while at most 3 intervals old.",
		}, []string{"pair"}),
		AivenServiceState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_service_state", Help: "The Aiven service's state (RUNNING, REBUILDING, POWEROFF, REBALANCING) as last read: 1 for the current state, 0 for the others.",
		}, []string{"pair", "side", "state"}),
		AivenServiceNodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_service_nodes", Help: "Nodes of the Aiven service (node_states), as last read.",
		}, []string{"pair", "side"}),
		AivenServiceNodesUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_service_nodes_running", Help: "Nodes of the Aiven service in state running, as last read.",
		}, []string{"pair", "side"}),
		AivenIntegrationActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_integration_active", Help: "1 if the pair's cross-cluster replication integration (leader service to follower service) exists and is active, as last read, else 0.",
		}, []string{"pair"}),
		AivenIntegrationStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_aiven_integration_status", Help: "The CCR integration's status (running, starting, failed, inactive, unknown, or missing when the Aiven API lists none): 1 for the current one, 0 for the others.",
		}, []string{"pair", "status"}),
	}
}

func (a aivenMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.AivenAPIUp, a.AivenAPIRequests, a.AivenAPIErrors, a.AivenReadingAge, a.AivenServiceState,
		a.AivenServiceNodes, a.AivenServiceNodesUp, a.AivenIntegrationActive, a.AivenIntegrationStatus}
}

var integrationStatuses = append(append([]string(nil), observe.IntegrationStatuses...), IntegrationMissing)

// InitAiven creates the Aiven series of an Aiven pair at 0.
func (m *Metrics) InitAiven(pair string) {
	m.AivenAPIUp.WithLabelValues(pair)
	m.AivenAPIRequests.WithLabelValues(pair)
	m.AivenReadingAge.WithLabelValues(pair)
	m.AivenIntegrationActive.WithLabelValues(pair)
	for _, c := range observe.Classes {
		m.AivenAPIErrors.WithLabelValues(pair, string(c))
	}
	for _, side := range []string{SideLeader, SideFollower} {
		for _, s := range observe.AivenStates {
			m.AivenServiceState.WithLabelValues(pair, side, s)
		}
		m.AivenServiceNodes.WithLabelValues(pair, side)
		m.AivenServiceNodesUp.WithLabelValues(pair, side)
	}
	for _, s := range integrationStatuses {
		m.AivenIntegrationStatus.WithLabelValues(pair, s)
	}
}

// ForgetAiven deletes a pair's Aiven series (it left the config, or lost
// its aiven block).
func (m *Metrics) ForgetAiven(pair string) {
	l := prometheus.Labels{"pair": pair}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.AivenAPIUp, m.AivenAPIRequests, m.AivenAPIErrors, m.AivenReadingAge, m.AivenServiceState,
		m.AivenServiceNodes, m.AivenServiceNodesUp, m.AivenIntegrationActive, m.AivenIntegrationStatus,
	} {
		v.DeletePartialMatch(l)
	}
}

// observeAiven records an observation's Aiven reading. What a failed
// reading could not read keeps its last value; drwatch_aiven_api_up and
// the reading's age say how current it is.
func (m *Metrics) observeAiven(o observe.Observation) {
	a, p := o.Aiven, o.Pair
	m.AivenAPIRequests.WithLabelValues(p).Add(float64(o.AivenRequests))
	m.AivenAPIUp.WithLabelValues(p).Set(b2f(a.Failure == nil))
	m.AivenReadingAge.WithLabelValues(p).Set(max(a.Age(o.Time), 0).Seconds())
	if a.Failure != nil && o.AivenRequests > 0 { // a new failed reading, counted once
		m.AivenAPIErrors.WithLabelValues(p, string(a.Failure.Class)).Inc()
	}
	for side, s := range map[string]*observe.AivenService{SideLeader: a.Leader, SideFollower: a.Follower} {
		if s == nil {
			continue
		}
		for _, st := range observe.AivenStates {
			m.AivenServiceState.WithLabelValues(p, side, st).Set(b2f(s.State == st))
		}
		m.AivenServiceNodes.WithLabelValues(p, side).Set(float64(s.NodesTotal))
		m.AivenServiceNodesUp.WithLabelValues(p, side).Set(float64(s.NodesRunning))
	}
	if in := a.Integration; in != nil {
		status := in.Status
		if !in.Found {
			status = IntegrationMissing
		}
		for _, s := range integrationStatuses {
			m.AivenIntegrationStatus.WithLabelValues(p, s).Set(b2f(s == status))
		}
		m.AivenIntegrationActive.WithLabelValues(p).Set(b2f(in.Found && in.Active))
	}
}
