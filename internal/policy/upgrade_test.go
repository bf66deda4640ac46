package policy_test

import (
	"slices"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/policy"
)

// A state an earlier version journaled keeps no notes of its reasons:
// upgraded, the next cycles replace the lease's and the unfenced old
// leader's reasons instead of adding them again.
func TestUpgradeKeepsReasonsSingle(t *testing.T) {
	lease := "the follower has not fetched from the leader since 2025-03-10T12:00:00Z: its retention lease on the leader expires in 6h0m0s (index.soft_deletes.retention_lease.period 12h0m0s); past it the follower can never resume and must be replicated afresh"
	paused := policy.State{Phase: policy.Paused, Since: time.Now(), Reasons: []string{"paused by alice", lease}}
	up := policy.Upgrade(paused)
	if up.LeaseNote != lease {
		t.Fatalf("LeaseNote = %q", up.LeaseNote)
	}
	unfenced := "the old leader answers again and is not fenced (fence_leader is false): both sides may take writes; block them by hand"
	promoted := policy.State{Phase: policy.Promoted, Since: time.Now(), Reasons: []string{"promoted: ok", unfenced}}
	promoted.OldLeaderReturned = true
	up = policy.Upgrade(promoted)
	if up.UnfencedNote != unfenced {
		t.Fatalf("UnfencedNote = %q", up.UnfencedNote)
	}
	d := policy.OldLeaderFenced(up, "write-blocked orders", time.Now())
	if slices.Contains(d.State.Reasons, unfenced) || len(d.State.Reasons) != 2 {
		t.Errorf("after the fence the reasons are %q", d.State.Reasons)
	}
	// A current state is left as it is.
	if got := policy.Upgrade(d.State); got.UnfencedNote != d.State.UnfencedNote || got.LeaseNote != d.State.LeaseNote {
		t.Errorf("Upgrade changed a current state: %+v", got)
	}
}

// A drill id is the drill's name and its report's id, read back as such.
func TestDrillID(t *testing.T) {
	id := policy.NewDrillID("weekly-failover", "20260302T030000Z-4f2a")
	if id.Name() != "weekly-failover" || id.Report() != "20260302T030000Z-4f2a" || id.String() != "weekly-failover/20260302T030000Z-4f2a" {
		t.Fatalf("id %q: name %q, report %q", id, id.Name(), id.Report())
	}
}
