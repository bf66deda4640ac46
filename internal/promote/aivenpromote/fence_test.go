package aivenpromote

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/promote"
)

// A delete that was journaled but did not take effect (Aiven answered
// 502 to every try: the integration is still there) is not a delete: the
// next attempt, whose live leader refuses the write block, deletes
// nothing under that live, unfenced leader. Once the leader takes the
// block, the retry promotes.
func TestRefusedFenceAfterAFailedDeleteDeletesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.start()
	e.aiven.Fail(http.MethodDelete, "/integration/", http.StatusBadGateway, 3, "")
	if _, err := e.executor(nil).Run(context.Background(), p); err == nil {
		t.Fatal("attempt 1 should fail at the delete")
	}
	if !e.present(e.ccrID) {
		t.Fatal("setup: the failed delete took effect")
	}
	e.liveLeader(403) // the leader is back and refuses the block
	_, err := e.executor(nil).Run(context.Background(), e.reload())
	if err == nil {
		t.Fatal("attempt 2 succeeded")
	}
	if !e.present(e.ccrID) || !strings.Contains(err.Error(), "no integration is deleted under a live, unfenced leader") {
		t.Fatalf("the integration was deleted under a live leader that refused the fence (%d DELETEs): %v", e.deletes(), err)
	}
	e.liveLeader(200)
	if _, err := e.executor(nil).Run(context.Background(), e.reload()); err != nil || e.present(e.ccrID) {
		t.Fatalf("retry with the leader fenced: %v", err)
	}
}

// A delete journaled started whose DELETE took effect (a crash before its
// answer was journaled): a refused fence then says that the pair is
// split, finishes the verification and fails so that the fence is
// retried.
func TestRefusedFenceAfterAnUnjournaledDelete(t *testing.T) {
	e := newEnv(t)
	p := e.start()
	fj := &failingJournal{j: e.j, name: promote.StepDeleteIntegration, state: promote.StepDone}
	if _, err := e.executor(fj).Run(context.Background(), p); err == nil {
		t.Fatal("attempt 1 should fail journaling the delete's outcome")
	}
	if e.present(e.ccrID) {
		t.Fatal("setup: the delete did not take effect")
	}
	e.liveLeader(403)
	_, err := e.executor(nil).Run(context.Background(), e.reload())
	if err == nil || !strings.Contains(err.Error(), "the integration is gone") || !strings.Contains(err.Error(), "both sides are writable") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := e.reload().Last(promote.StepVerify, ""); s.Status != promote.StepDone {
		t.Fatalf("the verification did not run: %+v", s)
	}
}
