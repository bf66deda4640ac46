package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
)

// HA scenarios as data: daemons sharing one lease store and one clock,
// and a script of what happens (lease rounds, the clock, cycles, faults,
// commands) with what must hold after each step. Adding a scenario is
// one row; the tests beside this file pin interleavings a script does not
// reach (a write slow past its window, an answer lost).

// haScene is a running scenario: the rig and its daemons by name.
type haScene struct {
	t  *testing.T
	r  *haRig
	w  map[string]*Watcher
	ex map[string]*hookExecutor
	n  map[string]*ha.Node
}

// haStep is one line of a script: what it does (for the failure's
// message) and the doing, which fails the scenario when what must hold
// does not.
type haStep struct {
	what string
	do   func(s *haScene) error
}

type haDaemonSpec struct {
	name, identity string
	down           bool // its prober sees the leader down
}

type haScenario struct {
	name    string
	daemons []haDaemonSpec
	script  []haStep
}

func TestHAScenarios(t *testing.T) {
	a := haDaemonSpec{name: "a", identity: "dr-a", down: true}
	b := haDaemonSpec{name: "b", identity: "dr-b", down: true}
	scenarios := []haScenario{
		{
			// The follower cluster (the lease's store) unreachable from
			// the start: no lease, no decision, no command passed on.
			name: "no lease, no action", daemons: []haDaemonSpec{a},
			script: []haStep{
				storeDown(true),
				times(3, round("a"), expire(), tick("a", 1)),
				wantRuns("a", 0), wantPhase("a", policy.Healthy), wantRole("a", "standby"),
				wantProblem("a", "ha: this daemon cannot confirm the pair's lease in the follower cluster, so it does not act for the pair"),
				command("a", policy.ActPause, acting.ErrStandby), wantPhase("a", policy.Healthy),
			},
		},
		{
			// Two daemons given the same identity by mistake: adoption is
			// keyed on the journal's instance, so the takeover still
			// adopts the published pause and does not promote.
			name:    "same identity still adopts",
			daemons: []haDaemonSpec{{name: "a", identity: "drwatch"}, {name: "b", identity: "drwatch", down: true}},
			script: []haStep{
				take("a"), tick("a", 1), command("a", policy.ActPause, nil),
				round("b"), expire(), wantHeld("b", true),
				tick("b", 20), wantRuns("b", 0), wantPhase("b", policy.Paused),
			},
		},
		{
			// A holder that cannot take up the shared state (not
			// drwatch's) acts for nobody; after MaxStuck cycles it gives
			// the lease up, does not take it back, and the other daemon
			// takes it - a TTL later, not within the first's window.
			name: "a holder that cannot adopt gives the lease up", daemons: []haDaemonSpec{a, b},
			script: []haStep{
				take("a"), round("b"), corruptPublished(),
				tick("a", acting.MaxStuck), wantRuns("a", 0), wantPhase("a", policy.Healthy),
				wantHeld("a", false), wantHeld("b", false),
				expire(), wantHeld("b", true), wantTerm("b", 2), wantHeld("a", false),
			},
		},
		{
			// A pause without an end, through the holder's inbox, stays
			// without one; the leader down, nothing is promoted.
			name: "a pause until resumed, through the inbox", daemons: []haDaemonSpec{a},
			script: []haStep{
				take("a"), tick("a", 1), command("a", policy.ActPause, nil), wantPausedForGood("a"),
				tick("a", 5), wantRuns("a", 0), wantPhase("a", policy.Paused),
			},
		},
		{
			// The holder's lease runs out (frozen): the standby takes the
			// next term and promotes alone; the old holder, awake, is
			// standby and promotes nothing.
			name: "a frozen holder's lease runs out: only the new holder promotes", daemons: []haDaemonSpec{a, b},
			script: []haStep{
				take("a"), tick("a", 1), round("b"),
				expire(), wantHeld("b", true), wantTerm("b", 2),
				tick("b", 20), wantRuns("b", 1), wantPhase("b", policy.Promoted),
				wantHeld("a", false), tick("a", 5), wantRuns("a", 0), wantRole("a", "standby"), wantShown("a", policy.Promoted),
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := &haScene{t: t, r: newHARig(), w: map[string]*Watcher{}, ex: map[string]*hookExecutor{}, n: map[string]*ha.Node{}}
			for _, d := range sc.daemons {
				var p Cycler = staticProber{}
				if d.down {
					p = downProber{}
				}
				s.w[d.name], s.ex[d.name], s.n[d.name] = s.r.daemon(t, d.identity, p, autoPolicy())
			}
			for i, st := range sc.script {
				if err := st.do(s); err != nil {
					t.Fatalf("step %d (%s): %v", i+1, st.what, err)
				}
			}
		})
	}
}

// take: the daemon holds the lease (a missing one is taken after a TTL).
func take(d string) haStep {
	return haStep{"take " + d, func(s *haScene) error { s.r.take(s.t, s.n[d]); return nil }}
}

