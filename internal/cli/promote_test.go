package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// handPair is a leader and a CCR follower (fakeos: answers captured from
// the lab's real plugin) replicating orders-1, and a config naming them
// with state_dir in a directory of its own.
func handPair(t *testing.T) (*config.Config, *fakeos.Cluster, *fakeos.CCRFollower, string) {
	t.Helper()
	leader, follower := fakeos.NewLeader(t), fakeos.NewCCRFollower(t, "orders-1")
	leader.SetSeqNos("orders-1", 9)
	leader.Fixture("PUT /orders-1/_block/write", "lab/block_write_ack.json")
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfg, err := config.Parse([]byte(`state_dir: ` + stateDir + `
pairs:
  - name: orders
    leader: {url: ` + leader.URL() + `}
    follower: {url: ` + follower.URL() + `, leader_alias: leader}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, leader, follower, stateDir
}

func handOptions(out *bytes.Buffer) promoteOptions {
	return promoteOptions{Pair: "orders", By: "alice", Reason: "drill", Out: out, Log: zap.NewNop()}
}

// A human who declines the confirmation changes nothing: no lock, no
// journal, no call that writes.
func TestPromoteDeclinedChangesNothing(t *testing.T) {
	cfg, _, follower, stateDir := handPair(t)
	var out bytes.Buffer
	o := handOptions(&out)
	asked := false
	o.Confirm = func(string) bool { asked = true; return false }
	if err := promoteNow(context.Background(), cfg, o); !errors.Is(err, errNotConfirmed) {
		t.Fatalf("err = %v, want not confirmed", err)
	}
	if !asked || !strings.Contains(out.String(), "promotion plan for pair orders") {
		t.Fatalf("the plan was not shown before asking:\n%s", out.String())
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state_dir touched before the human said yes: %v", err)
	}
	if !follower.IsFollower("orders-1") || follower.Stops["orders-1"] != 0 {
		t.Fatal("a declined promotion touched the follower")
	}
}

// A dry run reads no journal: a journal it could not read (corrupt, or
// the daemon's and unreadable) does not stop it from showing the plan.
func TestPromoteDryRunReadsNoJournal(t *testing.T) {
	cfg, _, follower, stateDir := handPair(t)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(stateDir, "orders.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := handOptions(&out)
	o.DryRun = true
	if err := promoteNow(context.Background(), cfg, o); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !strings.Contains(out.String(), "dry-run: nothing was changed") || !follower.IsFollower("orders-1") {
		t.Fatalf("dry run output:\n%s", out.String())
	}
	if b, _ := os.ReadFile(corrupt); string(b) != "{not json" {
		t.Fatal("the dry run wrote the journal")
	}
	if _, err := os.Stat(filepath.Join(stateDir, ".lock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the dry run took the state_dir lock")
	}
}

// A promotion by hand goes through the one runner: journaled with who
// started it, the follower index promoted, the pair promoted for good.
func TestPromoteByHand(t *testing.T) {
	cfg, leader, follower, stateDir := handPair(t)
	var out bytes.Buffer
	if err := promoteNow(context.Background(), cfg, handOptions(&out)); err != nil {
		t.Fatalf("promote: %v\n%s", err, out.String())
	}
	if follower.IsFollower("orders-1") || leader.Hits("PUT /orders-1/_block/write") != 1 {
		t.Fatalf("orders-1 is a follower still (%v), or the leader was not fenced once", follower.IsFollower("orders-1"))
	}
	rec, err := journal.Read(stateDir, "orders")
	if err != nil || rec == nil {
		t.Fatalf("journal: %v", err)
	}
	if rec.State.Phase != policy.Promoted || rec.Promotion == nil || rec.Promotion.By != "alice" ||
		!strings.HasPrefix(rec.Promotion.ID, "orders-") || rec.Promotion.Finished.IsZero() {
		t.Fatalf("journaled %s, promotion %+v", rec.State.Phase, rec.Promotion)
	}
	if !strings.Contains(out.String(), "PROMOTED in") || !strings.Contains(out.String(), "writable  orders-1") {
		t.Fatalf("output:\n%s", out.String())
	}
	// Again: a pair is promoted at most once, and saying so changes nothing.
	out.Reset()
	err = promoteNow(context.Background(), cfg, handOptions(&out))
	if !errors.Is(err, policy.ErrConflict) || !strings.Contains(err.Error(), "at most once") || strings.Contains(out.String(), "PROMOTED in") || strings.Contains(out.String(), "FAILED in") {
		t.Fatalf("second promote: %v\n%s", err, out.String())
	}
}

// A non-graceful promotion under way cannot be resumed as a graceful one
// (its fence was decided without waiting for the follower): refused, with
// no outcome printed and the journal as it was.
func TestPromoteGracefulOverNonGracefulIsRefused(t *testing.T) {
	cfg, _, follower, stateDir := handPair(t)
	j, err := journal.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st := policy.State{Phase: policy.Failed, Since: now, Reasons: []string{"attempt 1 failed"}}
	st.PromotionAttempts, st.RetryAt, st.LastError = 1, now.Add(time.Hour), "boom"
	rec := &journal.Record{Pair: "orders", State: st, Promotion: promote.New("orders", "drwatch", false, now.Add(-time.Minute))}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	j.Close()
	before, _ := os.ReadFile(filepath.Join(stateDir, "orders.json"))

	var out bytes.Buffer
	o := handOptions(&out)
	o.Graceful = true
	err = promoteNow(context.Background(), cfg, o)
	if !errors.Is(err, promote.ErrRefused) || !strings.Contains(err.Error(), "without --graceful") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(out.String(), "FAILED in") || strings.Contains(out.String(), "PROMOTING in") {
		t.Fatalf("an outcome printed for a refusal:\n%s", out.String())
	}
	after, _ := os.ReadFile(filepath.Join(stateDir, "orders.json"))
	if !bytes.Equal(before, after) || follower.Stops["orders-1"] != 0 {
		t.Fatal("a refused promotion changed the journal or the follower")
	}
}

// The hooks hear of a promotion by hand as of the daemon's: who started
// it, then its outcome; delivered before drwatch promote returns.
func TestPromoteByHandNotifiesHooks(t *testing.T) {
	cfg, _, _, _ := handPair(t)
	got := filepath.Join(t.TempDir(), "events")
	cfg.Hooks = []config.Hook{{Name: "record", Type: "exec", Command: []string{"/bin/sh", "-c", "cat >> " + got + "; echo >> " + got},
		Events: []string{"promotion_started", "promotion_succeeded"}, Timeout: config.Duration(5 * time.Second)}}
	var out bytes.Buffer
	if err := promoteNow(context.Background(), cfg, handOptions(&out)); err != nil {
		t.Fatalf("promote: %v\n%s", err, out.String())
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	var events []hooks.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev hooks.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		events = append(events, ev)
	}
	if len(events) != 2 || events[0].Event != "promotion_started" || events[0].By != "alice" ||
		events[1].Event != "promotion_succeeded" || events[1].Promotion == nil || events[1].Promotion.By != "alice" {
		t.Fatalf("events: %+v", events)
	}
}

// With ha on, a promotion by hand is refused after the plan is shown and
// before anything is asked or touched: only the lease holder promotes.
func TestPromoteByHandRefusedWithHA(t *testing.T) {
	cfg, _, follower, stateDir := handPair(t)
	cfg.HA.Enabled = true
	var out bytes.Buffer
	o := handOptions(&out)
	o.Confirm = func(string) bool { t.Fatal("asked for confirmation with ha on"); return false }
	err := promoteNow(context.Background(), cfg, o)
	if !errors.Is(err, promote.ErrRefused) || !strings.Contains(err.Error(), "only by the daemon that holds its lease") {
		t.Fatalf("err = %v, want refused for ha", err)
	}
	if !strings.Contains(out.String(), "promotion plan for pair orders") {
		t.Fatalf("the plan was not shown:\n%s", out.String())
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state_dir touched with ha on: %v", err)
	}
	if follower.Stops["orders-1"] != 0 {
		t.Fatal("the follower was stopped with ha on")
	}
}
