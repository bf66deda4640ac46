// Package metrics defines drwatch's Prometheus metrics on a registry the
// caller owns. Metrics observe; nothing in drwatch reads them to decide.
package metrics

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// Probe targets (label values of target).
const (
	TargetLeader   = "leader"
	TargetFollower = "follower"
	TargetCycle    = "cycle"
)

// Metrics holds every drwatch metric.
type Metrics struct {
	Reg *prometheus.Registry

	BuildInfo              *prometheus.GaugeVec
	ConfigReloadSuccessful prometheus.Gauge
	ConfigReloadTimestamp  prometheus.Gauge
	LeaderUp               *prometheus.GaugeVec
	LeaderHealth           *prometheus.GaugeVec
	FollowerUp             *prometheus.GaugeVec
	RemoteConnected        *prometheus.GaugeVec
	RemoteNodesConnected   *prometheus.GaugeVec
	FollowerWitness        *prometheus.GaugeVec
	WitnessPending         *prometheus.GaugeVec
	ReplicationLag         *prometheus.GaugeVec
	ReplicationLagTotal    *prometheus.GaugeVec
	ReplicationLagUnknown  *prometheus.GaugeVec
	ReplicationViewLag     *prometheus.GaugeVec
	ReplicationDisagreeing *prometheus.GaugeVec
	ReplicationIndices     *prometheus.GaugeVec
	ReplicationFailedReads *prometheus.GaugeVec
	ReplicationReadable    *prometheus.GaugeVec
	AutofollowRules        *prometheus.GaugeVec
	ProbeDuration          *prometheus.HistogramVec
	ProbeFailures          *prometheus.CounterVec
	ProbeRequests          *prometheus.CounterVec
	LastProbeTimestamp     *prometheus.GaugeVec

	PairState            *prometheus.GaugeVec
	Promotions           *prometheus.CounterVec
	PromotionDuration    *prometheus.HistogramVec
	PromotionIndices     *prometheus.GaugeVec
	LeaderOutage         *prometheus.GaugeVec
	LeaderFailedProbes   *prometheus.GaugeVec
	OldLeaderUnfenced    *prometheus.GaugeVec
	RPOGuardPassing      *prometheus.GaugeVec
	LastGoodLagTimestamp *prometheus.GaugeVec
	LeaseRemaining       *prometheus.GaugeVec
	Events               *prometheus.CounterVec
	WouldPromote         *prometheus.CounterVec
	JournalErrors        prometheus.Counter
	RecordErrors         prometheus.Counter
	HookDeliveries       *prometheus.CounterVec

	DrillLastSuccess *prometheus.GaugeVec
	DrillRuns        *prometheus.CounterVec
	DrillDuration    *prometheus.GaugeVec
	ReadinessScore   *prometheus.GaugeVec

	aivenMetrics
	haMetrics

	mu      sync.Mutex
	indices map[string]map[string]bool // pair -> index label values set
}

