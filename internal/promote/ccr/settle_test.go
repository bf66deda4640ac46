package ccr

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
)

// The follower's cluster manager changes while a wave of stops runs: the
// indices of that wave (and only those) are closed and reopened before
// verify, which re-creates a shard left on the replication engine; the
// journal says why.
func TestStopsDuringClusterManagerChangeAreSettled(t *testing.T) {
	l := newLab(t, 6)
	l.follower.onStop = func(idx string) {
		l.follower.mu.Lock()
		defer l.follower.mu.Unlock()
		if idx == "orders-03" {
			l.follower.manager = "n2"
			delete(l.follower.nodes, "n1")
			l.follower.staleEngine[idx] = true
		}
	}
	e := l.executor()
	e.Concurrency = 2
	p := l.start(t, false)
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 6 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	want := []string{"orders-02", "orders-03"}
	if len(l.follower.closedAll) != 1 || !slices.Equal(l.follower.closedAll[0], want) ||
		len(l.follower.openedAll) != 1 || !slices.Equal(l.follower.openedAll[0], want) {
		t.Fatalf("closed %v, opened %v; want one close and one open of %v", l.follower.closedAll, l.follower.openedAll, want)
	}
	if l.follower.staleEngine["orders-03"] {
		t.Fatal("orders-03 still runs the replication engine")
	}
	p = l.reload(t)
	for _, idx := range names(6) {
		s, ok := p.Last(promote.StepSettle, idx)
		settled := slices.Contains(want, idx)
		if ok != settled {
			t.Fatalf("%s: settle step %+v (want one: %v)", idx, s, settled)
		}
		if settled && (s.Status != promote.StepDone || !strings.Contains(s.Detail, "closed and reopened")) {
			t.Fatalf("%s: settle = %+v", idx, s)
		}
	}
	var mark promote.Step
	for _, s := range p.Steps {
		if s.Name == promote.StepSettle && s.Status == promote.StepStarted {
			mark = s
			break
		}
	}
	if !strings.Contains(mark.Detail, "cluster manager follower -> follower-1") || !strings.Contains(mark.Detail, "left: follower") {
		t.Fatalf("the mark does not say what changed: %+v", mark)
	}
	// verify comes after the settle
	iSettle, iVerify := -1, -1
	for i, s := range p.Steps {
		if s.Name == promote.StepSettle && s.Status == promote.StepDone && iSettle < 0 {
			iSettle = i
		}
		if s.Name == promote.StepVerify && s.Target == "" {
			iVerify = i
		}
	}
	if iSettle < 0 || iVerify < iSettle {
		t.Fatalf("settle at step %d, verify at %d", iSettle, iVerify)
	}
}

// A steady cluster: nothing is closed.
func TestSteadyClusterIsNotSettled(t *testing.T) {
	l := newLab(t, 6)
	e := l.executor()
	e.Concurrency = 2
	if res, err := e.Run(context.Background(), l.start(t, false)); err != nil || len(res.Promoted) != 6 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if len(l.follower.closedAll) != 0 || len(l.follower.openedAll) != 0 {
		t.Fatalf("closed %v, opened %v on a steady cluster", l.follower.closedAll, l.follower.openedAll)
	}
}

// A membership that cannot be read is taken as changed: the wave is
// settled (a cluster without an elected manager is when it matters).
func TestUnreadableMembershipSettles(t *testing.T) {
	l := newLab(t, 2)
	l.follower.topologyErr = &opensearch.Error{Op: "cluster membership", Class: observe.ClassHTTP5xx, Status: 503, Type: "cluster_manager_not_discovered_exception"}
	p := l.start(t, false)
	if res, err := l.executor().Run(context.Background(), p); err != nil || len(res.Promoted) != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if len(l.follower.closedAll) != 1 || !slices.Equal(l.follower.closedAll[0], names(2)) {
		t.Fatalf("closed %v", l.follower.closedAll)
	}
	if s, _ := p.Last(promote.StepSettle, "orders-00"); s.Status != promote.StepDone {
		t.Fatalf("settle = %+v", s)
	}
}

// A settle that fails fails the attempt, naming the index; the next
// attempt (a restarted drwatch here: the mark is in the journal) settles
// it and promotes.
func TestFailedSettleIsRetriedFromTheJournal(t *testing.T) {
	l := newLab(t, 2)
	l.follower.onStop = func(idx string) {
		l.follower.mu.Lock()
		defer l.follower.mu.Unlock()
		l.follower.manager = "n3"
	}
	l.follower.closeErr = &opensearch.Error{Op: "close orders-00, orders-01", Class: observe.ClassHTTP5xx, Status: 503, Type: "cluster_manager_not_discovered_exception"}
	p := l.start(t, false)
	_, err := l.executor().Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "orders-00") || !strings.Contains(err.Error(), "settle") {
		t.Fatalf("first attempt: %v", err)
	}
	l.follower.closeErr = nil
	l.follower.onStop = nil
	p = l.reload(t)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if len(l.follower.closedAll) != 2 || len(l.follower.openedAll) != 1 {
		t.Fatalf("closes %v, opens %v", l.follower.closedAll, l.follower.openedAll)
	}
	if n := l.follower.calls()["orders-00"]; n != 1 {
		t.Fatalf("orders-00 stopped %d times, want once", n)
	}
}

