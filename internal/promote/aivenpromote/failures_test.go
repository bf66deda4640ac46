package aivenpromote

// Failure cases of the plan, the fence and the integration's lookup.

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/promote"
)

// A plan with no follower index of the pair's alias (a leader_alias that
// is not Aiven's, or nothing replicated yet) deletes nothing: there would
// be nothing to verify, and Aiven would stop whatever replication the
// follower runs. Nothing is journaled, so nothing is half done.
func TestEmptyPlanDeletesNothing(t *testing.T) {
	e := newEnv(t)
	x := e.executor(nil)
	x.Alias = "not-the-follower-alias"
	_, err := x.Run(context.Background(), e.start())
	if err == nil || !strings.Contains(err.Error(), "replicates from the remote alias not-the-follower-alias") || !strings.Contains(err.Error(), "it is not deleted") {
		t.Fatalf("err = %v", err)
	}
	if e.deletes() != 0 || !e.present(e.ccrID) {
		t.Fatal("the integration was deleted with nothing to verify")
	}
	if p := e.reload(); promote.Changed(p) || len(p.Steps) != 0 {
		t.Fatalf("journaled %+v", p.Steps)
	}
}

// After the integration was deleted by an earlier attempt (the leader
// unreachable then, the fence skipped), a retry that finds the leader
// answering but refusing the block says that both sides are writable,
// still finishes the verification, and fails so that the fence is
// retried.
func TestRefusedFenceAfterTheDelete(t *testing.T) {
	e := newEnv(t)
	p := e.start()
	// Attempt 1: the leader does not answer (fence skipped); the delete
	// goes through; the wait for 404 fails (the API is failing).
	e.aiven.Fail(http.MethodGet, "/integration/"+e.ccrID, http.StatusServiceUnavailable, 1000, "")
	x := e.executor(nil)
	if _, err := x.Run(context.Background(), p); err == nil {
		t.Fatal("attempt 1 should fail in waitGone")
	}
	if e.present(e.ccrID) {
		// Deleted for real; the GET fault hides it.
	} else if e.deletes() != 1 {
		t.Fatalf("setup: %d deletes", e.deletes())
	}
	e.aiven.ClearFaults()
	// Attempt 2: the leader answers now, and refuses the write block.
	e.liveLeader(403)
	_, err := e.executor(nil).Run(context.Background(), p)
	if err == nil {
		t.Fatal("attempt 2 should fail at the fence")
	}
	if strings.Contains(err.Error(), "no integration is deleted") || !strings.Contains(err.Error(), "both sides are writable until the old leader is write-blocked") {
		t.Errorf("the error does not say the pair is split: %v", err)
	}
	if e.present(e.ccrID) || e.deletes() != 1 {
		t.Fatalf("present %t, %d deletes", e.present(e.ccrID), e.deletes())
	}
	p = e.reload()
	if s, _ := p.Last(promote.StepVerify, ""); s.Status != promote.StepDone {
		t.Errorf("the verification did not run after the refused fence: %+v", s)
	}
	// The leader accepts the block now: the retry fences and succeeds.
	e.liveLeader(200)
	res, err := e.executor(nil).Run(context.Background(), p)
	if err != nil || !res.Fenced {
		t.Fatalf("retry: %+v, %v", res, err)
	}
}

// emptyID answers the follower's integration list with the pair's CCR
// integration whose service_integration_id is empty (a malformed answer).
type emptyID struct{ API }

func (a emptyID) ServiceIntegrations(ctx context.Context, project, service string) ([]aiven.Integration, error) {
	ints, err := a.API.ServiceIntegrations(ctx, project, service)
	for i := range ints {
		if ints[i].IsCCR() && ints[i].DestService == followS {
			ints[i].ID = ""
		}
	}
	return ints, err
}

// An integration listed without an id (a malformed answer) is refused:
// no DELETE of /integration/, no delete step without a target.
func TestIntegrationWithoutIDIsRefused(t *testing.T) {
	e := newEnv(t)
	x := e.executor(nil)
	x.API = emptyID{x.API}
	_, err := x.Run(context.Background(), e.start())
	n := e.count(http.MethodDelete, "/integration/")
	if n > 0 || err == nil || !strings.Contains(err.Error(), "without an id") {
		t.Errorf("%d DELETEs; err = %v", n, err)
	}
	for _, s := range e.reload().Steps {
		if s.Name == promote.StepDeleteIntegration && s.Target == "" {
			t.Errorf("journaled a delete_integration step with no target: %+v", s)
			break
		}
	}
}