// New creates the metrics and registers them, with the Go and process
// collectors, on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Reg:     prometheus.NewRegistry(),
		indices: map[string]map[string]bool{},
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_build_info", Help: "Build information; the value is always 1.",
		}, []string{"version", "revision", "goversion"}),
		ConfigReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drwatch_config_last_reload_successful", Help: "1 if the last configuration load or reload succeeded, 0 if it was rejected (the previous configuration keeps running).",
		}),
		ConfigReloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drwatch_config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully.",
		}),
		LeaderUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_leader_up", Help: "1 if the last probe reached the leader cluster and it answered its health, else 0.",
		}, []string{"pair"}),
		LeaderHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_leader_health_status", Help: "Leader cluster health colour from the last probe: 1 for the current colour, 0 for the others (all 0 when unreachable).",
		}, []string{"pair", "status"}),
		FollowerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_follower_up", Help: "1 if the last probe reached the follower cluster, else 0.",
		}, []string{"pair"}),
		RemoteConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_follower_remote_connected", Help: "1 if the follower reports its remote-cluster connection to the leader alias as connected (the witness), else 0.",
		}, []string{"pair"}),
		FollowerWitness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_follower_witness", Help: "The active witness's verdict in the last probe, 1 for the current verdict and 0 for the others: reached (a request drwatch made through the follower crossed its link and the leader answered), unreached (the follower's request to the leader failed or has had no answer for probe_timeout), none (the follower did not answer: no witness).",
		}, []string{"pair", "verdict"}),
		WitnessPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_follower_witness_pending_seconds", Help: "How long the follower's request to the leader (the active witness) has been waiting for an answer; 0 when the last one was answered.",
		}, []string{"pair"}),
		RemoteNodesConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_follower_remote_connections", Help: "Nodes (sniff mode) or sockets (proxy mode) the follower holds open to the leader.",
		}, []string{"pair"}),
		ReplicationLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_lag_operations", Help: "Operations the follower index is behind its leader index, measured from both clusters' own sequence numbers: per shard, the leader primary's max_seq_no minus the follower primary's local checkpoint. Keeps its last known value while the lag cannot be measured (the leader down, a primary not started); see drwatch_replication_lag_unknown_indices.",
		}, []string{"pair", "index"}),
		ReplicationLagTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_known_lag_operations", Help: "Sum of the known lag of all in-scope follower indices of the pair.",
		}, []string{"pair"}),
		ReplicationLagUnknown: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_lag_unknown_indices", Help: "In-scope follower indices whose lag could not be measured in the last probe.",
		}, []string{"pair"}),
		ReplicationViewLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_follower_view_lag_operations", Help: "The lag the follower believes it has (follower_stats: its last view of the leader's checkpoint minus its own), summed over in-scope syncing indices. Not a measurement: it only moves as the follower fetches. Compare with drwatch_replication_lag_operations.",
		}, []string{"pair"}),
		ReplicationDisagreeing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_lag_disagreeing_indices", Help: "In-scope follower indices whose follower view of the lag differs from the lag measured on both clusters.",
		}, []string{"pair"}),
		ReplicationIndices: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_indices", Help: "In-scope follower indices by state (syncing: running shard tasks; not_syncing: paused, failed or bootstrapping).",
		}, []string{"pair", "state"}),
		ReplicationFailedReads: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_failed_read_requests", Help: "failed_read_requests summed over in-scope syncing indices, as follower_stats reports it (resets when shard tasks restart). Rising while the leader checkpoint is frozen: the follower has lost the leader.",
		}, []string{"pair"}),
		ReplicationReadable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_replication_stats_up", Help: "1 if the last probe could read replication state from the follower, else 0.",
		}, []string{"pair"}),
		AutofollowRules: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_autofollow_rules", Help: "Autofollow rules on the follower.",
		}, []string{"pair"}),
		ProbeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "drwatch_probe_duration_seconds", Help: "Probe latency: leader health call, follower remote-info call, and the whole cycle.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"pair", "target"}),
		ProbeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_probe_failures_total", Help: "Failed probe calls by target and failure class.",
		}, []string{"pair", "target", "class"}),
		ProbeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_probe_http_requests_total", Help: "HTTP requests made by probe cycles.",
		}, []string{"pair"}),
		LastProbeTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_last_probe_timestamp_seconds", Help: "When the last probe cycle of the pair started.",
		}, []string{"pair"}),
		PairState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_pair_state", Help: "The pair's decision state: 1 for the current state, 0 for the others.",
		}, []string{"pair", "state"}),
		Promotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_promotions_total", Help: "Promotion attempts by result (success or failure).",
		}, []string{"pair", "result"}),
		PromotionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "drwatch_promotion_duration_seconds", Help: "How long promotion attempts took.",
			Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"pair"}),
		PromotionIndices: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_promotion_indices", Help: "Indices of the last promotion attempt by outcome (promoted, failed, unassigned).",
		}, []string{"pair", "outcome"}),
		LeaderOutage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_leader_unreachable_seconds", Help: "How long drwatch's leader probes have been failing without a break (0 when the leader answers). Compare with leader_down_after.",
		}, []string{"pair"}),
		LeaderFailedProbes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_leader_failed_probes", Help: "Leader probes failed in a row. Compare with min_failed_probes.",
		}, []string{"pair"}),
		OldLeaderUnfenced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_old_leader_unfenced", Help: "1 while the old leader answers again after the promotion and its copies of the promoted indices are not write-blocked: both sides may take writes.",
		}, []string{"pair"}),
		RPOGuardPassing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_rpo_guard_passing", Help: "1 if the RPO guard would allow an unattended promotion now, else 0.",
		}, []string{"pair"}),
		LeaseRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_retention_lease_remaining_seconds", Help: "How long the follower's retention lease on the leader has left: the leader's index.soft_deletes.retention_lease.period while the follower fetches, counting down from when it was first seen not fetching (an index paused or failed, its link down or hanging). At 0 the follower can never resume.",
		}, []string{"pair"}),
		LastGoodLagTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_last_good_lag_timestamp_seconds", Help: "When the last complete lag reading was taken with the leader and the follower's link up (the RPO guard's input).",
		}, []string{"pair"}),
		HookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_hook_deliveries_total", Help: "Event deliveries to hooks, by hook, event and result: success, failure (refused, or every attempt failed), dropped (the hook's queue was full).",
		}, []string{"hook", "event", "result"}),
		DrillLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_drill_last_success_timestamp_seconds", Help: "When the drill last passed (Unix seconds); absent until it has passed once since drwatch started or in its reports.",
		}, []string{"drill"}),
		DrillRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_drill_runs_total", Help: "Drill runs, by drill and result: passed, failed, skipped (an incident, a pause, a promotion or another drill of the pair).",
		}, []string{"drill", "result"}),
		DrillDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_drill_duration_seconds", Help: "How long the drill's last run took, in seconds.",
		}, []string{"drill"}),
		ReadinessScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drwatch_readiness_score", Help: "The share of readiness checks that passed in the pair's last readiness drill (a warning counts half), 0 to 1.",
		}, []string{"pair"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_events_total", Help: "Events raised, by name (docs/events.md).",
		}, []string{"pair", "event"}),
		JournalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "drwatch_journal_write_errors_total", Help: "Journal writes that failed. drwatch does not act on a decision it could not journal: alert on any increase.",
		}),
		RecordErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "drwatch_record_write_errors_total", Help: "Writes of the decision inputs' record (drwatch replay) that failed. Decisions are not affected; the record has a gap.",
		}),
		WouldPromote: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drwatch_dry_run_would_promote_total", Help: "Decisions in dry-run mode where any other mode would have promoted.",
		}, []string{"pair"}),
	}
	m.aivenMetrics = newAivenMetrics()
	m.Reg.MustRegister(m.aivenMetrics.collectors()...)
	m.haMetrics = newHAMetrics()
	m.Reg.MustRegister(m.haMetrics.collectors()...)
	m.Reg.MustRegister(
		m.PairState, m.Promotions, m.PromotionDuration, m.PromotionIndices, m.LeaderOutage,
		m.LeaderFailedProbes, m.RPOGuardPassing, m.LastGoodLagTimestamp, m.LeaseRemaining, m.Events, m.WouldPromote,
		m.OldLeaderUnfenced, m.JournalErrors, m.RecordErrors, m.HookDeliveries,
		m.DrillLastSuccess, m.DrillRuns, m.DrillDuration, m.ReadinessScore,
	)
	m.Reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.BuildInfo, m.ConfigReloadSuccessful, m.ConfigReloadTimestamp,
		m.LeaderUp, m.LeaderHealth, m.FollowerUp, m.RemoteConnected, m.RemoteNodesConnected, m.FollowerWitness, m.WitnessPending,
		m.ReplicationLag, m.ReplicationLagTotal, m.ReplicationLagUnknown, m.ReplicationIndices,
		m.ReplicationViewLag, m.ReplicationDisagreeing,
		m.ReplicationFailedReads, m.ReplicationReadable, m.AutofollowRules,
		m.ProbeDuration, m.ProbeFailures, m.ProbeRequests, m.LastProbeTimestamp,
	)
	m.BuildInfo.WithLabelValues(buildinfo.Version, buildinfo.Revision, buildinfo.GoVersion()).Set(1)
	return m
}