// round: one lease round of the daemon.
func round(d string) haStep {
	return haStep{"round " + d, func(s *haScene) error { s.n[d].Lease.Step(context.Background()); return nil }}
}

// expire: the clock moves a TTL on (every daemon's).
func expire() haStep {
	return haStep{"a TTL passes", func(s *haScene) error { s.r.Add(haTTL); return nil }}
}

// tick: n cycles of the daemon, each waited for with its promotion.
func tick(d string, n int) haStep {
	return haStep{fmt.Sprintf("%d cycles of %s", n, d), func(s *haScene) error {
		for range n {
			time.Sleep(2 * time.Millisecond) // past leader_down_after
			s.w[d].tick(context.Background())
			s.w[d].promotions.Wait()
		}
		return nil
	}}
}

func times(n int, steps ...haStep) haStep {
	return haStep{fmt.Sprintf("%d times", n), func(s *haScene) error {
		for i := range n {
			for _, st := range steps {
				if err := st.do(s); err != nil {
					return fmt.Errorf("time %d, %s: %w", i+1, st.what, err)
				}
			}
		}
		return nil
	}}
}

func storeDown(down bool) haStep {
	return haStep{fmt.Sprintf("the follower cluster down %v", down), func(s *haScene) error { s.r.store.SetDown(down); return nil }}
}

// corruptPublished: the published state is not drwatch's.
func corruptPublished() haStep {
	return haStep{"the published state corrupted", func(s *haScene) error {
		s.r.store.Mu.Lock()
		defer s.r.store.Mu.Unlock()
		s.r.store.Seq++
		s.r.store.Docs["orders.state"] = opensearch.Doc{Found: true, SeqNo: s.r.store.Seq, PrimaryTerm: 1, Source: []byte(`{"holder":`)}
		return nil
	}}
}

// command: a human's command through the daemon's API; want is the
// error it must answer (nil: success).
func command(d string, act string, want error) haStep {
	return haStep{act + " through " + d, func(s *haScene) error {
		_, err := s.w[d].Command(policy.Command{Action: act, By: "alice", Reason: "scripted"})
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			return fmt.Errorf("answered %v, want %v", err, want)
		}
		return nil
	}}
}

func wantPhase(d string, want policy.Phase) haStep {
	return haStep{d + " is " + want.String(), func(s *haScene) error {
		if got := s.w[d].phase(); got != want {
			return fmt.Errorf("%s's own phase is %s", d, got)
		}
		return nil
	}}
}

// wantShown: the phase the daemon's status shows (a standby: the
// holder's, as published).
func wantShown(d string, want policy.Phase) haStep {
	return haStep{d + " shows " + want.String(), func(s *haScene) error {
		if got := s.w[d].Status().Decision.State; got != want.String() {
			return fmt.Errorf("%s shows %s", d, got)
		}
		return nil
	}}
}

func wantRuns(d string, want int) haStep {
	return haStep{fmt.Sprintf("%s promoted %d times", d, want), func(s *haScene) error {
		if got := s.ex[d].runs; got != want {
			return fmt.Errorf("%s's executor ran %d times", d, got)
		}
		return nil
	}}
}

func wantRole(d, want string) haStep {
	return haStep{d + " is " + want, func(s *haScene) error {
		if st := s.w[d].Status(); st.HA == nil || st.HA.Role.String() != want {
			return fmt.Errorf("%s's status: %+v", d, st.HA)
		}
		return nil
	}}
}

// wantProblem: the daemon's status says why first.
func wantProblem(d, prefix string) haStep {
	return haStep{d + " says why", func(s *haScene) error {
		if ps := s.w[d].Status().Problems; len(ps) == 0 || !strings.HasPrefix(ps[0], prefix) {
			return fmt.Errorf("%s's problems %q do not start with %q", d, ps, prefix)
		}
		return nil
	}}
}

// wantHeld: a lease round of the daemon, which must (not) hold it.
func wantHeld(d string, want bool) haStep {
	return haStep{fmt.Sprintf("%s holds the lease %v", d, want), func(s *haScene) error {
		if st := s.n[d].Lease.Step(context.Background()); st.Held != want {
			return fmt.Errorf("%s's round: %+v", d, st)
		}
		return nil
	}}
}

func wantTerm(d string, want int64) haStep {
	return haStep{fmt.Sprintf("%s's term is %d", d, want), func(s *haScene) error {
		if st := s.n[d].Lease.Status(); st.Term != want {
			return fmt.Errorf("%s's lease: %+v", d, st)
		}
		return nil
	}}
}

func wantPausedForGood(d string) haStep {
	return haStep{d + " paused until resumed", func(s *haScene) error {
		if st := s.w[d].rt.State(); st.Phase != policy.Paused || !st.PausedUntil.IsZero() {
			return fmt.Errorf("%s: %s until %v", d, st.Phase, st.PausedUntil)
		}
		return nil
	}}
}
