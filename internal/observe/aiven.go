package observe

import (
	"fmt"
	"strings"
	"time"
)

// Aiven service states, as the Aiven API spells them.
const (
	AivenRunning     = "RUNNING"
	AivenRebuilding  = "REBUILDING"
	AivenPoweroff    = "POWEROFF"
	AivenRebalancing = "REBALANCING"
)

// AivenStates lists the service states, for metric labels.
var AivenStates = []string{AivenRunning, AivenRebuilding, AivenPoweroff, AivenRebalancing}

// Aiven node states (node_states[].state). Leaving, setting up a VM and
// syncing data are the steps of a node recycle (a maintenance update, a
// plan change, a node replacement): the service is being rebalanced
// onto new nodes, not failing.
const (
	NodeRunning     = "running"
	NodeLeaving     = "leaving"
	NodeSettingUpVM = "setting_up_vm"
	NodeSyncingData = "syncing_data"
	NodeTimingOut   = "timing_out"
	NodeUnknown     = "unknown"
)

// Integration statuses (integration_status.state.status).
const (
	IntegrationRunning  = "running"
	IntegrationStarting = "starting"
	IntegrationFailed   = "failed"
	IntegrationInactive = "inactive"
	IntegrationUnknown  = "unknown"
)

// IntegrationStatuses lists the integration statuses, for metric labels.
var IntegrationStatuses = []string{IntegrationRunning, IntegrationStarting, IntegrationFailed, IntegrationInactive, IntegrationUnknown}

// Aiven is one reading of an Aiven pair's services through the Aiven API:
// both services (GET service, which includes their node states and
// integrations) and the cross-cluster-replication integration from the
// leader service to the follower service. It is the control plane's view,
// beside what OpenSearch itself answers; it never replaces it.
type Aiven struct {
	// ReadAt is when the reading was taken: the start of the probe cycle
	// that read it. An observation carries the last reading between
	// refreshes, so ReadAt may be earlier than the observation's Time.
	ReadAt time.Time `json:"read_at"`
	// Interval is the pair's aiven.probe_interval when it was read: how
	// often the reading is refreshed. The decision core judges its
	// freshness by it.
	Interval time.Duration `json:"probe_interval_ns"`
	// Failure is why the reading (or part of it) failed: the first failed
	// call's class, mapped onto Class, and its message (token-free).
	Failure *Failure `json:"failure,omitempty"`
	// Leader and Follower are the services as read; nil when the call
	// for that service failed.
	Leader   *AivenService `json:"leader_service,omitempty"`
	Follower *AivenService `json:"follower_service,omitempty"`
	// Integration is the CCR integration whose source is the leader
	// service and destination the follower service; nil when neither
	// service could be read (unknown, not absent).
	Integration *AivenIntegration `json:"integration,omitempty"`
}

// Age is how old the reading is at t (negative when it is dated after t).
func (a *Aiven) Age(t time.Time) time.Duration { return t.Sub(a.ReadAt) }

// AivenService is one service as the Aiven API describes it.
type AivenService struct {
	Name         string `json:"name"`
	State        string `json:"state"` // RUNNING, REBUILDING, POWEROFF, REBALANCING
	NodesTotal   int    `json:"nodes_total"`
	NodesRunning int    `json:"nodes_running"`
	// NotRunning are the nodes in another state than running, by name.
	NotRunning []AivenNode `json:"nodes_not_running,omitempty"`
}

// AivenNode is a node of a service and its state.
type AivenNode struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// AllRunning reports whether the service has nodes and every one of them
// runs.
func (s *AivenService) AllRunning() bool {
	return s.NodesTotal > 0 && s.NodesRunning == s.NodesTotal
}

// Recycling reports whether Aiven is moving the service onto other nodes:
// the state is REBALANCING, or a node is leaving, being set up or
// syncing data (a node recycle). Replication pauses meanwhile.
func (s *AivenService) Recycling() bool {
	if s.State == AivenRebalancing {
		return true
	}
	for _, n := range s.NotRunning {
		switch n.State {
		case NodeLeaving, NodeSettingUpVM, NodeSyncingData:
			return true
		}
	}
	return false
}

// Nodes says in words how many nodes run and what the others do:
// "3/3 nodes running", "2/3 nodes running (os-prod-3 leaving)".
func (s *AivenService) Nodes() string {
	out := fmt.Sprintf("%d/%d nodes running", s.NodesRunning, s.NodesTotal)
	if len(s.NotRunning) == 0 {
		return out
	}
	others := make([]string, len(s.NotRunning))
	for i, n := range s.NotRunning {
		others[i] = n.Name + " " + n.State
	}
	return out + " (" + strings.Join(others, ", ") + ")"
}

// AivenIntegration is the pair's cross-cluster-replication integration.
type AivenIntegration struct {
	// Found is false when neither service lists it: the follower is
	// standalone (promoted, or never made a follower, outside drwatch).
	Found  bool   `json:"found"`
	ID     string `json:"id,omitempty"`
	Active bool   `json:"active"`
	// Status is running, starting, failed, inactive or unknown ("" when
	// the API gave none).
	Status string `json:"status,omitempty"`
}