var healthColours = []string{"green", "yellow", "red"}

// InitPair creates every label combination of a pair at 0, so dashboards
// and alerts see series before the first probe.
func (m *Metrics) InitPair(pair string) {
	m.LeaderUp.WithLabelValues(pair)
	m.FollowerUp.WithLabelValues(pair)
	m.RemoteConnected.WithLabelValues(pair)
	m.RemoteNodesConnected.WithLabelValues(pair)
	for _, v := range observe.Verdicts {
		m.FollowerWitness.WithLabelValues(pair, string(v))
	}
	m.WitnessPending.WithLabelValues(pair)
	m.LeaseRemaining.WithLabelValues(pair).Set((12 * time.Hour).Seconds()) // the default period, until the pair's state says
	m.ReplicationLagTotal.WithLabelValues(pair)
	m.ReplicationLagUnknown.WithLabelValues(pair)
	m.ReplicationViewLag.WithLabelValues(pair)
	m.ReplicationDisagreeing.WithLabelValues(pair)
	m.ReplicationFailedReads.WithLabelValues(pair)
	m.ReplicationReadable.WithLabelValues(pair)
	m.AutofollowRules.WithLabelValues(pair)
	m.ProbeRequests.WithLabelValues(pair)
	m.LastProbeTimestamp.WithLabelValues(pair)
	for _, c := range healthColours {
		m.LeaderHealth.WithLabelValues(pair, c)
	}
	for _, s := range []string{observe.StateSyncing, observe.StateNotSyncing} {
		m.ReplicationIndices.WithLabelValues(pair, s)
	}
	for _, t := range []string{TargetLeader, TargetFollower, TargetCycle} {
		m.ProbeDuration.WithLabelValues(pair, t)
	}
	for _, r := range []string{"success", "failure"} {
		m.Promotions.WithLabelValues(pair, r)
	}
	for _, o := range []string{"promoted", "failed"} {
		m.PromotionIndices.WithLabelValues(pair, o)
	}
	// Every event at 0, so that increase() sees its first occurrence.
	for _, ev := range config.Events {
		m.Events.WithLabelValues(pair, ev)
	}
	m.PromotionDuration.WithLabelValues(pair)
	m.LeaderOutage.WithLabelValues(pair)
	m.LeaderFailedProbes.WithLabelValues(pair)
	m.OldLeaderUnfenced.WithLabelValues(pair)
	m.RPOGuardPassing.WithLabelValues(pair)
	m.LastGoodLagTimestamp.WithLabelValues(pair)
	m.WouldPromote.WithLabelValues(pair)
	for _, t := range []string{TargetLeader, TargetFollower} {
		for _, c := range observe.Classes {
			m.ProbeFailures.WithLabelValues(pair, t, string(c))
		}
	}
}

