package metrics

import "github.com/prometheus/client_golang/prometheus"

// haMetrics are the lease's metrics (ha.enabled): which daemon holds each
// pair's lease, and how its rounds go.
type haMetrics struct {
	HALeader   *prometheus.GaugeVec
	HATerm     *prometheus.GaugeVec
	HARenewals *prometheus.CounterVec
	HAFailures *prometheus.CounterVec
}

func newHAMetrics() haMetrics {
	return haMetrics{
		HALeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_ha_leader", Help: "1 when this daemon holds the pair's lease and acts for it; 0 on a standby (ha.enabled).",
		}, []string{"pair"}),
		HATerm: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_ha_term", Help: "The lease term this daemon holds (0 on a standby).",
		}, []string{"pair"}),
		HARenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_ha_lease_renewals_total", Help: "Lease rounds in which this daemon took or renewed the pair's lease.",
		}, []string{"pair"}),
		HAFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_ha_lease_failures_total", Help: "Lease rounds that failed (the follower cluster unreachable or refusing, another daemon writing first, the lease lost).",
		}, []string{"pair"}),
	}
}

func (h haMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.HALeader, h.HATerm, h.HARenewals, h.HAFailures}
}

// InitHA creates a pair's lease series at 0.
func (m *Metrics) InitHA(pair string) {
	m.HALeader.WithLabelValues(pair)
	m.HATerm.WithLabelValues(pair)
	m.HARenewals.WithLabelValues(pair)
	m.HAFailures.WithLabelValues(pair)
}

// ForgetHA deletes a pair's lease series.
func (m *Metrics) ForgetHA(pair string) {
	l := prometheus.Labels{"pair": pair}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.HALeader, m.HATerm, m.HARenewals, m.HAFailures} {
		v.DeletePartialMatch(l)
	}
}

// Lease records a lease round of pair: held (and its term) or not, and
// whether the round failed.
func (m *Metrics) Lease(pair string, held bool, term int64, failed bool) {
	m.HALeader.WithLabelValues(pair).Set(b2f(held))
	if !held {
		term = 0
	}
	m.HATerm.WithLabelValues(pair).Set(float64(term))
	switch {
	case failed:
		m.HAFailures.WithLabelValues(pair).Inc()
	case held:
		m.HARenewals.WithLabelValues(pair).Inc()
	}
}
