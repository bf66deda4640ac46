package drill

import (
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The aiven check judges the probe's reading of the Aiven API (the shapes
// of observe.Aiven, as internal/probe reads them: docs/aiven.md "Probes"
// and "REST shapes"): whatever would make a promotion through it fail,
// fails; what would slow it, warns.
func TestJudgeAiven(t *testing.T) {
	a := &config.Aiven{Project: "acme", LeaderService: "os-prod", FollowerService: "os-dr"}
	running := func(name string) *observe.AivenService {
		return &observe.AivenService{Name: name, State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3}
	}
	good := func() *observe.Aiven {
		return &observe.Aiven{Leader: running("os-prod"), Follower: running("os-dr"),
			Integration: &observe.AivenIntegration{Found: true, ID: "2b8e", Active: true, Status: "running"}}
	}
	obs := func(r *observe.Aiven) observe.Observation { return observe.Observation{Aiven: r} }

	c := judgeAiven(obs(good()), a)
	requirePass(t, c)
	if !strings.Contains(c.Detail, "integration 2b8e os-prod -> os-dr active (running)") || !strings.Contains(c.Detail, "cannot be tried without promoting") {
		t.Fatalf("pass detail: %s", c.Detail)
	}

	if c := judgeAiven(obs(nil), a); c.Result != Fail {
		t.Fatalf("no reading: %+v", c)
	}
	r := good()
	r.Failure = &observe.Failure{Class: observe.ClassAuth, Status: 401, Message: "the Aiven API refused the token"}
	requireItem(t, judgeAiven(obs(r), a), Fail, "", "the Aiven API refused the token")
	r = good()
	r.Failure = &observe.Failure{Class: observe.ClassHTTP5xx, Status: 503, Message: "HTTP 503"}
	if c := judgeAiven(obs(r), a); c.Result != Fail || !strings.Contains(c.Detail, "would fail now") {
		t.Fatalf("API failing: %+v", c)
	}
	r = good()
	r.Integration = &observe.AivenIntegration{}
	requireItem(t, judgeAiven(obs(r), a), Fail, "no opensearch_cross_cluster_replication integration from os-prod to os-dr", "standalone")
	r = good()
	r.Integration.Status = observe.IntegrationFailed
	requireItem(t, judgeAiven(obs(r), a), Fail, "the integration 2b8e is failed")
	r = good()
	r.Follower.State = observe.AivenPoweroff
	requireItem(t, judgeAiven(obs(r), a), Fail, "the follower service os-dr is POWEROFF")
	r = good()
	r.Integration.Active, r.Integration.Status = false, "starting"
	requireItem(t, judgeAiven(obs(r), a), Warn, "the integration 2b8e is not active (status starting)")
}

// An Aiven pair's promotion makes no replication-plugin write on the
// follower: the credentials check does not ask for _stop or autofollow
// permissions there, but does for the leader's write block.
func TestCredentialsOfAnAivenPair(t *testing.T) {
	refuse := func(side opensearch.Side, role, action string) opensearch.PermissionCheck {
		return opensearch.PermissionCheck{Permission: opensearch.Permission{Side: side, Role: role, Action: action},
			Err: &opensearch.Error{Class: observe.ClassAuth, Status: 403, Detail: "the " + string(side) + " refused " + action + " to user drwatch: add it to its role"}}
	}
	leader := authRead{Info: opensearch.AuthInfo{Security: true, User: "drwatch"}, Checks: []opensearch.PermissionCheck{refuse(opensearch.SideLeader, "drwatch_promote", "indices:admin/block/add*")}}
	follower := authRead{Info: opensearch.AuthInfo{Security: true, User: "drwatch"}, Checks: []opensearch.PermissionCheck{
		refuse(opensearch.SideFollower, "drwatch_promote", "indices:admin/plugins/replication/index/stop"),
		refuse(opensearch.SideFollower, "drwatch_promote", "cluster:admin/plugins/replication/autofollow/update"),
	}}
	c := judgeCredentials(observe.Observation{}, leader, follower, true, &config.Pair{})
	for _, it := range c.Items {
		if strings.Contains(it, "replication/index/stop") || strings.Contains(it, "autofollow/update") {
			t.Fatalf("an Aiven pair's check names a replication-plugin write: %q", c.Items)
		}
	}
	if c.Result != Fail || !strings.Contains(strings.Join(c.Items, " "), "the leader refused indices:admin/block/add* to user drwatch") {
		t.Fatalf("the leader's write block is not named: %+v", c)
	}
}
