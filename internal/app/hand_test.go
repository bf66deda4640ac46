package app

// The plan `drwatch promote` shows, and asks a human to confirm, is the
// executor's: for an Aiven pair, the integration's delete, never _stop.

import (
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

func TestPromotePlanOfAnAivenPair(t *testing.T) {
	pol := config.DefaultPolicy()
	p := &config.Pair{Name: "orders", Resolved: pol,
		Aiven: &config.Aiven{Project: "acme", LeaderService: "os-prod", FollowerService: "os-dr"}}
	plan := map[string]opensearch.FollowerIndex{"orders-1": {LeaderAlias: "acme_os-prod", LeaderIndex: "orders-1"}}
	got := describePlan(p, observe.Observation{}, plan, false)
	if strings.Contains(got, "stop replication") || strings.Contains(got, "autofollow") || !strings.Contains(got, "delete the Aiven opensearch_cross_cluster_replication integration os-prod -> os-dr in project acme") {
		t.Errorf("the plan shown for an Aiven pair is not the Aiven executor's:\n%s", got)
	}
}
