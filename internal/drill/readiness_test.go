package drill

import (
	"context"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// readinessLab is a fake leader and follower answering every read of the
// drill for the pair of healthyObs.
func readinessLab(t *testing.T) (l, f *fakeos.Cluster, in ReadinessInput) {
	t.Helper()
	l, f = fakeos.New(t), fakeos.New(t)
	f.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_connected.json")
	// Every answer as the lab's clusters gave it (testdata/lab/).
	for side, c := range map[string]*fakeos.Cluster{"leader": l, "follower": f} {
		c.Set("GET /*/_mapping", 200, string(fixture(t, side+"_mapping.json")))
		c.Set("GET /*/_settings", 200, string(fixture(t, side+"_settings.json")))
		c.Set("POST /orders-1,orders-2/_search", 200, string(fixture(t, side+"_doc_counts.json")))
		c.Set("GET /_plugins/_security/authinfo", 400, string(fixture(t, "authinfo_no_security.json")))
	}
	lc, err := opensearch.New(l.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := opensearch.New(f.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pair := &config.Pair{Name: "lab", Indices: []string{"*", "-.*"}, Follower: config.Endpoint{LeaderAlias: "leader"}, Resolved: fastPolicy(config.ModeAuto)}
	hooks := []config.Hook{{Name: "oncall", Events: []string{"leader_down", "approval_required", "promotion_succeeded", "promotion_failed"}}}
	in = ReadinessInput{Pair: pair, Hooks: hooks, Leader: lc, Follower: fc,
		Observe: func(context.Context) observe.Observation { return healthyObs() }}
	return l, f, in
}

func TestReadinessHealthyPairPassesInBoundedRequests(t *testing.T) {
	_, _, in := readinessLab(t)
	checks := Readiness(context.Background(), in)
	names := []string{CheckLeaderSeen, CheckReplicated, CheckAutofollow, CheckFollowers, CheckMappings, CheckSettings,
		CheckDocCounts, CheckCredentials, CheckHooks, CheckVerdict, CheckPromotionETA}
	if len(checks) != len(names) {
		t.Fatalf("%d checks", len(checks))
	}
	for i, c := range checks {
		if c.Name != names[i] {
			t.Errorf("check %d is %s, want %s", i, c.Name, names[i])
		}
		if c.Result != Pass {
			t.Errorf("%s: %s: %s %q", c.Name, c.Result, c.Detail, c.Items)
		}
	}
	// Remote info, settings and mappings of each side, authinfo of each,
	// document counts of each: 9 besides the observation.
	if n := in.Leader.Requests() + in.Follower.Requests(); n != 9 {
		t.Errorf("%d requests, want 9", n)
	}
}

func TestReadinessMalformedAnswersFailTheirChecks(t *testing.T) {
	l, f, in := readinessLab(t)
	l.Set("GET /*/_mapping", 200, `{"orders-1":{"mappings":`)
	f.Set("POST /orders-1,orders-2/_search", 200, `{"_shards":{"total":4,"failed":0},"aggregations":{"idx":{"buckets":[{"doc_count":3}]}}}`)
	f.Set("GET /_plugins/_security/authinfo", 200, `{"user_name":7}`)
	f.Set(fakeos.RouteRemoteInfo, 200, `{"leader":{"connected":"yes"}}`)
	calls := 0
	in.Observe = func(context.Context) observe.Observation { calls++; return healthyObs() }
	checks := Readiness(context.Background(), in)
	want := map[string]string{
		CheckLeaderSeen:   "malformed_response",
		CheckMappings:     "invalid JSON",
		CheckDocCounts:    "without key or doc_count",
		CheckCredentials:  "malformed_response",
		CheckReplicated:   "",
		CheckPromotionETA: "",
	}
	for _, c := range checks {
		w, ok := want[c.Name]
		switch {
		case !ok:
		case w == "" && c.Result != Pass:
			t.Errorf("%s: %s: %s", c.Name, c.Result, c.Detail)
		case w != "" && (c.Result != Fail || !strings.Contains(c.Detail+strings.Join(c.Items, " "), w)):
			t.Errorf("%s: %s: %s %q, want a failure saying %q", c.Name, c.Result, c.Detail, c.Items, w)
		}
	}
	if calls != 1 {
		t.Errorf("observed %d times: an unreadable count is not a divergence to look at twice", calls)
	}
}

func TestReadinessLooksTwiceAtCounts(t *testing.T) {
	_, f, in := readinessLab(t)
	// The captured counts are 6 and 5 on both sides: the follower loses 3
	// documents of orders-2 with a lag of 0.
	f.Set("POST /orders-1,orders-2/_search", 200, strings.Replace(string(fixture(t, "follower_doc_counts.json")), `"doc_count":5}`, `"doc_count":2}`, 1))
	calls := 0
	in.Observe = func(context.Context) observe.Observation { calls++; return healthyObs() }
	c := Readiness(context.Background(), in)[6]
	if calls != 2 {
		t.Errorf("observed %d times, want 2 (a second look)", calls)
	}
	requireItem(t, c, Fail, "orders-2: ", "leader 5 documents, follower 2", "lag of 0")
}

func TestReadinessWithoutItsInputs(t *testing.T) {
	c := Readiness(context.Background(), ReadinessInput{})
	if len(c) != 1 || c[0].Result != Fail {
		t.Fatalf("%+v", c)
	}
}

func TestReadinessPausedIndexAsksItsStatus(t *testing.T) {
	_, f, in := readinessLab(t)
	f.Fixture("GET /_plugins/_replication/orders-2/_status", "lab/status_paused.json")
	in.Observe = func(context.Context) observe.Observation {
		o := healthyObs()
		o.Follower.Replication.Indices[1].State = observe.StateNotSyncing
		return o
	}
	c := Readiness(context.Background(), in)[3]
	requireItem(t, c, Fail, "orders-2: ", "paused (User initiated)")
	if f.Hits("GET /_plugins/_replication/orders-1/_status") != 0 {
		t.Error("the status of a syncing index was asked")
	}
}