// An index open and standalone whose primary is not active takes no
// writes: verify waits for it, then names it in the result - stopped and
// standalone, not failed (no retry changes it; the copy comes back with
// the follower's node).
func TestVerifyRequiresActivePrimaries(t *testing.T) {
	l := newLab(t, 2)
	l.follower.unassigned["orders-01"] = 1
	e := l.executor()
	e.StepTimeout = 700 * time.Millisecond
	res, err := e.Run(context.Background(), l.start(t, false))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if why := res.Unassigned["orders-01"]; !strings.Contains(why, "1 of 1 primaries not active") {
		t.Errorf("unassigned = %v, want orders-01 named", res.Unassigned)
	}
	if !slices.Equal(res.Promoted, []string{"orders-00"}) || len(res.Failed) != 0 {
		t.Errorf("promoted %v, failed %v", res.Promoted, res.Failed)
	}
	if !strings.Contains(res.Detail, "1 of 2 indices writable") || !strings.Contains(res.Detail, "1 standalone but not yet writable (orders-01: ") {
		t.Errorf("detail = %q", res.Detail)
	}

	// allocated during the wait: writable, nothing unassigned
	l = newLab(t, 2)
	l.follower.unassigned["orders-01"] = 1
	e = l.executor()
	e.StepTimeout = 5 * time.Second
	l.allocateAfter("orders-01", 200*time.Millisecond)
	res, err = e.Run(context.Background(), l.start(t, false))
	if err != nil || len(res.Promoted) != 2 || len(res.Unassigned) != 0 {
		t.Fatalf("allocated meanwhile = %+v, %v", res, err)
	}
}

// The wait for primaries cut short (Ctrl-C on drwatch promote, a drill's
// end) judges nothing: the attempt fails and is resumed; nothing is named
// unassigned for good.
func TestVerifyWaitCutShortIsNoVerdict(t *testing.T) {
	l := newLab(t, 2)
	l.follower.unassigned["orders-01"] = 1
	e := l.executor()
	e.StepTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	res, err := e.Run(ctx, l.start(t, false))
	if err == nil || len(res.Unassigned) != 0 {
		t.Fatalf("Run cut short during the wait = %+v, %v; want an error and nothing named", res, err)
	}
}

// Nothing writable is no promotion: with every index without an active
// primary the attempt fails (retried; the outage stays open).
func TestVerifyNothingWritableFails(t *testing.T) {
	l := newLab(t, 2)
	l.follower.unassigned["orders-00"], l.follower.unassigned["orders-01"] = 1, 1
	e := l.executor()
	e.StepTimeout = 300 * time.Millisecond
	res, err := e.Run(context.Background(), l.start(t, false))
	if err == nil || !strings.Contains(err.Error(), "no index writable: 2 of 2 without an active primary") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

// An index the health answer leaves out (deleted since its stop) is not
// "without a primary": the attempt fails, and the next one finds it gone.
func TestVerifyIndexMissingFromHealthFails(t *testing.T) {
	l := newLab(t, 2)
	l.follower.healthless = map[string]bool{"orders-01": true}
	e := l.executor()
	e.StepTimeout = 300 * time.Millisecond
	res, err := e.Run(context.Background(), l.start(t, false))
	if err == nil || len(res.Unassigned) != 0 || !strings.Contains(res.Failed["orders-01"], "not in the follower's health answer") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

// An index missing from the health answer stays failed whatever the wait
// for another's primary does (the later reads ask only for the
// unassigned).
func TestVerifyMissingStaysFailedWhileAnotherWaits(t *testing.T) {
	l := newLab(t, 3)
	l.follower.healthless = map[string]bool{"orders-00": true}
	l.follower.unassigned["orders-01"] = 1
	e := l.executor()
	e.StepTimeout = 3 * time.Second
	l.allocateAfter("orders-01", 700*time.Millisecond)
	res, err := e.Run(context.Background(), l.start(t, false))
	if err == nil || !strings.Contains(res.Failed["orders-00"], "not in the follower's health answer") || slices.Contains(res.Promoted, "orders-00") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

// allocateAfter gives idx its primary back after d, as a follower
// allocating it during verify's wait.
func (l *lab) allocateAfter(idx string, d time.Duration) {
	go func() {
		time.Sleep(d)
		l.follower.mu.Lock()
		delete(l.follower.unassigned, idx)
		l.follower.mu.Unlock()
	}()
}
