package opensearch_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// The answers of a three-node follower (lab/cluster_membership.json,
// indices_health.json, close_ack.json, open_ack.json) read as typed
// fields, and the requests carry what they need.
func TestRealMembershipHealthCloseOpen(t *testing.T) {
	c, fc, rec := serveFake(t, opensearch.Options{})
	fc.Fixture(fakeos.RouteMembership, "lab/cluster_membership.json")
	fc.Fixture("GET /_cluster/health/capture-plain,capture-plain2", "lab/indices_health.json")
	fc.Fixture("POST /capture-plain,capture-plain2/_close", "lab/close_ack.json")
	fc.Fixture("POST /capture-plain,capture-plain2/_open", "lab/open_ack.json")

	topo, err := c.Topology(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Manager != "rBtn7JD0QFuNqVcgI-kWvw" || len(topo.Nodes) != 3 || topo.Nodes[topo.Manager] != "follower-2" {
		t.Fatalf("topology %+v", topo)
	}
	other := opensearch.Topology{Manager: "t8gBhCQMQmOr0WTM41LBjg", Nodes: map[string]string{"t8gBhCQMQmOr0WTM41LBjg": "follower-1", "rBtn7JD0QFuNqVcgI-kWvw": "follower-2"}}
	if topo.Same(other) || !topo.Same(topo) {
		t.Fatal("Same is wrong")
	}
	if got, want := topo.Change(other), "cluster manager follower-2 -> follower-1; left: follower"; got != want {
		t.Fatalf("Change = %q, want %q", got, want)
	}
	names := []string{"capture-plain", "capture-plain2"}
	h, err := c.IndicesHealth(ctx(t), names)
	if err != nil {
		t.Fatal(err)
	}
	if h["capture-plain"] != (opensearch.IndexHealth{Status: "green", Shards: 1, ActivePrimaries: 1}) || len(h) != 2 {
		t.Fatalf("health %+v", h)
	}
	if err := c.CloseIndices(ctx(t), names); err != nil {
		t.Fatal(err)
	}
	if err := c.OpenIndices(ctx(t), names); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.all() {
		if r.Path == "/_cluster/state/master_node,nodes" && r.Query.Get("local") != "true" {
			t.Errorf("membership read without local=true: %s", r.Query)
		}
		if strings.HasPrefix(r.Path, "/_cluster/health/") && r.Query.Get("timeout") != "1s" {
			t.Errorf("health without a short timeout: %s", r.Query)
		}
	}
}

// An index that does not exist: health answers 408 after its timeout
// with the others; that is an answer, the missing index absent.
// A close not acknowledged and a health answer without its numbers are
// errors.
func TestHealthTimeoutCloseUnacknowledged(t *testing.T) {
	c, fc, _ := serveFake(t, opensearch.Options{})
	fc.Set("GET /_cluster/health/a,b", http.StatusRequestTimeout, `{"status":"red","timed_out":true,"indices":{"a":{"status":"red","number_of_shards":2,"active_primary_shards":1,"unassigned_shards":2}}}`)
	h, err := c.IndicesHealth(ctx(t), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h["b"]; ok || h["a"].ActivePrimaries != 1 || h["a"].Shards != 2 {
		t.Fatalf("health %+v", h)
	}
	fc.Set("GET /_cluster/health/c", 200, `{"indices":{"c":{"status":"green"}}}`)
	if _, err := c.IndicesHealth(ctx(t), []string{"c"}); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("health without numbers: %v", err)
	}
	fc.Set("POST /a/_close", 200, `{"acknowledged":false,"shards_acknowledged":false,"indices":{}}`)
	if err := c.CloseIndices(ctx(t), []string{"a"}); err == nil || !strings.Contains(err.Error(), "not acknowledged") {
		t.Fatalf("close not acknowledged: %v", err)
	}
	fc.Set(fakeos.RouteMembership, 200, `{"nodes":{}}`)
	if _, err := c.Topology(ctx(t)); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("membership without nodes: %v", err)
	}
}