// ForgetPair deletes every series of a pair (it left the config).
func (m *Metrics) ForgetPair(pair string) {
	l := prometheus.Labels{"pair": pair}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.LeaderUp, m.LeaderHealth, m.FollowerUp, m.RemoteConnected, m.RemoteNodesConnected, m.FollowerWitness, m.WitnessPending,
		m.ReplicationLag, m.ReplicationLagTotal, m.ReplicationLagUnknown, m.ReplicationIndices,
		m.ReplicationViewLag, m.ReplicationDisagreeing,
		m.ReplicationFailedReads, m.ReplicationReadable, m.AutofollowRules, m.ProbeDuration,
		m.ProbeFailures, m.ProbeRequests, m.LastProbeTimestamp,
		m.PairState, m.Promotions, m.PromotionDuration, m.PromotionIndices, m.LeaderOutage,
		m.LeaderFailedProbes, m.RPOGuardPassing, m.LastGoodLagTimestamp, m.LeaseRemaining, m.Events, m.WouldPromote,
		m.OldLeaderUnfenced,
	} {
		v.DeletePartialMatch(l)
	}
	m.ForgetAiven(pair)
	m.ForgetHA(pair)
	m.mu.Lock()
	delete(m.indices, pair)
	m.mu.Unlock()
}

// SetState sets drwatch_pair_state: 1 for the current phase, 0 for the
// others (phases is the full list, so every series exists).
func (m *Metrics) SetState(pair, current string, phases []string) {
	for _, p := range phases {
		m.PairState.WithLabelValues(pair, p).Set(b2f(p == current))
	}
}

// Observe records one observation.
func (m *Metrics) Observe(o observe.Observation) {
	p := o.Pair
	m.LastProbeTimestamp.WithLabelValues(p).Set(float64(o.Time.UnixNano()) / 1e9)
	m.ProbeRequests.WithLabelValues(p).Add(float64(o.Requests))
	m.ProbeDuration.WithLabelValues(p, TargetCycle).Observe(o.Duration.Seconds())

	m.LeaderUp.WithLabelValues(p).Set(b2f(o.Leader.Reachable))
	for _, c := range healthColours {
		m.LeaderHealth.WithLabelValues(p, c).Set(b2f(o.Leader.Health == c))
	}
	m.ProbeDuration.WithLabelValues(p, TargetLeader).Observe(o.Leader.Latency.Seconds())
	m.fail(p, TargetLeader, o.Leader.Failure)
	if o.Aiven != nil {
		m.observeAiven(o)
	}

	f := o.Follower
	m.FollowerUp.WithLabelValues(p).Set(b2f(f.Reachable))
	m.ProbeDuration.WithLabelValues(p, TargetFollower).Observe(f.Latency.Seconds())
	m.fail(p, TargetFollower, firstFailure(f.Remote.Failure, f.Replication.Failure, f.Autofollow.Failure))
	if f.Remote.Failure == nil {
		m.RemoteConnected.WithLabelValues(p).Set(b2f(f.Remote.Connected))
		m.RemoteNodesConnected.WithLabelValues(p).Set(float64(f.Remote.NodesConnected + f.Remote.ProxySocketsConnected))
	}
	if f.Witness.Verdict != "" {
		for _, v := range observe.Verdicts {
			m.FollowerWitness.WithLabelValues(p, string(v)).Set(b2f(f.Witness.Verdict == v))
		}
		m.WitnessPending.WithLabelValues(p).Set(f.Witness.Pending.Seconds())
	}
	if f.Autofollow.Failure == nil {
		m.AutofollowRules.WithLabelValues(p).Set(float64(len(f.Autofollow.Rules)))
	}

	r := f.Replication
	m.ReplicationReadable.WithLabelValues(p).Set(b2f(r.Failure == nil))
	if r.Failure != nil {
		return // keep the last known lag
	}
	m.ReplicationIndices.WithLabelValues(p, observe.StateSyncing).Set(float64(r.Syncing))
	m.ReplicationIndices.WithLabelValues(p, observe.StateNotSyncing).Set(float64(r.Stopped))
	m.ReplicationLagTotal.WithLabelValues(p).Set(float64(r.TotalLag))
	m.ReplicationFailedReads.WithLabelValues(p).Set(float64(r.FailedReadRequests))
	m.ReplicationViewLag.WithLabelValues(p).Set(float64(r.ViewLag()))
	m.ReplicationDisagreeing.WithLabelValues(p).Set(float64(r.Disagreeing()))
	unknown := 0
	seen := make(map[string]bool, len(r.Indices))
	for _, ix := range r.Indices {
		seen[ix.Name] = true
		if !ix.LagKnown {
			unknown++
			m.ReplicationLag.WithLabelValues(p, ix.Name) // keep the last value
			continue
		}
		m.ReplicationLag.WithLabelValues(p, ix.Name).Set(float64(ix.Lag))
	}
	m.ReplicationLagUnknown.WithLabelValues(p).Set(float64(unknown))
	m.mu.Lock()
	for name := range m.indices[p] {
		if !seen[name] {
			m.ReplicationLag.DeleteLabelValues(p, name) // no longer a follower index in scope
		}
	}
	m.indices[p] = seen
	m.mu.Unlock()
}

func (m *Metrics) fail(pair, target string, f *observe.Failure) {
	if f != nil {
		m.ProbeFailures.WithLabelValues(pair, target, string(f.Class)).Inc()
	}
}

func firstFailure(fs ...*observe.Failure) *observe.Failure {
	for _, f := range fs {
		if f != nil {
			return f
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// FormatFloat is used by tests to compare metric values.
func FormatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// InitHook creates a hook's delivery series at 0 for every event (an
// incident receiver also gets the resolves its events imply, and any
// hook the test event), so that an alert on failures sees the first one.
func (m *Metrics) InitHook(hook string) {
	for _, ev := range append(slices.Clone(config.Events), "test") {
		for _, r := range []string{"success", "failure", "dropped"} {
			m.HookDeliveries.WithLabelValues(hook, ev, r)
		}
	}
}

// InitDrill creates a drill's run series at 0 for every result.
func (m *Metrics) InitDrill(drill string) {
	for _, r := range []string{"passed", "failed", "skipped"} {
		m.DrillRuns.WithLabelValues(drill, r)
	}
}
